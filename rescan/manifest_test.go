package rescan_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/aura-art/aura/rescan"
)

// items walks a source into items with their errors as text.
func items(t *testing.T, src rescan.Source) []rescan.Item {
	t.Helper()
	var out []rescan.Item
	if err := src.Walk(context.Background(), func(it rescan.Item) error { out = append(out, it); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// row is an item in a comparable form.
type row struct {
	Line                           int
	ID, Tenant, Creator, Path, URL string
	Err                            string
}

func rows(its []rescan.Item) []row {
	out := make([]row, len(its))
	for i, it := range its {
		out[i] = row{Line: it.Line, ID: it.ID, Tenant: it.Tenant, Creator: it.Creator, Path: it.Path, URL: it.URL}
		if it.Err != nil {
			out[i].Err = it.Err.Error()
		}
	}
	return out
}

// errPrefix keeps the first words of each error, which name the fault.
func errPrefix(rs []row) []row {
	for i := range rs {
		if n := strings.IndexAny(rs[i].Err, ":("); n > 0 {
			rs[i].Err = rs[i].Err[:n]
		}
	}
	return rs
}

func writeManifest(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestJSONLManifest(t *testing.T) {
	t.Parallel()
	p := writeManifest(t, "m.jsonl", strings.Join([]string{
		`{"path": "a.jpg"}`,
		`{"path": "sub/../b.jpg", "id": "B", "tenant": "shop-1", "creator": "bob", "extra": 1}`,
		``,
		`{"url": "https://example.com/c.jpg", "id": 42}`,
		`{"path": "https://example.com/d.jpg"}`,
		`{"path": "/abs/e.png"}`,
		`not json`,
		`{"id": "x"}`,
		`{"path": "a.jpg", "url": "https://example.com/a.jpg"}`,
		`{"url": "ftp://example.com/f.jpg"}`,
		`{"path": "g.jpg", "tenant": "bad tenant"}`,
		`{"path": "h.jpg"} {"path": "i.jpg"}`,
		`["path"]`,
		`{"path": "j.jpg", "id": {"x": 1}}`,
		`{"path": "k.jpg"}`,
	}, "\n")) // no newline at the end
	dir := filepath.Dir(p)
	m, err := rescan.OpenManifest(p)
	if err != nil {
		t.Fatal(err)
	}
	want := []row{
		{Line: 1, ID: "a.jpg", Path: filepath.Join(dir, "a.jpg")},
		{Line: 2, ID: "b.jpg", Tenant: "shop-1", Creator: "bob", Path: filepath.Join(dir, "b.jpg")},
		{Line: 4, ID: "42", URL: "https://example.com/c.jpg"},
		{Line: 5, ID: "https://example.com/d.jpg", URL: "https://example.com/d.jpg"},
		{Line: 6, ID: "/abs/e.png", Path: "/abs/e.png"},
		{Line: 7, Err: "bad JSON"},
		{Line: 8, Err: "path or url is required"},
		{Line: 9, Err: "both path and url given"},
		{Line: 10, Err: "url \"ftp"},
		{Line: 11, Err: "tenant \"bad tenant\""},
		{Line: 12, Err: "bad JSON"},
		{Line: 13, Err: "bad JSON"},
		{Line: 14, Err: "bad JSON"},
		{Line: 15, ID: "k.jpg", Path: filepath.Join(dir, "k.jpg")},
	}
	want[1].ID = "B"
	if diff := cmp.Diff(want, errPrefix(rows(items(t, m)))); diff != "" {
		t.Errorf("items (-want +got):\n%s", diff)
	}
	if n, err := m.Count(context.Background()); n != len(want) || err != nil {
		t.Errorf("Count = %d, %v; want %d", n, err, len(want))
	}
	if len(m.Key()) != 64 {
		t.Errorf("Key = %q", m.Key())
	}
	// The key is the content's: another file with the same lines has it too.
	content, _ := os.ReadFile(p)
	other, err := rescan.OpenManifest(writeManifest(t, "other.jsonl", string(content)))
	if err != nil || other.Key() != m.Key() {
		t.Errorf("key of the same content = %v, %v; want %s", other.Key(), err, m.Key())
	}
}

func TestCSVManifest(t *testing.T) {
	t.Parallel()
	p := writeManifest(t, "m.CSV", "\ufeffID, Path ,creator,notes,URL\r\n"+
		"1,a.jpg,alice,\"x, y\",\r\n"+
		",\"b, c.jpg\",,,\r\n"+
		"3,d.jpg\r\n"+
		"4,\"e.jpg,,,\r\n"+
		"5,,,,https://example.com/f.jpg\r\n"+
		"\r\n"+
		"6,,,,\r\n")
	dir := filepath.Dir(p)
	m, err := rescan.OpenManifest(p)
	if err != nil {
		t.Fatal(err)
	}
	want := []row{
		{Line: 2, ID: "1", Creator: "alice", Path: filepath.Join(dir, "a.jpg")},
		{Line: 3, ID: "b, c.jpg", Path: filepath.Join(dir, "b, c.jpg")},
		{Line: 4, Err: "bad CSV"},
		{Line: 5, Err: "bad CSV"},
		{Line: 6, ID: "5", URL: "https://example.com/f.jpg"},
		{Line: 8, Err: "path or url is required"},
	}
	if diff := cmp.Diff(want, errPrefix(rows(items(t, m)))); diff != "" {
		t.Errorf("items (-want +got):\n%s", diff)
	}

	for _, header := range []string{"id,creator\na,b\n", "path,path\na,b\n", "\"path\n"} {
		m, err := rescan.OpenManifest(writeManifest(t, "h.csv", header))
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Walk(context.Background(), func(rescan.Item) error { return nil }); err == nil || !strings.Contains(err.Error(), "header") {
			t.Errorf("header %q: Walk = %v; want a header error", header, err)
		}
	}
	if _, err := rescan.OpenManifest(writeManifest(t, "m.xml", "")); err == nil {
		t.Error("OpenManifest of a .xml file succeeded")
	}
}

// TestLinesManifest reads stdin's format: paths, URLs, JSON lines and comments.
func TestLinesManifest(t *testing.T) {
	t.Parallel()
	in := "# a comment\n" +
		"a.jpg\n" +
		"  /abs/b.png  \n" +
		"https://example.com/c.jpg\n" +
		"\n" +
		`{"path": "d.jpg", "id": "D"}` + "\n" +
		"{broken\n" +
		strings.Repeat("x", 70<<10) + "\n" +
		"e.jpg"
	dir := t.TempDir()
	m, err := rescan.ReadManifest(strings.NewReader(in), "stdin", rescan.Lines, dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []row{
		{Line: 2, ID: "a.jpg", Path: filepath.Join(dir, "a.jpg")},
		{Line: 3, ID: "/abs/b.png", Path: "/abs/b.png"},
		{Line: 4, ID: "https://example.com/c.jpg", URL: "https://example.com/c.jpg"},
		{Line: 6, ID: "D", Path: filepath.Join(dir, "d.jpg")},
		{Line: 7, Err: "bad JSON"},
		{Line: 8, Err: "line longer than 65536 bytes"},
		{Line: 9, ID: "e.jpg", Path: filepath.Join(dir, "e.jpg")},
	}
	if diff := cmp.Diff(want, errPrefix(rows(items(t, m)))); diff != "" {
		t.Errorf("items (-want +got):\n%s", diff)
	}
	if m.String() != "stdin" {
		t.Errorf("String = %q", m.String())
	}
}

func TestFormatOf(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]rescan.Format{"a.jsonl": rescan.JSONL, "a.NDJSON": rescan.JSONL, "b.csv": rescan.CSV, "c.txt": rescan.Lines, "d.list": rescan.Lines, "e.json": ""} {
		if got, _ := rescan.FormatOf(name); got != want {
			t.Errorf("FormatOf(%q) = %q; want %q", name, got, want)
		}
	}
}
