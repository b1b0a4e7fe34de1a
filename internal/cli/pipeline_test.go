package cli_test

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aura-art/aura/internal/cli"
	"github.com/aura-art/aura/internal/synth"
	"github.com/aura-art/aura/worker"
)

// background runs aura in a goroutine until the returned stop is called; stop cancels its
// context and returns what it printed and its exit code.
func (e *env) background(args ...string) (out, errOut *syncBuffer, stop func() result) {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out, errOut = &syncBuffer{}, &syncBuffer{}
	done := make(chan int, 1)
	vars := maps.Clone(e.vars)
	std := cli.IO{Stdin: strings.NewReader(""), Stdout: out, Stderr: errOut, Getenv: func(k string) string { return vars[k] }}
	go func() { done <- cli.Main(ctx, args, std) }()
	var res *result
	stop = func() result {
		if res == nil {
			cancel()
			select {
			case code := <-done:
				res = &result{out.String(), errOut.String(), code}
			case <-time.After(time.Minute):
				e.t.Fatalf("aura %s did not stop", strings.Join(args, " "))
			}
		}
		return *res
	}
	e.t.Cleanup(func() { stop() })
	return out, errOut, stop
}

// waitOutput waits until the buffer matches re and returns the first match's groups.
func waitOutput(t *testing.T, b *syncBuffer, re *regexp.Regexp, within time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		if m := re.FindStringSubmatch(b.String()); m != nil {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("no output matching %s within %v; got:\n%s", re, within, b.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestServeDemoAndSubmit(t *testing.T) {
	e := setup(t)
	out, _, stop := e.background("serve", "--demo", "--fixtures", filepath.Join("..", "..", "fixtures"),
		"--listen", "127.0.0.1:0", "--nats-listen", "127.0.0.1:0", "--concurrency", "2", "--log-level", "warn")
	m := waitOutput(t, out, regexp.MustCompile(`on http://(\S+), NATS on (\S+),`), 30*time.Second)
	httpAddr, natsURL := m[1], m[2]
	// Seven demo copies: five of someone else's work, the owner's own, an unrelated one.
	waitOutput(t, out, regexp.MustCompile(`(?s)(demo: (derivative|likely_forgery|own_work|clear) .*){7}`), time.Minute)
	text := out.String()
	for _, want := range []string{"15 fixture works registered", "own_work", "clear", "mirror"} {
		if !strings.Contains(text, want) {
			t.Errorf("demo output lacks %q:\n%s", want, text)
		}
	}

	// A re-encoded fixture, submitted over NATS by someone else: a likely forgery.
	pic := e.file("storm-copy.jpg", mustRead(t, filepath.Join("..", "..", "fixtures", "images", "storm.jpg")))
	clear := e.file("unrelated.jpg", synth.JPEG(320, 240, 77, 90))
	r := e.run("submit", "--nats-url", natsURL, "--json", "--creator", "mallory", pic, clear)
	if r.code != 3 {
		t.Fatalf("submit: exit %d, want 3 (flagged)\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	got := map[string]string{}
	for _, l := range lines(t, r.stdout) {
		got[filepath.Base(l["path"].(string))] = l["verdict"].(string)
	}
	if got["storm-copy.jpg"] != "likely_forgery" || got["unrelated.jpg"] != "clear" {
		t.Errorf("verdicts %v", got)
	}
	// Synchronous check: answered, not published.
	r = e.mustRun(0, "submit", "--nats-url", natsURL, "--sync", "--json", clear)
	if v := one(t, r.stdout); v["verdict"] != "clear" {
		t.Errorf("sync check: %v", v)
	}
	// A dead letter comes back as an error with its reason.
	bad := e.file("bad.jpg", []byte("not an image"))
	r = e.mustRun(1, "submit", "--nats-url", natsURL, "--json", bad)
	if v := one(t, r.stdout); !strings.Contains(v["error"].(string), "dead-lettered:") || !strings.Contains(v["error"].(string), "unsupported image format") {
		t.Errorf("bad submission: %v", v)
	}

	for path, want := range map[string]string{"/livez": `"ok"`, "/readyz": `"worker":"ok"`, "/metrics": "aura_matcher_works 15"} {
		body := httpGet(t, "http://"+httpAddr+path)
		if !strings.Contains(body, want) {
			t.Errorf("%s lacks %q:\n%.2000s", path, want, body)
		}
	}
	metrics := httpGet(t, "http://"+httpAddr+"/metrics")
	for _, want := range []string{"aura_matcher_feed_lag 0", `aura_submissions_total{outcome="ok",verdict="likely_forgery"}`, `aura_dead_letters_total{cause="permanent"} 1`, `aura_stage_duration_seconds_count{stage="check"}`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// The HTTP API is served beside the operations endpoints.
	if body := httpGet(t, "http://"+httpAddr+"/healthz"); !strings.Contains(body, "ok") {
		t.Errorf("/healthz: %s", body)
	}
	// So is the review page, behind the admin login serve made; the flagged verdicts are
	// its open cases.
	review := waitOutput(t, out, regexp.MustCompile(`review page on (http://localhost:\d+/review/)`), time.Second)[1]
	pwPath := waitOutput(t, out, regexp.MustCompile(`log in as admin with the password in (\S+) `), time.Second)[1]
	queue := reviewQueue(t, review, "admin", strings.TrimSpace(string(mustRead(t, pwPath))))
	if n := strings.Count(queue, `href="/review/cases/c_`); n < 6 {
		t.Errorf("the review queue lists %d cases, want the 6 flagged submissions:\n%.3000s", n, queue)
	}
	// The dead letter can be listed, and replayed (it fails again: still not an image).
	dl := one(t, e.mustRun(0, "dlq", "list", "--nats-url", natsURL, "--json").stdout)
	if !strings.Contains(dl["reason"].(string), "unsupported image format") || dl["tenant"] != "cli" {
		t.Errorf("dlq list: %v", dl)
	}
	seq := fmt.Sprint(dl["seq"])
	if r := e.mustRun(0, "dlq", "replay", "--nats-url", natsURL, "--dry-run", "--all"); !strings.Contains(r.stdout, "unsupported image format") {
		t.Errorf("dlq replay --dry-run: %s", r.stdout)
	}
	if r := e.run("dlq", "replay", "--nats-url", natsURL, "999999"); r.code != 1 || !strings.Contains(r.stderr, "no dead letter 999999") {
		t.Errorf("dlq replay of a missing letter: exit %d %s", r.code, r.stderr)
	}
	if r := e.mustRun(0, "dlq", "replay", "--nats-url", natsURL, seq); !strings.Contains(r.stdout, "replayed "+seq) {
		t.Errorf("dlq replay: %s", r.stdout)
	}
	if res := stop(); res.code != 0 {
		t.Errorf("serve: exit %d\n%s", res.code, res.stderr)
	}

	// A restart keeps the registry and the streams.
	out, _, stop = e.background("serve", "--demo", "--fixtures", filepath.Join("..", "..", "fixtures"),
		"--listen", "127.0.0.1:0", "--nats-listen", "127.0.0.1:0", "--concurrency", "2", "--log-level", "warn")
	waitOutput(t, out, regexp.MustCompile(`0 fixture works registered \(15 were already\)`), time.Minute)
	waitOutput(t, out, regexp.MustCompile(`(?s)(demo: (derivative|likely_forgery|own_work|clear) .*){7}`), time.Minute)
	if res := stop(); res.code != 0 {
		t.Errorf("serve again: exit %d\n%s", res.code, res.stderr)
	}
}

// reviewQueue logs in to the review page at base and returns the queue page.
func reviewQueue(t *testing.T, base, user, password string) string {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.PostForm(base+"login", url.Values{"name": {user}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) == 0 {
		t.Fatalf("login: %s, cookies %v", resp.Status, resp.Cookies())
	}
	req, _ := http.NewRequest(http.MethodGet, base, nil)
	for _, c := range resp.Cookies() {
		req.AddCookie(c)
	}
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("queue: %s\n%s", resp.Status, body)
	}
	return string(body)
}

func TestWorkerCommand(t *testing.T) {
	e := setup(t)
	emb, err := worker.StartEmbedded(worker.EmbeddedConfig{
		Listen: "127.0.0.1:0", StoreDir: t.TempDir(), MaxPayload: 8 << 20, ReadyTimeout: 10 * time.Second,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emb.Shutdown)
	work := e.file("work.jpg", synth.JPEG(400, 300, 5, 90))
	e.mustRun(0, "register", "--creator", "alice", "--title", "Sea", work)

	_, logs, stop := e.background("worker", "--nats-url", emb.ClientURL(), "--concurrency", "2", "--listen", "127.0.0.1:0")
	waitOutput(t, logs, regexp.MustCompile(`"msg":"consuming"`), 30*time.Second)
	r := e.mustRun(0, "submit", "--nats-url", emb.ClientURL(), "--json", "--tenant", "shop", "--creator", "alice", "--id", "up-1", work)
	v := one(t, r.stdout)
	if v["verdict"] != "own_work" || v["submission_id"] != "up-1" || v["tenant"] != "shop" {
		t.Errorf("verdict %v", v)
	}
	// The same id again is a duplicate: reported, not waited for.
	r = e.mustRun(1, "submit", "--nats-url", emb.ClientURL(), "--json", "--tenant", "shop", "--id", "up-1", work)
	if v := one(t, r.stdout); v["duplicate"] != true {
		t.Errorf("resubmission: %v", v)
	}

	// A distributed rescan: the worker checks the archive and opens the case; this process
	// only reads files and keeps the journal (the worker holds the embedded store).
	e.file("archive/copy.jpg", mustRead(t, work))
	e.file("archive/sub/other.jpg", synth.JPEG(320, 240, 6, 90))
	e.file("archive/broken.png", []byte("not a png"))
	archive := filepath.Join(e.dir, "archive")
	report := filepath.Join(e.dir, "report.jsonl")
	r = e.mustRun(1, "rescan", "--via-nats", "--nats-url", emb.ClientURL(), "--creator", "mallory", "--quiet", "--report", report, archive)
	got := map[string]map[string]any{}
	for _, l := range lines(t, string(mustRead(t, report))) {
		got[l["id"].(string)] = l
	}
	if c := got["copy.jpg"]; c["verdict"] != "likely_forgery" || c["case_id"] == nil || c["case_id"] == "" {
		t.Errorf("copy.jpg: %v", c)
	}
	if o := got["sub/other.jpg"]; o["verdict"] != "clear" || o["status"] != "ok" {
		t.Errorf("sub/other.jpg: %v", o)
	}
	if b := got["broken.png"]; b["status"] != "error" || !strings.Contains(fmt.Sprint(b["error"]), "image") {
		t.Errorf("broken.png: %v", b)
	}
	if r := e.mustRun(0, "rescan", "--via-nats", "--nats-url", emb.ClientURL(), "--creator", "mallory", "--quiet", archive); !strings.Contains(r.stdout, "nothing to do") {
		t.Errorf("rescan again: %s", r.stdout)
	}
	if res := stop(); res.code != 0 {
		t.Errorf("worker: exit %d\n%s", res.code, res.stderr)
	} else if !strings.Contains(res.stderr, `"msg":"stopped"`) {
		t.Errorf("worker log lacks its stop:\n%s", res.stderr)
	}
}

func TestPipelineUsageErrors(t *testing.T) {
	e := setup(t)
	for _, args := range [][]string{
		{"serve", "--nats-listen", "0.0.0.0:4250"},
		{"serve", "--max-inline-bytes", "20000000"},
		{"submit"},
		{"submit", "--id", "x", "a.jpg", "b.jpg"},
		{"submit", "--tenant", "a.b", "a.jpg"},
		{"worker", "--nats-token", "t", "--nats-user", "u"},
		{"worker", "--concurrency", "0"},
		{"worker", "--backoff", "1s,2s", "--max-deliver", "1"},
	} {
		r := e.run(args...)
		if r.code != 2 {
			t.Errorf("aura %s: exit %d, want 2\n%s", strings.Join(args, " "), r.code, r.stderr)
		}
	}
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
