package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aura-art/aura/internal/imgtest"
	"github.com/aura-art/aura/internal/redistest"
)

func TestRedisStore(t *testing.T) {
	t.Parallel()
	srv := redistest.StartServer(t)
	if _, err := redistest.Do(srv.Addr, "CONFIG", "SET", "requirepass", "s3cret"); err != nil {
		t.Fatal(err)
	}
	e := setup(t)
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.vars["AURA_REDIS_URL"] = "redis://" + srv.Addr + "/0"
	e.vars["AURA_REDIS_PASSWORD_FILE"] = pw
	e.vars["AURA_REDIS_PREFIX"] = "clitest"
	w := one(t, e.mustRun(0, "register", "--json", "--creator", "alice", e.file("a.jpg", imgtest.Photo(300, 200, 1))).stdout)
	if w["status"] != "registered" {
		t.Fatalf("register: %v", w)
	}
	v := one(t, e.mustRun(3, "check", "--json", "--creator", "bob", e.file("b.jpg", imgtest.Mirrored(300, 200, 1))).stdout)
	if v["verdict"] != "derivative" || v["matches"].([]any)[0].(map[string]any)["work_id"] != w["id"] {
		t.Errorf("check: %v", v)
	}
	// Nothing went to the embedded store.
	if _, err := os.Stat(filepath.Join(e.vars["AURA_DATA_DIR"], "aura.db")); err == nil {
		t.Error("aura.db was created although Redis is configured")
	}
	// Another prefix is another registry.
	if got := e.mustRun(0, "works", "list", "--json", "--redis-prefix", "other").stdout; got != "" {
		t.Errorf("other prefix lists %q", got)
	}
	// A wrong password fails clearly.
	e.vars["AURA_REDIS_PASSWORD_FILE"] = ""
	e.vars["AURA_REDIS_PASSWORD"] = "wrong"
	if r := e.mustRun(1, "works", "list"); !strings.Contains(strings.ToLower(r.stderr), "pass") {
		t.Errorf("wrong password: %q", r.stderr)
	}
}

func TestEmbeddedStoreLocked(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.mustRun(0, "works", "list") // creates the store
	// The api command would hold it; so does an open store here.
	unlock := holdStore(t, filepath.Join(e.vars["AURA_DATA_DIR"], "aura.db"))
	defer unlock()
	r := e.mustRun(1, "works", "list", "--lock-timeout", "50ms")
	if !strings.Contains(r.stderr, "in use by another aura process") {
		t.Errorf("stderr %q", r.stderr)
	}
}

func TestDefaultDataDir(t *testing.T) {
	t.Parallel()
	e := setup(t)
	delete(e.vars, "AURA_DATA_DIR")
	xdg := t.TempDir()
	e.vars["XDG_DATA_HOME"] = xdg
	e.mustRun(0, "works", "list")
	if _, err := os.Stat(filepath.Join(xdg, "aura", "aura.db")); err != nil {
		t.Errorf("store not in $XDG_DATA_HOME/aura: %v", err)
	}
	delete(e.vars, "XDG_DATA_HOME")
	e.mustRun(0, "works", "list")
	if _, err := os.Stat(filepath.Join(e.vars["HOME"], ".local", "share", "aura", "aura.db")); err != nil {
		t.Errorf("store not in ~/.local/share/aura: %v", err)
	}
}
