package cli_test

import (
	"path/filepath"
	"regexp"
	"testing"

	"github.com/aura-art/aura/hashing"
	"github.com/aura-art/aura/index"
	"github.com/aura-art/aura/internal/imgtest"
)

// TestRescanRetro logs past uploads as workers do, registers the work two of them copy, and
// runs "aura rescan --retro": one retro case for the copier, none for the creator's own.
func TestRescanRetro(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.mustRun(0, "register", "--creator", "alice", e.file("work.jpg", imgtest.Photo(400, 300, 31)))
	s, err := index.OpenBolt(filepath.Join(e.vars["AURA_DATA_DIR"], "aura.db"), index.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []struct {
		id, creator string
		data        []byte
	}{
		{"copy", "mallory", imgtest.Reencoded(400, 300, 31, 70)},
		{"own", "alice", imgtest.Mirrored(400, 300, 31)},
		{"other", "bob", imgtest.Photo(400, 300, 32)},
	} {
		img, err := hashing.DefaultConfig().Decode(u.data)
		if err != nil {
			t.Fatal(err)
		}
		rec, _ := index.NewUploadRecord("shop", u.id, u.creator, img.Fingerprint(hashing.Query))
		if err := s.AppendUpload(t.Context(), &rec); err != nil {
			t.Fatal(err)
		}
	}
	_ = s.Close()
	out := e.mustRun(0, "rescan", "--retro").stdout
	if !regexp.MustCompile(`1 works against 3 past uploads .*: 2 matches, 1 retro cases`).MatchString(out) {
		t.Fatalf("rescan --retro: %s", out)
	}
	if r := e.run("rescan", "--retro", "some/dir"); r.code != 2 {
		t.Fatalf("--retro with a SOURCE: exit %d", r.code)
	}
}
