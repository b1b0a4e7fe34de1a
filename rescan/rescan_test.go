package rescan_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aura-art/aura/fetch"
	"github.com/aura-art/aura/internal/imgtest"
	"github.com/aura-art/aura/rescan"
	"github.com/aura-art/aura/review"
	"github.com/aura-art/aura/verdict"
)

// TestRunDirectory rescans a tree with copies of alice's work, other pictures and files that
// cannot be checked: every item is reported, the copies open rescan cases, the failures are
// counted and the run completes.
func TestRunDirectory(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.file("copies/reencoded.jpg", imgtest.Reencoded(320, 240, 1, 70))
	f.file("copies/mirrored.JPG", imgtest.Mirrored(320, 240, 1))
	for i := range 3 {
		f.file(fmt.Sprintf("other/%d.jpg", i), imgtest.Photo(200, 150, uint64(100+i)))
	}
	f.file("broken.png", []byte("not a picture"))
	f.file("readme.txt", []byte("not a picture, not an image name"))
	must(t, os.Symlink(filepath.Join(f.dir, "gone.jpg"), filepath.Join(f.dir, "dangling.jpg")))
	locked := f.file("locked.jpg", imgtest.Photo(200, 150, 9))
	must(t, os.Chmod(locked, 0o000))
	root := canBypassPermissions(t)

	src, err := rescan.NewDir(f.dir, false)
	if err != nil {
		t.Fatal(err)
	}
	m := rescan.NewMetrics()
	j := f.journal()
	reportPath := filepath.Join(t.TempDir(), "report.jsonl")
	rep, err := rescan.CreateReport(reportPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg := rescan.DefaultConfig()
	cfg.Tenant = "museum"
	r, err := rescan.New(cfg, rescan.Deps{Checker: f.reg, Cases: f.opener, Journal: j, Report: rep, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := r.Run(ctx(t), src)
	must(t, err)
	must(t, rep.Close())
	got := readReport(t, reportPath)

	wantErrors := 3 // broken.png, dangling.jpg, locked.jpg
	if root {
		t.Log("running as root: an unreadable file is readable; that sub-case is skipped")
		wantErrors = 2
	}
	if sum.Items != 8 || sum.OK != 8-wantErrors || sum.Errors != wantErrors || sum.Skipped != 0 || sum.Flagged() != 2 || sum.Cases != 2 {
		t.Errorf("summary = %+v; want 8 items, %d errors, 2 flagged with cases", sum, wantErrors)
	}
	if len(got) != 8 {
		t.Errorf("report has %d lines; want 8: %v", len(got), got)
	}
	for id, wantErr := range map[string]string{"broken.png": "unsupported image format", "dangling.jpg": "broken symlink"} {
		if r := got[id]; r.Status != rescan.Error || !strings.Contains(r.Error, wantErr) {
			t.Errorf("%s = %+v; want an error with %q", id, r, wantErr)
		}
	}
	if r := got["locked.jpg"]; !root && (r.Status != rescan.Error || !strings.Contains(r.Error, "permission denied")) {
		t.Errorf("locked.jpg = %+v; want permission denied", r)
	}
	for _, id := range []string{"copies/reencoded.jpg", "copies/mirrored.JPG"} {
		r := got[id]
		if r.Status != rescan.OK || !r.Verdict.Flagged() || r.WorkID != f.work || r.Score <= 0 || r.CaseID == "" || r.Tenant != "museum" {
			t.Errorf("%s = %+v; want flagged against %s with a case", id, r, f.work)
			continue
		}
		c, err := f.cases.GetCase(ctx(t), r.CaseID)
		if err != nil {
			t.Fatal(err)
		}
		if c.Kind != review.Rescan || c.Tenant != "museum" || c.SubjectID != id || c.Source != filepath.Join(f.dir, filepath.FromSlash(id)) || len(c.Thumbnail) == 0 {
			t.Errorf("case of %s = kind %s tenant %s subject %s source %s thumbnail %d bytes", id, c.Kind, c.Tenant, c.SubjectID, c.Source, len(c.Thumbnail))
		}
	}
	if r := got["other/0.jpg"]; r.Status != rescan.OK || r.Verdict != verdict.Clear || r.WorkID != "" || r.Millis <= 0 {
		t.Errorf("other/0.jpg = %+v; want clear, with a duration", r)
	}
	if j.Len() != 8 {
		t.Errorf("journal holds %d items; want 8", j.Len())
	}

	// The metrics count the same.
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		fmt.Sprintf(`aura_rescan_items_total{status="ok",verdict="clear"} %d`, 6-wantErrors),
		fmt.Sprintf(`aura_rescan_items_total{status="error",verdict=""} %d`, wantErrors),
		`aura_rescan_item_seconds_count 8`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
}

// TestRunManifest rescans a manifest with good lines, bad lines and URLs that fail: each is
// reported with its line and error, and the run completes.
func TestRunManifest(t *testing.T) {
	t.Parallel()
	f := setup(t)
	copyOf := imgtest.Reencoded(320, 240, 1, 75)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/copy.jpg" {
			_, _ = w.Write(copyOf)
			return
		}
		http.NotFound(w, r)
	}))
	defer srv.Close()
	fc := fetch.DefaultConfig()
	fc.AllowLoopback = true
	fetcher, err := fetch.New(fc)
	if err != nil {
		t.Fatal(err)
	}
	defer fetcher.CloseIdleConnections()

	f.file("own.jpg", imgtest.Photo(320, 240, 1))
	f.file("clear.jpg", imgtest.Photo(200, 150, 5))
	lines := []string{
		`{"path": "own.jpg", "creator": "alice", "id": "own"}`,              // 1: own_work
		`{"path": "clear.jpg", "tenant": "shop"}`,                           // 2: clear
		`{"url": "` + srv.URL + `/copy.jpg", "id": "u1", "creator": "bob"}`, // 3: likely_forgery
		`{"url": "` + srv.URL + `/missing.jpg"}`,                            // 4: 404
		`{"url": "http://10.1.2.3/private.jpg"}`,                            // 5: forbidden
		`{"path": "nowhere.jpg"}`,                                           // 6: no such file
		`{"path": "clear.jpg", "tenant": "shop"}`,                           // 7: duplicate of 2
		`{this is not json`,                                                 // 8
		`{"id": "no-path"}`,                                                 // 9
		`{"path": "clear.jpg", "id": "again"}`,                              // 10: clear, another id
	}
	p := filepath.Join(f.dir, "list.jsonl")
	must(t, os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644))
	src, err := rescan.OpenManifest(p)
	if err != nil {
		t.Fatal(err)
	}
	sum, got, err := f.run(rescan.DefaultConfig(), src, nil, fetcher)
	must(t, err)

	type want struct {
		status  rescan.Status
		verdict verdict.Kind
		err     string
		line    int
	}
	wants := map[string]want{
		"own":                         {rescan.OK, verdict.OwnWork, "", 1},
		"clear.jpg":                   {rescan.OK, verdict.Clear, "", 2},
		"u1":                          {rescan.OK, verdict.LikelyForgery, "", 3},
		srv.URL + "/missing.jpg":      {rescan.Error, "", "status 404", 4},
		"http://10.1.2.3/private.jpg": {rescan.Error, "", "forbidden", 5},
		"nowhere.jpg":                 {rescan.Error, "", "no such file", 6},
		"line 8":                      {rescan.Error, "", "line 8: bad JSON", 8},
		"line 9":                      {rescan.Error, "", "line 9: path or url is required", 9},
		"again":                       {rescan.OK, verdict.Clear, "", 10},
	}
	for id, w := range wants {
		r, ok := got[id]
		if !ok || r.Status != w.status || r.Verdict != w.verdict || !strings.Contains(r.Error, w.err) || r.Line != w.line {
			t.Errorf("%s = %+v; want %+v", id, r, w)
		}
	}
	if r := got["line 7"]; r.Status != rescan.Skipped || r.Error != "duplicate of line 2" || r.ID != "clear.jpg" {
		t.Errorf("line 7 = %+v; want skipped as a duplicate of line 2", r)
	}
	if sum.Items != 10 || sum.OK != 4 || sum.Errors != 5 || sum.Skipped != 1 || sum.Duplicates != 1 || sum.Flagged() != 1 || sum.Cases != 1 {
		t.Errorf("summary = %+v; want 10 items: 4 ok, 5 errors, 1 duplicate, 1 flagged", sum)
	}
	if got["clear.jpg"].Tenant != "shop" || got["own"].Tenant != "archive" {
		t.Errorf("tenants: %q, %q; want shop and the default, archive", got["clear.jpg"].Tenant, got["own"].Tenant)
	}
	page, _, err := f.cases.ListCases(ctx(t), review.Filter{Kind: review.Rescan})
	if err != nil || len(page) != 1 || page[0].SubjectID != "u1" || page[0].ClaimedCreator != "bob" || page[0].Tenant != "archive" {
		t.Errorf("rescan cases = %+v, %v; want u1's", page, err)
	}
}

