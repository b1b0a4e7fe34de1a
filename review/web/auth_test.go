package web_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/aura-art/aura/index"
	"github.com/aura-art/aura/review"
	"github.com/aura-art/aura/review/web"
)

func TestPagesRedirectToLogin(t *testing.T) {
	t.Parallel()
	e := setup(t)
	for _, path := range []string{"/review/", "/review/cases/c_1?m=1", "/review/registry", "/review/dashboard"} {
		rec := e.get(t, path, nil)
		if rec.Code != http.StatusSeeOther {
			t.Fatalf("GET %s: status %d, want 303", path, rec.Code)
		}
		loc, _ := url.Parse(rec.Header().Get("Location"))
		if loc.Path != "/review/login" {
			t.Errorf("GET %s: redirected to %s, want the login page", path, loc)
		}
		if path != "/review/" && loc.Query().Get("next") != path {
			t.Errorf("GET %s: next = %q, want the page", path, loc.Query().Get("next"))
		}
	}
}

func TestImagesNeedSession(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.addWork(t, "ada", "Ada", "Sunrise")
	c := e.addCase(t, caseOpts{subject: "s1", works: []*index.Work{w}})
	paths := []string{caseURL(c) + "/thumb.jpg", caseURL(c) + "/diff.png?m=0", "/review/works/" + w.ID + "/thumb.jpg"}
	for _, p := range paths {
		if rec := e.get(t, p, nil); rec.Code != http.StatusUnauthorized {
			t.Errorf("GET %s without a session: status %d, want 401", p, rec.Code)
		}
	}
	sess := e.login(t, "alice", alicePW)
	for i, p := range paths {
		rec := e.get(t, p, sess)
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s: status %d, want 200: %s", p, rec.Code, rec.Body)
		}
		want := "image/jpeg"
		if i == 1 {
			want = "image/png"
		}
		if got := rec.Header().Get("Content-Type"); got != want {
			t.Errorf("GET %s: content type %q, want %q", p, got, want)
		}
		if cc := rec.Header().Get("Cache-Control"); !strings.HasPrefix(cc, "private") {
			t.Errorf("GET %s: Cache-Control %q, want private", p, cc)
		}
	}
}

func TestLogin(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	h, _ := bcrypt.GenerateFromPassword([]byte("carol-password"), bcrypt.MinCost)
	if err := e.cases.PutUser(ctx, &review.User{Name: "carol", Role: review.Moderator, PasswordHash: h, Disabled: true}); err != nil {
		t.Fatal(err)
	}

	t.Run("wrong password, unknown user and disabled user look alike", func(t *testing.T) {
		bodies := map[string]string{}
		for _, name := range []string{"alice", "nobody", "carol"} {
			pw := "wrong-password"
			if name == "carol" {
				pw = "carol-password" // right, but the account is disabled
			}
			rec := e.post(t, "/review/login", url.Values{"name": {name}, "password": {pw}}, nil)
			if rec.Code != http.StatusUnauthorized {
				t.Fatalf("%s: status %d, want 401", name, rec.Code)
			}
			if len(rec.Result().Cookies()) != 0 {
				t.Errorf("%s: a failed login set a cookie", name)
			}
			b := body(t, rec)
			mustContain(t, b, "Wrong name or password.")
			bodies[name] = strings.ReplaceAll(b, `value="`+name+`"`, `value="NAME"`)
		}
		if bodies["alice"] != bodies["nobody"] || bodies["alice"] != bodies["carol"] {
			t.Error("the answers to a wrong password, an unknown user and a disabled user differ")
		}
	})

	t.Run("success sets a strict, secure, HttpOnly cookie and returns to next", func(t *testing.T) {
		rec := e.post(t, "/review/login", url.Values{"name": {"alice"}, "password": {alicePW}, "next": {"/review/dashboard"}}, nil)
		if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/review/dashboard" {
			t.Fatalf("status %d, location %q; want 303 to /review/dashboard", rec.Code, rec.Header().Get("Location"))
		}
		cs := rec.Result().Cookies()
		if len(cs) != 1 {
			t.Fatalf("%d cookies, want 1", len(cs))
		}
		c := cs[0]
		if !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteStrictMode || c.Path != "/review/" || c.MaxAge != int((12*time.Hour)/time.Second) {
			t.Errorf("cookie %+v: want HttpOnly, Secure, SameSite=Strict, Path=/review/, 12h", c)
		}
		if rec := e.get(t, "/review/", c); rec.Code != http.StatusOK {
			t.Errorf("queue with the new session: status %d", rec.Code)
		}
	})

	t.Run("next may not leave the UI", func(t *testing.T) {
		for _, next := range []string{"https://evil.example/", "//evil.example/review/", "/elsewhere", "/review/\\evil", "/review/logout"} {
			rec := e.post(t, "/review/login", url.Values{"name": {"alice"}, "password": {alicePW}, "next": {next}}, nil)
			if got := rec.Header().Get("Location"); got != "/review/" {
				t.Errorf("next %q: redirected to %q, want /review/", next, got)
			}
		}
	})

	t.Run("a logged-in user skips the form", func(t *testing.T) {
		c := e.login(t, "alice", alicePW)
		if rec := e.get(t, "/review/login", c); rec.Code != http.StatusSeeOther {
			t.Errorf("status %d, want 303", rec.Code)
		}
	})
}

