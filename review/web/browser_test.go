package web_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/aura-art/aura/index"
	"github.com/aura-art/aura/review"
)

const chromiumPath = "/usr/bin/chromium"

// TestBrowserReview drives Chromium through a moderator's round: log in with the form,
// open the first case of the queue with j and Enter, and dismiss it with d. The decision
// must be stored, with its history and its queued event. A screenshot of the case page is
// written to $AURA_ARTIFACTS (or a temporary directory).
//
// The test server is addressed as http://localhost, which browsers treat as a secure
// context, so the session cookie keeps its Secure flag.
func TestBrowserReview(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required on CI: %v", chromiumPath, err)
		}
		t.Skipf("skipping the browser test: %s not found (install Debian's chromium; with CI=true this fails)", chromiumPath)
	}
	if testing.Short() {
		t.Skip("skipping the browser test in -short mode")
	}
	e := setup(t)
	w := e.addWork(t, "ada", "Ada Lovelace", `Sunrise <script>alert("over")</script> the Thames`)
	now := e.clock.Now()
	first := e.addCase(t, caseOpts{subject: "s1", created: now.Add(-2 * time.Hour), works: []*index.Work{w}})
	second := e.addCase(t, caseOpts{subject: "s2", created: now.Add(-time.Hour), works: []*index.Work{w}})

	ts := httptest.NewServer(e.srv)
	t.Cleanup(ts.Close)
	base := strings.Replace(ts.URL, "127.0.0.1", "localhost", 1)

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1100),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	defer cancelTab()

	// until waits until a JavaScript condition holds, evaluating it again across page
	// loads (an evaluation fails while the page navigates).
	until := func(what, cond string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			deadline := time.Now().Add(10 * time.Second)
			for {
				ok, err := chromedp.Evaluate[bool](cond)(ctx, tg)
				if err == nil && ok {
					return nil
				}
				if time.Now().After(deadline) || ctx.Err() != nil {
					loc, _ := chromedp.Location()(ctx, tg)
					return fmt.Errorf("waiting for %s at %s: %v", what, loc, err)
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
	// page waits until the browser shows a loaded page of the kind (its body's data-page).
	page := func(kind string) chromedp.Action[chromedp.Void] {
		return until("the "+kind+" page", fmt.Sprintf(
			`document.readyState === 'complete' && document.body !== null && document.body.dataset.page === %q`, kind))
	}
	step := func(name string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}

	step("open the queue, which asks to log in",
		chromedp.Navigate(base+"/review/"),
		page("login"),
	)
	step("log in",
		chromedp.SendKeys(chromedp.CSS(`input[name="name"]`), "alice"),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), alicePW),
		chromedp.Click(chromedp.CSS(`#login button[type="submit"]`)),
		page("queue"),
	)
	if shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
		saveArtifact(t, "review-queue.png", shot)
	}
	step("? shows the keys, Escape hides them",
		chromedp.KeyEvent("?"),
		until("the help", `!document.getElementById('help').hidden`),
		chromedp.KeyEvent(kb.Escape),
		until("the help to close", `document.getElementById('help').hidden`),
	)
	step("open the first case with j and Enter",
		chromedp.KeyEvent("j"),
		chromedp.KeyEvent(kb.Enter),
		page("case"),
	)
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil || !strings.Contains(loc, "/review/cases/"+first.ID) {
		t.Fatalf("after j, Enter the browser is at %q (%v), want case %s", loc, err, first.ID)
	}
	title, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("work-title")))
	if err != nil || !strings.Contains(title, `<script>alert("over")</script>`) {
		t.Errorf("the work's title shows as %q (%v), want its markup as text", title, err)
	}
	// The work's thumbnail and the difference image loaded (the session cookie went along).
	loaded, err := chromedp.Run(ctx, chromedp.Poll[bool](
		`Array.from(document.querySelectorAll('.compare img')).every(i => i.complete && i.naturalWidth > 0)`,
		chromedp.WithPollingTimeout(5*time.Second)))
	if err != nil || !loaded {
		t.Errorf("the case page's images did not load: %v", err)
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	saveArtifact(t, "review-case-page.png", shot)

	step("dismiss with d, which goes on to the next case",
		chromedp.KeyEvent("d"),
		until("the next case", fmt.Sprintf(`location.pathname.endsWith(%q) && document.readyState === 'complete'`, "/cases/"+second.ID)),
	)
	notice, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("p.notice")))
	if err != nil || !strings.Contains(notice, "is now dismissed (by alice") {
		t.Errorf("notice after deciding: %q (%v)", notice, err)
	}

	// The stylesheet applies under the Content-Security-Policy, and the dashboard renders.
	step("open the dashboard",
		chromedp.Navigate(base+"/review/dashboard"),
		page("dashboard"),
		until("the stylesheet", `getComputedStyle(document.querySelector('svg.chart rect.decided')).fill === 'rgb(85, 168, 104)'`),
	)
	if shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
		saveArtifact(t, "review-dashboard.png", shot)
	}

	sctx := context.Background()
	c, err := e.cases.GetCase(sctx, first.ID)
	if err != nil {
		t.Fatal(err)
	}
	if c.State != review.Dismissed || len(c.History) != 1 || c.History[0].By != "alice" || c.History[0].To != review.Dismissed {
		t.Errorf("case %s, history %+v; want dismissed by alice", c.State, c.History)
	}
	evs, err := e.cases.PendingEvents(sctx, 10)
	if err != nil || len(evs) != 1 || evs[0].CaseID != first.ID || evs[0].Decision.To != review.Dismissed {
		t.Errorf("pending events %+v (%v), want the dismissal of %s", evs, err, first.ID)
	}
	if c2, _ := e.cases.GetCase(sctx, second.ID); c2.State != review.Open {
		t.Errorf("the second case is %s, want it still open", c2.State)
	}
}

// saveArtifact writes a test artefact to $AURA_ARTIFACTS, or to a temporary directory, and
// logs where.
func saveArtifact(t *testing.T, name string, b []byte) {
	t.Helper()
	dir := os.Getenv("AURA_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("artefact: %s", p)
}
