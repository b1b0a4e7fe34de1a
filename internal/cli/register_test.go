package cli_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aura-art/aura/internal/imgtest"
)

func TestRegisterTwice(t *testing.T) {
	t.Parallel()
	e := setup(t)
	pic := e.file("harbour.jpg", imgtest.Photo(400, 300, 1))
	first := one(t, e.mustRun(0, "register", "--json", "--creator", "alice", "--title", "Harbour", "--year", "2021", pic).stdout)
	if first["status"] != "registered" || first["path"] != pic || first["id"] == "" || first["creator_id"] != "alice" {
		t.Fatalf("first: %v", first)
	}
	again := one(t, e.mustRun(0, "register", "--json", "--creator", "alice", pic).stdout)
	if again["status"] != "exists" || again["id"] != first["id"] {
		t.Errorf("again: %v", again)
	}
	// Someone else with the very same file: exists, registered to alice.
	other := one(t, e.mustRun(0, "register", "--json", "--creator", "bob", pic).stdout)
	if other["status"] != "exists" || other["id"] != first["id"] || other["creator_id"] != "alice" {
		t.Errorf("bob: %v", other)
	}

	show := one(t, e.mustRun(0, "works", "show", "--json", first["id"].(string)).stdout)
	if show["title"] != "Harbour" || show["year"] != 2021.0 || show["registered_by"] != "cli:tester" || show["thumbnail"] != nil {
		t.Errorf("works show: %v", show)
	}
}

func TestRegisterMirroredCopyDisputed(t *testing.T) {
	t.Parallel()
	e := setup(t)
	orig := one(t, e.mustRun(0, "register", "--json", "--creator", "alice", e.file("a.jpg", imgtest.Photo(400, 300, 2))).stdout)
	copyPath := e.file("b.jpg", imgtest.Mirrored(400, 300, 2))
	got := one(t, e.mustRun(0, "register", "--json", "--creator", "bob", copyPath).stdout)
	if got["status"] != "disputed" || got["disputed_with"] != orig["id"] || got["disputed_with_creator_id"] != "alice" || got["id"] == orig["id"] {
		t.Errorf("mirrored copy: %v (original %v)", got, orig["id"])
	}
	// Text output says so too.
	r := e.mustRun(0, "register", "--creator", "bob", copyPath)
	if !strings.HasPrefix(r.stdout, "exists") || !strings.Contains(r.stdout, orig["id"].(string)) {
		t.Errorf("text output %q", r.stdout)
	}
}

func TestRegisterDirectory(t *testing.T) {
	t.Parallel()
	e := setup(t)
	for i, name := range []string{"set/one.jpg", "set/sub/two.JPG", "set/three.jpeg"} {
		e.file(name, imgtest.Photo(200, 200, uint64(10+i)))
	}
	e.file("set/notes.txt", []byte("not a picture"))
	e.file("set/.hidden/four.jpg", imgtest.Photo(200, 200, 20))
	r := e.mustRun(0, "register", "--json", "--creator", "alice", filepath.Join(e.dir, "set"))
	var paths []string
	for _, l := range lines(t, r.stdout) {
		if l["status"] != "registered" {
			t.Errorf("line %v", l)
		}
		rel, _ := filepath.Rel(e.dir, l["path"].(string))
		paths = append(paths, rel)
	}
	if want := "set/one.jpg set/sub/two.JPG set/three.jpeg"; strings.Join(paths, " ") != want {
		t.Errorf("registered %v, want %s", paths, want)
	}
}

func TestRegisterErrors(t *testing.T) {
	t.Parallel()
	e := setup(t)
	good := e.file("good.jpg", imgtest.Photo(200, 200, 30))
	bad := e.file("bad.jpg", []byte("this is not a JPEG"))
	r := e.mustRun(1, "register", "--json", "--creator", "alice", bad, filepath.Join(e.dir, "missing.jpg"), good)
	ls := lines(t, r.stdout)
	if len(ls) != 3 || ls[0]["error"] == nil || ls[1]["error"] == nil || ls[2]["status"] != "registered" {
		t.Errorf("lines %v", ls)
	}
	if !strings.Contains(ls[0]["error"].(string), "unsupported image format") {
		t.Errorf("bad image error %q", ls[0]["error"])
	}

	// Usage errors exit 2.
	e.mustRun(2, "register", good)                                                 // no --creator
	e.mustRun(2, "register", "--creator", "alice")                                 // no paths
	e.mustRun(2, "register", "--manifest", "m.jsonl", "--creator", "alice")        // both
	e.mustRun(2, "register", "--creator", "alice", "--threshold-match", "2", good) // bad threshold
}