func TestSessionEnds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cases := []struct {
		name string
		end  func(t *testing.T, e *env)
		code string
	}{
		{"expired", func(t *testing.T, e *env) { e.clock.Advance(12*time.Hour + time.Second) }, "expired"},
		{"disabled", func(t *testing.T, e *env) {
			u, _ := e.cases.GetUser(ctx, "alice")
			u.Disabled = true
			if err := e.cases.PutUser(ctx, u); err != nil {
				t.Fatal(err)
			}
		}, "revoked"},
		{"deleted", func(t *testing.T, e *env) {
			if err := e.cases.DeleteUser(ctx, "alice"); err != nil {
				t.Fatal(err)
			}
		}, "revoked"},
		{"password changed", func(t *testing.T, e *env) { e.addUser(t, "alice", "a-new-password", review.Moderator) }, "revoked"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t)
			c := e.login(t, "alice", alicePW)
			if rec := e.get(t, "/review/", c); rec.Code != http.StatusOK {
				t.Fatalf("before: status %d", rec.Code)
			}
			tc.end(t, e)
			rec := e.get(t, "/review/dashboard", c)
			if rec.Code != http.StatusSeeOther {
				t.Fatalf("after: status %d, want 303", rec.Code)
			}
			loc, _ := url.Parse(rec.Header().Get("Location"))
			if loc.Path != "/review/login" || loc.Query().Get("m") != tc.code || loc.Query().Get("next") != "/review/dashboard" {
				t.Errorf("redirected to %s, want the login page with m=%s and next", loc, tc.code)
			}
			// The login page explains.
			page := body(t, e.get(t, loc.String(), nil))
			want := map[string]string{"expired": "Your session has expired", "revoked": "Your session has ended"}[tc.code]
			mustContain(t, page, want)
			// Images answer 401.
			if rec := e.get(t, "/review/works/w_x/thumb.jpg", c); rec.Code != http.StatusUnauthorized {
				t.Errorf("image after the session ended: status %d, want 401", rec.Code)
			}
		})
	}
}

func TestForgedSessionCookie(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := e.login(t, "alice", alicePW)
	parts := strings.Split(c.Value, ".")
	if len(parts) != 3 {
		t.Fatalf("cookie %q: want three parts", c.Value)
	}
	forged := []string{
		"",
		"garbage",
		parts[0] + "." + parts[1] + ".AAAA",
		parts[0] + "." + strings.ToUpper(parts[1][:4]) + parts[1][4:] + "." + parts[2],
	}
	// A cookie signed under another store's key is worthless here.
	other := setup(t)
	forged = append(forged, other.login(t, "alice", alicePW).Value)
	for _, v := range forged {
		rec := e.get(t, "/review/", &http.Cookie{Name: "aura_session", Value: v})
		if rec.Code != http.StatusSeeOther || !strings.HasPrefix(rec.Header().Get("Location"), "/review/login") {
			t.Errorf("cookie %q: status %d to %q, want a redirect to the login page", v, rec.Code, rec.Header().Get("Location"))
		}
	}
}

func TestLogout(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := e.login(t, "alice", alicePW)
	if rec := e.post(t, "/review/logout", url.Values{"csrf": {"forged"}}, c); rec.Code != http.StatusForbidden {
		t.Errorf("logout with a forged token: status %d, want 403", rec.Code)
	}
	rec := e.post(t, "/review/logout", url.Values{"csrf": {e.csrf(t, c)}}, c)
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/review/login?m=out" {
		t.Fatalf("logout: status %d to %q", rec.Code, rec.Header().Get("Location"))
	}
	cs := rec.Result().Cookies()
	if len(cs) != 1 || cs[0].MaxAge >= 0 || cs[0].Value != "" {
		t.Errorf("logout cookies %+v: want the session cookie deleted", cs)
	}
}

func TestHashPassword(t *testing.T) {
	t.Parallel()
	h, err := web.HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if bcrypt.CompareHashAndPassword(h, []byte("correct horse")) != nil {
		t.Error("the hash does not match its password")
	}
	if cost, _ := bcrypt.Cost(h); cost != bcrypt.DefaultCost {
		t.Errorf("cost %d, want %d", cost, bcrypt.DefaultCost)
	}
	for _, pw := range []string{"", "short", strings.Repeat("x", 73)} {
		if _, err := web.HashPassword(pw); !errors.Is(err, web.ErrBadPassword) {
			t.Errorf("HashPassword of %d bytes: %v, want ErrBadPassword", len(pw), err)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	if err := web.DefaultConfig().Validate(); err != nil {
		t.Fatalf("default config: %v", err)
	}
	for name, edit := range map[string]func(*web.Config){
		"prefix":         func(c *web.Config) { c.Prefix = "review" },
		"session_ttl":    func(c *web.Config) { c.SessionTTL = time.Second },
		"max_note_bytes": func(c *web.Config) { c.MaxNoteBytes = review.MaxNoteLen + 1 },
		"page_size":      func(c *web.Config) { c.PageSize = review.MaxPageSize + 1 },
		"thresholds":     func(c *web.Config) { c.Thresholds.Forgery = 0.5 },
	} {
		c := web.DefaultConfig()
		edit(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: Validate() = %v, want an error naming it", name, err)
		}
	}
}
