package rescan_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/aura-art/aura/rescan"
)

// walk returns the ids a source yields, an error item as "id!".
func walk(t *testing.T, src rescan.Source) []string {
	t.Helper()
	var got []string
	err := src.Walk(context.Background(), func(it rescan.Item) error {
		id := it.ID
		if id == "" {
			id = "line " + itoa(it.Line)
		}
		if it.Err != nil {
			id += "!"
		}
		got = append(got, id)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestDirWalk walks a tree with nested directories, other files, hidden names, symlinks
// (good, broken, to a directory) and unreadable entries.
func TestDirWalk(t *testing.T) {
	t.Parallel()
	f := &fixture{t: t, dir: t.TempDir()}
	f.file("a.jpg", []byte("a"))
	f.file("B.JPEG", []byte("b"))
	f.file("notes.txt", []byte("n"))
	f.file("sub/c.png", []byte("c"))
	f.file("sub/deeper/d.TIFF", []byte("d"))
	f.file("sub/deeper/e.webp", []byte("e"))
	f.file(".hidden/h.jpg", []byte("h"))
	f.file(".h.jpg", []byte("h"))
	locked := f.file("locked.gif", []byte("l"))
	f.file("lockeddir/x.jpg", []byte("x"))
	must(t, os.Symlink(filepath.Join(f.dir, "a.jpg"), filepath.Join(f.dir, "link.jpg")))
	must(t, os.Symlink(filepath.Join(f.dir, "missing.jpg"), filepath.Join(f.dir, "broken.jpg")))
	must(t, os.Symlink(filepath.Join(f.dir, "sub"), filepath.Join(f.dir, "dirlink")))
	must(t, os.Symlink(filepath.Join(f.dir, "sub"), filepath.Join(f.dir, "dirlink.jpg")))
	must(t, os.Chmod(locked, 0o000))
	must(t, os.Chmod(filepath.Join(f.dir, "lockeddir"), 0o000))
	t.Cleanup(func() { _ = os.Chmod(filepath.Join(f.dir, "lockeddir"), 0o755) })
	root := canBypassPermissions(t)

	src, err := rescan.NewDir(f.dir, false)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"B.JPEG", "a.jpg", "broken.jpg!", "link.jpg", "locked.gif", "lockeddir!", "sub/c.png", "sub/deeper/d.TIFF", "sub/deeper/e.webp"}
	if root {
		t.Log("running as root: an unreadable directory is readable; that sub-case is skipped")
		want = slices.Replace(want, 5, 6, "lockeddir/x.jpg")
	}
	sortTop := func(ids []string) []string { // files of one directory come in the file system's order
		slices.Sort(ids)
		return ids
	}
	if diff := cmp.Diff(want, sortTop(walk(t, src))); diff != "" {
		t.Errorf("walk (-want +got):\n%s", diff)
	}
	n, err := src.Count(context.Background())
	if err != nil || n != len(want) {
		t.Errorf("Count = %d, %v; want %d", n, err, len(want))
	}

	all, err := rescan.NewDir(f.dir, true)
	if err != nil {
		t.Fatal(err)
	}
	if got := walk(t, all); !slices.Contains(got, "notes.txt") || len(got) != len(want)+1 {
		t.Errorf("walk with all = %v; want %v and notes.txt", got, want)
	}

	// The item of a file carries its size and time; a symlink its target's.
	_ = src.Walk(context.Background(), func(it rescan.Item) error {
		if it.ID == "link.jpg" && (it.Size != 1 || it.ModTime.IsZero() || it.Path != filepath.Join(f.dir, "link.jpg")) {
			t.Errorf("link.jpg = %+v; want size 1 and a time", it)
		}
		if it.ID == "broken.jpg" && !strings.Contains(it.Err.Error(), "broken symlink") {
			t.Errorf("broken.jpg error = %v", it.Err)
		}
		return nil
	})

	if _, err := rescan.NewDir(filepath.Join(f.dir, "a.jpg"), false); err == nil {
		t.Error("NewDir of a file succeeded")
	}
	// Same root, same key: the state directory does not depend on all.
	if src.Key() != all.Key() || len(src.Key()) != 64 {
		t.Errorf("keys of one root = %q, %q; want one SHA-256", src.Key(), all.Key())
	}
}

// TestDirWalkStops checks that an error from fn stops the walk and is returned.
func TestDirWalkStops(t *testing.T) {
	t.Parallel()
	f := &fixture{t: t, dir: t.TempDir()}
	for _, n := range []string{"a.jpg", "b.jpg", "c/d.jpg"} {
		f.file(n, nil)
	}
	src, err := rescan.NewDir(f.dir, false)
	if err != nil {
		t.Fatal(err)
	}
	stop := errors.New("stop")
	calls := 0
	if err := src.Walk(context.Background(), func(rescan.Item) error { calls++; return stop }); !errors.Is(err, stop) || calls != 1 {
		t.Errorf("Walk = %v after %d calls; want stop after 1", err, calls)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