// TestResume stops a run part way, as an interrupt would, and runs again: no item is
// checked twice, a finished rescan does nothing, changed files are redone, and Force,
// Hash and RetryErrors do what they say.
func TestResume(t *testing.T) {
	t.Parallel()
	f := setup(t)
	const n = 40
	for i := range n {
		f.file(fmt.Sprintf("d%d/%02d.jpg", i%4, i), imgtest.Photo(96, 64, uint64(1000+i)))
	}
	bad := f.file("d0/bad.jpg", []byte("junk"))
	src, err := rescan.NewDir(f.dir, false)
	if err != nil {
		t.Fatal(err)
	}
	checker := newCounting(f.reg)
	cfg := rescan.DefaultConfig()
	cfg.Concurrency = 3

	// First run: interrupted after 15 checks began.
	runCtx, cancel := context.WithCancel(ctx(t))
	checker.hook = func(n int) {
		if n == 15 {
			cancel()
		}
	}
	j := f.journal()
	r, err := rescan.New(cfg, rescan.Deps{Checker: checker, Journal: j})
	if err != nil {
		t.Fatal(err)
	}
	sum1, err := r.Run(runCtx, src)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run = %v; want context.Canceled", err)
	}
	first := checker.count()
	must(t, j.Close())
	if sum1.Items != j.Len() || first < 15 || first > 15+cfg.Concurrency {
		t.Errorf("interrupted run: %d checks, summary %+v, journal %d", first, sum1, j.Len())
	}
	checker.hook = nil

	// Second run: the rest, each once.
	checker.reset()
	sum2, rep2, err := f.run(cfg, src, checker, nil)
	must(t, err)
	if total := first + checker.count(); total != n+1 {
		t.Errorf("%d + %d checks over two runs; want %d, each item once", first, checker.count(), n+1)
	}
	for data, k := range checker.byData {
		if k != 1 {
			t.Errorf("a picture of %d bytes was checked %d times in the second run", len(data), k)
		}
	}
	if sum2.Items != n+1 || sum2.Skipped != sum1.Items || len(rep2) != n+1 {
		t.Errorf("second run: summary %+v, report of %d; want %d items, %d skipped", sum2, len(rep2), n+1, sum1.Items)
	}
	for id, r := range rep2 {
		if r.Status == rescan.Skipped && r.Verdict == "" && r.Error == "" {
			t.Errorf("skipped %s lacks its earlier result: %+v", id, r)
		}
	}

	// Third run: nothing to do; the report still lists every item, with its verdict.
	checker.reset()
	sum3, rep3, err := f.run(cfg, src, checker, nil)
	must(t, err)
	if checker.count() != 0 || !sum3.NothingToDo() || sum3.Earlier != n+1 || sum3.EarlierErrors != 1 || len(rep3) != n+1 {
		t.Errorf("finished run again: %d checks, summary %+v, report of %d", checker.count(), sum3, len(rep3))
	}
	if r := rep3["d0/bad.jpg"]; r.Status != rescan.Skipped || !strings.Contains(r.Error, "unsupported") {
		t.Errorf("bad.jpg skipped as %+v; want its earlier error", r)
	}
	if r := rep3["d1/01.jpg"]; r.Status != rescan.Skipped || r.Verdict != verdict.Clear {
		t.Errorf("01.jpg skipped as %+v; want its earlier verdict", r)
	}

	// A changed file is redone; a touched one too, by size and time.
	f.file("d2/02.jpg", imgtest.Photo(96, 64, 7))
	touched := filepath.Join(f.dir, "d3/03.jpg")
	later := time.Now().Add(time.Hour)
	must(t, os.Chtimes(touched, later, later))
	checker.reset()
	sum4, _, err := f.run(cfg, src, checker, nil)
	must(t, err)
	if checker.count() != 2 || sum4.OK != 2 {
		t.Errorf("after a change and a touch: %d checks, %+v; want 2", checker.count(), sum4)
	}

	// By content hash: the touched file, which the journal has no hash of, is redone by its
	// time and gets its hash; touched again, it is unchanged, and the journal takes its new
	// time, so a run by size and time skips it as well.
	later = later.Add(time.Hour)
	must(t, os.Chtimes(touched, later, later))
	cfg.Hash = true
	checker.reset()
	if _, _, err := f.run(cfg, src, checker, nil); err != nil || checker.count() != 1 {
		t.Errorf("Hash after a touch: %d checks, %v; want 1", checker.count(), err)
	}
	later = later.Add(time.Hour)
	must(t, os.Chtimes(touched, later, later))
	checker.reset()
	if _, rep, err := f.run(cfg, src, checker, nil); err != nil || checker.count() != 0 || rep["d3/03.jpg"].Status != rescan.Skipped {
		t.Errorf("Hash after another touch: %d checks, %v; want none", checker.count(), err)
	}
	cfg.Hash = false
	if _, _, err := f.run(cfg, src, checker, nil); err != nil || checker.count() != 0 {
		t.Errorf("after Hash: %d checks, %v; want none", checker.count(), err)
	}

	// RetryErrors redoes the failed item only.
	must(t, os.WriteFile(bad, imgtest.Photo(96, 64, 77), 0o644))
	must(t, os.Chtimes(bad, time.Unix(1, 0), time.Unix(1, 0))) // the time does not matter
	cfg.RetryErrors = true
	checker.reset()
	sumR, _, err := f.run(cfg, src, checker, nil)
	if err != nil || checker.count() != 1 || sumR.OK != 1 {
		t.Errorf("RetryErrors: %d checks, %+v, %v; want 1", checker.count(), sumR, err)
	}
	cfg.RetryErrors = false

	// Force redoes everything.
	checker.reset()
	cfg.Force = true
	sum5, _, err := f.run(cfg, src, checker, nil)
	must(t, err)
	if checker.count() != n+1 || sum5.OK != n+1 || sum5.Skipped != 0 {
		t.Errorf("Force: %d checks, %+v; want %d", checker.count(), sum5, n+1)
	}
}