func TestRegisterManifest(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.file("pics/one.jpg", imgtest.Photo(240, 180, 40))
	e.file("pics/two.jpg", imgtest.Photo(240, 180, 41))
	e.file("pics/three.jpg", imgtest.Photo(240, 180, 42))
	abs := e.file("pics/four.jpg", imgtest.Photo(240, 180, 43))
	manifest := []string{
		`{"path":"pics/one.jpg","creator_id":"alice","creator_name":"Alice","title":"One","year":2020,"source_url":"https://alice.example/one","licence":"CC-BY-4.0"}`, // 1 good
		`{"path":"pics/two.jpg","creator_id":"alice"`,               // 2 bad JSON
		`{"path":"pics/two.jpg","title":"Two"}`,                     // 3 no creator
		`{"path":"pics/one.jpg","creator_id":"alice"}`,              // 4 duplicate path
		`{"path":"pics/missing.jpg","creator_id":"alice"}`,          // 5 missing file
		`{"path":"https://example.com/a.jpg","creator_id":"alice"}`, // 6 URL
		``, // 7 blank: skipped
		`{"id":"w_two","path":"pics/two.jpg","creator_id":"bob"}`,      // 8 good, with id
		`{"id":"w_two","path":"pics/three.jpg","creator_id":"bob"}`,    // 9 duplicate id
		`{"path":"pics/three.jpg","creator_id":"bob","license":"MIT"}`, // 10 unknown field
		`{"creator_id":"bob"}`, // 11 no path
		fmt.Sprintf(`{"path":%q,"creator_id":"carol","year":-5}`, abs), // 12 bad year
		fmt.Sprintf(`{"path":%q,"creator_id":"carol"}`, abs),           // 13 good, absolute
		`{"path":"pics","creator_id":"carol"}`,                         // 14 a directory
	}
	mf := e.file("manifest.jsonl", []byte(strings.Join(manifest, "\n")+"\n"))
	r := e.mustRun(1, "register", "--json", "--manifest", mf)
	byLine := map[int]map[string]any{}
	for _, l := range lines(t, r.stdout) {
		byLine[int(l["line"].(float64))] = l
	}
	wantErr := map[int]string{
		2: "bad JSON", 3: "creator_id is required", 4: "duplicate path", 5: "does not exist",
		6: "is a URL", 9: "duplicate id", 10: "unknown field", 11: "path is required", 12: "year -5",
		14: "is a directory",
	}
	for n, want := range wantErr {
		l := byLine[n]
		if msg, _ := l["error"].(string); !strings.Contains(msg, want) {
			t.Errorf("line %d: %v, want an error with %q", n, l, want)
		}
	}
	for _, n := range []int{1, 8, 13} {
		if l := byLine[n]; l["status"] != "registered" || l["error"] != nil {
			t.Errorf("line %d: %v, want registered", n, l)
		}
	}
	if byLine[8]["id"] != "w_two" {
		t.Errorf("line 8 id %v, want w_two", byLine[8]["id"])
	}
	if len(byLine) != 13 {
		t.Errorf("%d lines of output, want 13 (the blank line is skipped)", len(byLine))
	}

	// The metadata of line 1 is stored.
	w := one(t, e.mustRun(0, "works", "show", "--json", byLine[1]["id"].(string)).stdout)
	for k, v := range map[string]any{"creator_id": "alice", "creator_name": "Alice", "title": "One", "year": 2020.0,
		"source_url": "https://alice.example/one", "licence": "CC-BY-4.0"} {
		if w[k] != v {
			t.Errorf("work %s = %v, want %v", k, w[k], v)
		}
	}

	// Text output: one error line a bad line on stderr, the good ones on stdout.
	r = e.mustRun(1, "register", "--manifest", mf)
	if n := strings.Count(r.stderr, "manifest.jsonl:"); n != len(wantErr) {
		t.Errorf("%d error lines on stderr, want %d:\n%s", n, len(wantErr), r.stderr)
	}
	if n := strings.Count(r.stdout, "exists"); n != 3 {
		t.Errorf("stdout:\n%s", r.stdout)
	}
}

func TestRegisterManifestUnreadable(t *testing.T) {
	t.Parallel()
	e := setup(t)
	r := e.mustRun(1, "register", "--manifest", filepath.Join(e.dir, "nope.jsonl"))
	if !strings.Contains(r.stderr, "no such file") {
		t.Errorf("stderr %q", r.stderr)
	}
	_ = os.Remove
	_ = json.Marshal
}
