package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzReadManifest feeds arbitrary manifests to aura register's reader: it must never
// panic, and every line it accepts must name an existing file and a creator.
func FuzzReadManifest(f *testing.F) {
	for _, seed := range []string{
		`{"path":"a.jpg","creator_id":"alice","title":"Harbour","year":2021}` + "\n",
		`{"path":"a.jpg","creator_id":"alice"}` + "\n" + `{"path":"a.jpg","creator_id":"bob"}` + "\n",
		`{"path":"https://x.example/a.jpg","creator_id":"a"}`,
		`{"path":"missing.jpg","creator_id":"a"}` + "\r\n" + `not json` + "\n\n" + `{"path":"a.jpg"}`,
		`{"path":"a.jpg","creator_id":"a","unknown":1}{"path":"a.jpg"}`,
		`{"path":"a.jpg","creator_id":"a","year":-4}`,
		`{"path":".","creator_id":"a","id":"w1"}` + "\n" + `{"path":"a.jpg","creator_id":"a","id":"w1"}`,
		strings.Repeat("x", 70000),
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, manifest []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "a.jpg"), []byte("jpeg"), 0o644); err != nil {
			t.Fatal(err)
		}
		name := filepath.Join(dir, "manifest.jsonl")
		if err := os.WriteFile(name, manifest, 0o644); err != nil {
			t.Fatal(err)
		}
		items, err := readManifest(name, "fuzz")
		if err != nil {
			return // an unreadable manifest (a line too long) is refused as a whole
		}
		last := 0
		for _, it := range items {
			if it.line <= last {
				t.Fatalf("line %d after line %d", it.line, last)
			}
			last = it.line
			if it.err != nil {
				continue
			}
			if strings.TrimSpace(it.meta.CreatorID) == "" || it.meta.RegisteredBy != "fuzz" {
				t.Fatalf("accepted line %d without a creator: %+v", it.line, it.meta)
			}
			if info, err := os.Stat(it.path); err != nil || info.IsDir() {
				t.Fatalf("accepted line %d naming %q: %v", it.line, it.path, err)
			}
		}
	})
}
