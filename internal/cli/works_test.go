package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aura-art/aura/internal/imgtest"
)

func TestWorks(t *testing.T) {
	t.Parallel()
	e := setup(t)
	var ids []string
	for i, creator := range []string{"alice", "alice", "bob"} {
		w := one(t, e.mustRun(0, "register", "--json", "--creator", creator, "--title", "T"+string(rune('0'+i)),
			e.file(filepath.Join("p", string(rune('a'+i))+".jpg"), imgtest.Photo(200, 150, uint64(100+i)))).stdout)
		ids = append(ids, w["id"].(string))
	}

	// list: pages through --after.
	r := e.mustRun(0, "works", "list", "--json", "--limit", "2")
	page := lines(t, r.stdout)
	if len(page) != 2 || !strings.Contains(r.stderr, "--after") {
		t.Fatalf("first page %v, stderr %q", page, r.stderr)
	}
	cursor := strings.TrimSpace(strings.TrimPrefix(r.stderr, "more: --after "))
	rest := lines(t, e.mustRun(0, "works", "list", "--json", "--limit", "2", "--after", cursor).stdout)
	if len(rest) != 1 {
		t.Errorf("second page %v", rest)
	}
	if got := lines(t, e.mustRun(0, "works", "list", "--json", "--creator", "alice").stdout); len(got) != 2 {
		t.Errorf("alice's works %v", got)
	}
	if table := e.mustRun(0, "works", "list").stdout; !strings.HasPrefix(table, "ID") || strings.Count(table, "\n") != 4 {
		t.Errorf("table:\n%s", table)
	}

	// show, with the thumbnail written out.
	thumb := filepath.Join(t.TempDir(), "t.jpg")
	r = e.mustRun(0, "works", "show", ids[0], "--thumbnail", thumb)
	if !strings.Contains(r.stdout, "creator:") || !strings.Contains(r.stdout, ids[0]) {
		t.Errorf("show:\n%s", r.stdout)
	}
	if b, err := os.ReadFile(thumb); err != nil || len(b) < 100 || b[0] != 0xff {
		t.Errorf("thumbnail: %d bytes, %v", len(b), err)
	}

	// export: every work, no thumbnails.
	exported := lines(t, e.mustRun(0, "works", "export").stdout)
	if len(exported) != 3 {
		t.Errorf("exported %d works", len(exported))
	}
	for _, w := range exported {
		if w["thumbnail"] != nil || w["fingerprint"] == nil || w["sha256"] == nil {
			t.Errorf("exported %v", w)
		}
	}

	// disable: a copy of it is clear; enable: flagged again; delete: gone.
	copyPath := e.file("copy.jpg", imgtest.Reencoded(200, 150, 100, 75))
	if r := e.mustRun(0, "works", "disable", ids[0]); r.stdout != "disabled "+ids[0]+"\n" {
		t.Errorf("disable: %q", r.stdout)
	}
	if v := one(t, e.mustRun(0, "check", "--json", "--creator", "bob", copyPath).stdout); v["verdict"] != "clear" {
		t.Errorf("disabled work matched: %v", v)
	}
	if w := one(t, e.mustRun(0, "works", "show", "--json", ids[0]).stdout); w["disabled"] != true {
		t.Errorf("show after disable: %v", w)
	}
	e.mustRun(0, "works", "enable", ids[0])
	if v := one(t, e.mustRun(3, "check", "--json", "--creator", "bob", copyPath).stdout); v["verdict"] != "likely_forgery" {
		t.Errorf("enabled work: %v", v)
	}
	e.mustRun(0, "works", "delete", ids[0])
	e.mustRun(0, "check", "--json", "--creator", "bob", copyPath)

	// Unknown ids: "not found", exit 1.
	for _, sub := range []string{"show", "disable", "enable", "delete"} {
		r := e.mustRun(1, "works", sub, ids[0])
		if !strings.Contains(r.stderr, "not found") {
			t.Errorf("works %s of a deleted work: %q", sub, r.stderr)
		}
	}
	e.mustRun(2, "works")
	e.mustRun(2, "works", "frobnicate")
	e.mustRun(2, "works", "show")
	e.mustRun(0, "works", "help")
}
