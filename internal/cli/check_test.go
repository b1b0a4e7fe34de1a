package cli_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aura-art/aura/internal/imgtest"
)

// registered sets up a registry with alice's work and returns the env and the work's id.
func registered(t *testing.T) (*env, string) {
	t.Helper()
	e := setup(t)
	w := one(t, e.mustRun(0, "register", "--json", "--creator", "alice", "--creator-name", "Alice", "--title", "Harbour",
		e.file("orig.jpg", imgtest.Photo(480, 360, 1))).stdout)
	return e, w["id"].(string)
}

func TestCheck(t *testing.T) {
	t.Parallel()
	e, id := registered(t)
	copyPath := e.file("copy.jpg", imgtest.Reencoded(480, 360, 1, 70))
	mirrored := e.file("mirrored.jpg", imgtest.Mirrored(480, 360, 1))
	cropped := e.file("cropped.jpg", imgtest.Cropped(480, 360, 1))
	unrelated := e.file("unrelated.jpg", imgtest.Photo(480, 360, 2))
	for _, tc := range []struct {
		name    string
		creator string
		path    string
		want    string
		code    int
	}{
		{"copy", "bob", copyPath, "likely_forgery", 3},
		{"copy unclaimed", "", copyPath, "likely_forgery", 3},
		{"mirrored", "bob", mirrored, "derivative", 3},
		{"cropped", "bob", cropped, "derivative", 3},
		{"own work", "alice", copyPath, "own_work", 0},
		{"own mirrored", "alice", mirrored, "own_work", 0},
		{"unrelated", "bob", unrelated, "clear", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"check", "--json"}
			if tc.creator != "" {
				args = append(args, "--creator", tc.creator)
			}
			v := one(t, e.mustRun(tc.code, append(args, tc.path)...).stdout)
			if v["path"] != tc.path || v["verdict"] != tc.want || v["schema_version"] != 1.0 {
				t.Fatalf("verdict %v, want %s", v, tc.want)
			}
			matches := v["matches"].([]any)
			if tc.want == "clear" {
				if len(matches) != 0 {
					t.Errorf("clear with matches %v", matches)
				}
				return
			}
			m := matches[0].(map[string]any)
			if m["work_id"] != id || m["creator_id"] != "alice" || m["title"] != "Harbour" || m["creator_name"] != "Alice" {
				t.Errorf("best match %v, want work %s", m, id)
			}
		})
	}
}

func TestCheckMany(t *testing.T) {
	t.Parallel()
	e, id := registered(t)
	paths := []string{
		e.file("a/unrelated.jpg", imgtest.Photo(300, 300, 3)),
		e.file("a/mirrored.jpg", imgtest.Mirrored(480, 360, 1)),
		e.file("a/broken.jpg", []byte("not a picture")),
	}
	r := e.mustRun(1, "check", "--json", "--creator", "bob", paths[0], paths[1], paths[2], e.dir+"/missing.jpg")
	ls := lines(t, r.stdout)
	if len(ls) != 4 {
		t.Fatalf("%d lines:\n%s", len(ls), r.stdout)
	}
	if ls[0]["verdict"] != "clear" || ls[1]["verdict"] != "derivative" || ls[2]["error"] == nil || ls[3]["error"] == nil {
		t.Errorf("lines %v", ls)
	}
	if ls[2]["verdict"] != nil {
		t.Errorf("an error line has a verdict: %v", ls[2])
	}

	// Text output names the work.
	r = e.mustRun(3, "check", "--creator", "bob", paths[1])
	if !strings.HasPrefix(r.stdout, "derivative") || !strings.Contains(r.stdout, id) || !strings.Contains(r.stdout, `"Harbour" by Alice (alice)`) {
		t.Errorf("text output %q", r.stdout)
	}
}

func TestCheckURL(t *testing.T) {
	t.Parallel()
	e, id := registered(t)
	pic := imgtest.Reencoded(480, 360, 1, 80)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/copy.jpg" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "image/jpeg")
		_, _ = w.Write(pic)
	}))
	defer srv.Close()

	v := one(t, e.mustRun(3, "check", "--json", "--fetch-allow-loopback", srv.URL+"/copy.jpg").stdout)
	if v["verdict"] != "likely_forgery" || v["matches"].([]any)[0].(map[string]any)["work_id"] != id {
		t.Errorf("verdict %v", v)
	}
	// Without the test switch, loopback is refused; a 404 is an error too.
	for _, u := range []string{srv.URL + "/copy.jpg", "http://169.254.169.254/latest/meta-data/"} {
		v = one(t, e.mustRun(1, "check", "--json", u).stdout)
		if msg, _ := v["error"].(string); !strings.Contains(msg, "forbidden") {
			t.Errorf("%s: %v, want a forbidden URL", u, v)
		}
	}
	v = one(t, e.mustRun(1, "check", "--json", "--fetch-allow-loopback", srv.URL+"/nope.jpg").stdout)
	if msg, _ := v["error"].(string); !strings.Contains(msg, "404") {
		t.Errorf("404: %v", v)
	}
}

func TestCheckEmptyRegistry(t *testing.T) {
	t.Parallel()
	e := setup(t)
	v := one(t, e.mustRun(0, "check", "--json", e.file("a.jpg", imgtest.Photo(200, 200, 4))).stdout)
	if v["verdict"] != "clear" {
		t.Errorf("verdict %v", v)
	}
	e.mustRun(2, "check") // no paths
}