// TestHundredThousandFiles rescans one directory of 100,000 empty .png files: the walk
// streams (the first check comes long before the walk ends), every file is an error (an
// empty picture), and the run completes with each in the report and the journal.
func TestHundredThousandFiles(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 100,000 files")
	}
	t.Parallel()
	f := setup(t)
	const n = 100_000
	for i := range n {
		must(t, os.WriteFile(filepath.Join(f.dir, fmt.Sprintf("%06d.png", i)), nil, 0o644))
	}
	src, err := rescan.NewDir(f.dir, false)
	if err != nil {
		t.Fatal(err)
	}
	counted := &countingSource{Source: src}
	checker := newCounting(f.reg)
	var walkedAtFirst atomic.Int64
	checker.hook = func(k int) {
		if k == 1 {
			walkedAtFirst.Store(counted.n.Load())
		}
	}
	start := time.Now()
	sum, rep, err := f.run(rescan.DefaultConfig(), counted, checker, nil)
	must(t, err)
	t.Logf("%d files in %v (%.0f items/s); %d walked at the first check", n, time.Since(start).Round(time.Millisecond), sum.Rate(), walkedAtFirst.Load())
	if sum.Items != n || sum.Errors != n || len(rep) != n || checker.count() != n {
		t.Errorf("summary %+v, report of %d, %d checks; want %d errors", sum, len(rep), checker.count(), n)
	}
	if r := rep["099999.png"]; r.Status != rescan.Error || !strings.Contains(r.Error, "empty") {
		t.Errorf("099999.png = %+v; want an error for an empty picture", r)
	}
	if w := walkedAtFirst.Load(); w < 1 || w > 1000 {
		t.Errorf("%d items walked before the first check; want the walk to stream (at most 1000)", w)
	}
	j := f.journal()
	if j.Len() != n {
		t.Errorf("journal holds %d items; want %d", j.Len(), n)
	}
}

