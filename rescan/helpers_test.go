package rescan_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/aura-art/aura/index"
	"github.com/aura-art/aura/internal/imgtest"
	"github.com/aura-art/aura/rescan"
	"github.com/aura-art/aura/review"
	"github.com/aura-art/aura/verdict"
)

func TestMain(m *testing.M) {
	code := m.Run()
	removeCorpus()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// fixture is a registry with one work of alice (imgtest.Photo(320, 240, 1)), its review
// store, a directory for pictures and a state directory.
type fixture struct {
	t      *testing.T
	reg    *index.Registry
	cases  review.Store
	opener *review.Opener
	work   string // the work's id
	dir    string // pictures
	state  string
}

func setup(t *testing.T) *fixture {
	t.Helper()
	bs, err := index.OpenBolt(filepath.Join(t.TempDir(), "aura.db"), index.BoltOptions{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bs.Close() })
	cases, err := review.NewBoltStore(bs.DB())
	if err != nil {
		t.Fatal(err)
	}
	reg, err := index.NewRegistry(bs, index.NewMatcher(), index.DefaultRegistryConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := reg.Register(ctx(t), imgtest.Photo(320, 240, 1), index.WorkMeta{CreatorID: "alice", Title: "Harbour"})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{
		t: t, reg: reg, cases: cases, opener: &review.Opener{Store: cases}, work: res.Work.ID,
		dir: t.TempDir(), state: t.TempDir(),
	}
}

// ctx is a context that ends with the test, at the latest after two minutes.
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

// file writes data to name under the picture directory and returns its path.
func (f *fixture) file(name string, data []byte) string {
	f.t.Helper()
	p := filepath.Join(f.dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		f.t.Fatal(err)
	}
	return p
}

// journal opens the fixture's journal and closes it with the test.
func (f *fixture) journal() *rescan.Journal {
	f.t.Helper()
	j, err := rescan.OpenJournal(f.state)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { _ = j.Close() })
	return j
}

// run rescans src with cfg, a fresh journal and a JSONL report, and returns the summary and
// the report's lines by id (or by "line N" for a line without an id).
func (f *fixture) run(cfg rescan.Config, src rescan.Source, checker rescan.Checker, fetcher rescan.Fetcher) (rescan.Summary, map[string]rescan.Result, error) {
	f.t.Helper()
	j := f.journal()
	reportPath := filepath.Join(f.t.TempDir(), "report.jsonl")
	rep, err := rescan.CreateReport(reportPath)
	if err != nil {
		f.t.Fatal(err)
	}
	if checker == nil {
		checker = f.reg
	}
	r, err := rescan.New(cfg, rescan.Deps{Checker: checker, Cases: f.opener, Fetcher: fetcher, Journal: j, Report: rep})
	if err != nil {
		f.t.Fatal(err)
	}
	sum, runErr := r.Run(ctx(f.t), src)
	if err := rep.Close(); err != nil {
		f.t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		f.t.Fatal(err)
	}
	return sum, readReport(f.t, reportPath), runErr
}

// readReport reads a JSONL report into a map by id ("line N" for a line without one and a
// duplicate line), failing on a repeated key.
func readReport(t *testing.T, path string) map[string]rescan.Result {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	out := map[string]rescan.Result{}
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		var r rescan.Result
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("report line %q: %v", sc.Text(), err)
		}
		k := r.ID
		if k == "" || r.Status == rescan.Skipped && strings.HasPrefix(r.Error, "duplicate of line") {
			k = "line " + itoa(r.Line)
		}
		if _, dup := out[k]; dup {
			t.Fatalf("report has %q twice", k)
		}
		out[k] = r
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// countingChecker counts the checks of each picture (by content) and calls hook, when set,
// before each.
type countingChecker struct {
	rescan.Checker
	mu     sync.Mutex
	n      int
	byData map[string]int
	hook   func(n int)
}

func newCounting(c rescan.Checker) *countingChecker {
	return &countingChecker{Checker: c, byData: map[string]int{}}
}

func (c *countingChecker) Check(ctx context.Context, data []byte, creator string) (verdict.Verdict, error) {
	c.mu.Lock()
	c.n++
	n := c.n
	c.byData[string(data)]++
	hook := c.hook
	c.mu.Unlock()
	if hook != nil {
		hook(n)
	}
	return c.Checker.Check(ctx, data, creator)
}

func (c *countingChecker) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// reset zeroes the counts.
func (c *countingChecker) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n = 0
	clear(c.byData)
}

// canBypassPermissions reports whether this process reads files whatever their mode (root).
func canBypassPermissions(t *testing.T) bool {
	t.Helper()
	p := filepath.Join(t.TempDir(), "probe")
	if err := os.WriteFile(p, []byte("x"), 0o000); err != nil {
		t.Fatal(err)
	}
	_, err := os.ReadFile(p)
	return err == nil
}
