package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/aura-art/aura/index"
	"github.com/aura-art/aura/internal/cli"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// env is an isolated aura installation: a data directory, a directory for pictures and the
// environment the commands see.
type env struct {
	t    *testing.T
	dir  string // pictures
	vars map[string]string
}

func setup(t *testing.T) *env {
	t.Helper()
	return &env{t: t, dir: t.TempDir(), vars: map[string]string{
		"AURA_DATA_DIR": t.TempDir(), "HOME": t.TempDir(), "USER": "tester",
	}}
}

// file writes data to name in the picture directory and returns its path.
func (e *env) file(name string, data []byte) string {
	e.t.Helper()
	p := filepath.Join(e.dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// result is what a command printed and its exit code.
type result struct {
	stdout, stderr string
	code           int
}

// run runs aura with args in-process.
func (e *env) run(args ...string) result {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return e.runCtx(ctx, args...)
}

func (e *env) runCtx(ctx context.Context, args ...string) result {
	var out, errOut syncBuffer
	code := runMain(ctx, e, &out, &errOut, args...)
	return result{out.String(), errOut.String(), code}
}

// runMain runs aura with the env's variables, writing to out and errOut.
func runMain(ctx context.Context, e *env, out, errOut *syncBuffer, args ...string) int {
	vars := maps.Clone(e.vars)
	std := cli.IO{Stdin: strings.NewReader(""), Stdout: out, Stderr: errOut, Getenv: func(k string) string { return vars[k] }}
	return cli.Main(ctx, args, std)
}

// mustRun runs aura and fails the test unless it exits with code.
func (e *env) mustRun(code int, args ...string) result {
	e.t.Helper()
	r := e.run(args...)
	if r.code != code {
		e.t.Fatalf("aura %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, code, r.stdout, r.stderr)
	}
	return r
}

// lines decodes JSON lines into maps.
func lines(t *testing.T, s string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for l := range strings.Lines(s) {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not a JSON line: %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

// one decodes exactly one JSON line.
func one(t *testing.T, s string) map[string]any {
	t.Helper()
	ls := lines(t, s)
	if len(ls) != 1 {
		t.Fatalf("want one JSON line, got %d:\n%s", len(ls), s)
	}
	return ls[0]
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// holdStore opens the embedded store at path, as another process would, until unlock.
func holdStore(t *testing.T, path string) (unlock func()) {
	t.Helper()
	s, err := index.OpenBolt(path, index.DefaultBoltOptions())
	if err != nil {
		t.Fatal(err)
	}
	return func() { _ = s.Close() }
}