// countingSource counts the items its Source yields.
type countingSource struct {
	rescan.Source
	n atomic.Int64
}

func (s *countingSource) Walk(ctx context.Context, fn func(rescan.Item) error) error {
	return s.Source.Walk(ctx, func(it rescan.Item) error { s.n.Add(1); return fn(it) })
}

// TestRunStopsOnReportError fails the report's writer: the run stops with the error.
func TestRunStopsOnReportError(t *testing.T) {
	t.Parallel()
	f := setup(t)
	for i := range 50 {
		f.file(fmt.Sprintf("%d.jpg", i), imgtest.Photo(64, 48, uint64(i)))
	}
	src, err := rescan.NewDir(f.dir, false)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := rescan.NewReport(failingWriter{}, false)
	if err != nil {
		t.Fatal(err)
	}
	r, err := rescan.New(rescan.DefaultConfig(), rescan.Deps{Checker: f.reg, Report: rep})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Run(ctx(t), src); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("Run = %v; want the report's error", err)
	}
}

type failingWriter struct{}

// TestRunPanicBecomesError has a checker panic on one picture: that item fails with the
// panic, the others are checked.
func TestRunPanicBecomesError(t *testing.T) {
	t.Parallel()
	f := setup(t)
	for i := range 5 {
		f.file(fmt.Sprintf("%d.jpg", i), imgtest.Photo(64, 48, uint64(i)))
	}
	bomb := imgtest.Photo(64, 48, 99)
	f.file("bomb.jpg", bomb)
	src, err := rescan.NewDir(f.dir, false)
	if err != nil {
		t.Fatal(err)
	}
	sum, rep, err := f.run(rescan.DefaultConfig(), src, panicky{f.reg, string(bomb)}, nil)
	must(t, err)
	if sum.OK != 5 || sum.Errors != 1 || !strings.Contains(rep["bomb.jpg"].Error, "panic: boom") {
		t.Errorf("summary %+v, bomb.jpg %+v; want 5 ok and the panic as bomb.jpg's error", sum, rep["bomb.jpg"])
	}
}

// panicky panics on one picture.
type panicky struct {
	rescan.Checker
	bomb string
}

func (p panicky) Check(ctx context.Context, data []byte, creator string) (verdict.Verdict, error) {
	if string(data) == p.bomb {
		panic("boom")
	}
	return p.Checker.Check(ctx, data, creator)
}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	if err := rescan.DefaultConfig().Validate(); err != nil {
		t.Errorf("DefaultConfig: %v", err)
	}
	for name, mod := range map[string]func(*rescan.Config){
		"tenant":           func(c *rescan.Config) { c.Tenant = "a b" },
		"concurrency":      func(c *rescan.Config) { c.Concurrency = 0 },
		"rate":             func(c *rescan.Config) { c.Rate = -1 },
		"max_bytes":        func(c *rescan.Config) { c.MaxBytes = 0 },
		"shutdown_timeout": func(c *rescan.Config) { c.ShutdownTimeout = -time.Second },
	} {
		c := rescan.DefaultConfig()
		mod(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: Validate = %v; want an error naming it", name, err)
		}
	}
	if _, err := rescan.New(rescan.DefaultConfig(), rescan.Deps{}); err == nil {
		t.Error("New without a checker succeeded")
	}
}
