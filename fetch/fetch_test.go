package fetch_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/aura-art/aura/fetch"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// setup returns a fetcher that may reach loopback, with the given changes to the defaults.
func setup(t *testing.T, change func(*fetch.Config)) *fetch.Fetcher {
	t.Helper()
	cfg := fetch.DefaultConfig()
	cfg.AllowLoopback = true
	if change != nil {
		change(&cfg)
	}
	f, err := fetch.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.CloseIdleConnections)
	return f
}

func server(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestFetch(t *testing.T) {
	t.Parallel()
	body := bytes.Repeat([]byte("x"), 1000)
	var ua string
	s := server(t, func(w http.ResponseWriter, r *http.Request) { ua = r.UserAgent(); _, _ = w.Write(body) })
	got, err := setup(t, nil).Fetch(ctx(t), s.URL+"/a.jpg")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, body) {
		t.Errorf("got %d bytes, want %d", len(got), len(body))
	}
	if ua != "aura-fetch/1" {
		t.Errorf("User-Agent %q", ua)
	}
}

func TestLoopbackRefusedByDefault(t *testing.T) {
	t.Parallel()
	hit := false
	s := server(t, func(http.ResponseWriter, *http.Request) { hit = true })
	f, err := fetch.New(fetch.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer f.CloseIdleConnections()
	for _, u := range []string{s.URL, strings.Replace(s.URL, "127.0.0.1", "localhost", 1)} {
		_, err = f.Fetch(ctx(t), u)
		if !errors.Is(err, fetch.ErrForbidden) {
			t.Errorf("%s: err %v, want ErrForbidden", u, err)
		}
	}
	if hit {
		t.Error("the server was reached")
	}
}

func TestRedirects(t *testing.T) {
	t.Parallel()
	// /r/N redirects to /r/N-1; /r/0 serves the body.
	var s *httptest.Server
	s = server(t, func(w http.ResponseWriter, r *http.Request) {
		var n int
		fmt.Sscanf(r.URL.Path, "/r/%d", &n)
		if n == 0 {
			_, _ = w.Write([]byte("ok"))
			return
		}
		http.Redirect(w, r, fmt.Sprintf("%s/r/%d", s.URL, n-1), http.StatusFound)
	})
	f := setup(t, nil)
	if got, err := f.Fetch(ctx(t), s.URL+"/r/3"); err != nil || string(got) != "ok" {
		t.Errorf("3 redirects: %q, %v", got, err)
	}
	if _, err := f.Fetch(ctx(t), s.URL+"/r/4"); !errors.Is(err, fetch.ErrTooManyRedirects) {
		t.Errorf("4 redirects: err %v, want ErrTooManyRedirects", err)
	}
}

func TestRedirectToForbidden(t *testing.T) {
	t.Parallel()
	for _, target := range []string{"http://169.254.169.254/latest/meta-data/", "file:///etc/passwd", "http://10.0.0.1/"} {
		s := server(t, func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, target, http.StatusFound) })
		_, err := setup(t, nil).Fetch(ctx(t), s.URL)
		if !errors.Is(err, fetch.ErrForbidden) {
			t.Errorf("redirect to %s: err %v, want ErrForbidden", target, err)
		}
	}
}

func TestSizeCap(t *testing.T) {
	t.Parallel()
	big := bytes.Repeat([]byte("x"), 2048)
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
	}{
		{"content-length", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(big) }},
		{"chunked", func(w http.ResponseWriter, _ *http.Request) {
			for i := range big {
				_, _ = w.Write(big[i : i+1])
				if i%512 == 0 {
					w.(http.Flusher).Flush()
				}
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := server(t, tc.handler)
			f := setup(t, func(c *fetch.Config) { c.MaxBytes = 1024 })
			if _, err := f.Fetch(ctx(t), s.URL); !errors.Is(err, fetch.ErrTooLarge) {
				t.Errorf("err %v, want ErrTooLarge", err)
			}
			f = setup(t, func(c *fetch.Config) { c.MaxBytes = 2048 })
			if got, err := f.Fetch(ctx(t), s.URL); err != nil || len(got) != 2048 {
				t.Errorf("at the cap: %d bytes, %v", len(got), err)
			}
		})
	}
}

func TestStatus(t *testing.T) {
	t.Parallel()
	s := server(t, func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "gone", http.StatusNotFound) })
	_, err := setup(t, nil).Fetch(ctx(t), s.URL)
	var se *fetch.StatusError
	if !errors.As(err, &se) || se.Code != 404 || se.Temporary() {
		t.Errorf("err %v, want a permanent StatusError 404", err)
	}
	if (&fetch.StatusError{Code: 503}).Temporary() != true {
		t.Error("503 should be temporary")
	}
}

func TestTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	s := server(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	f := setup(t, func(c *fetch.Config) { c.Timeout = 200 * time.Millisecond })
	start := time.Now()
	if _, err := f.Fetch(ctx(t), s.URL); err == nil {
		t.Fatal("no error from a server that never answers")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v with a 200ms timeout", d)
	}
}

func TestBadURLs(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	for _, u := range []string{"ftp://example.com/a.jpg", "file:///etc/passwd", "/local/path.jpg", "http://", "http://user:pw@example.com/a.jpg", "http://[::1"} {
		if _, err := f.Fetch(ctx(t), u); !errors.Is(err, fetch.ErrForbidden) {
			t.Errorf("%s: err %v, want ErrForbidden", u, err)
		}
	}
}

func TestErrorRedactsQuery(t *testing.T) {
	t.Parallel()
	s := server(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(500) })
	_, err := setup(t, nil).Fetch(ctx(t), s.URL+"/a.jpg?token=secret")
	if err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("err %v: want an error without the query", err)
	}
}

func TestForbidden(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]bool{
		"127.0.0.1": true, "127.8.8.8": true, "::1": true, "10.1.2.3": true, "172.16.0.1": true,
		"192.168.1.1": true, "169.254.169.254": true, "fe80::1": true, "fc00::1": true,
		"fd00:ec2::254": true, "0.0.0.0": true, "::": true, "100.100.100.200": true,
		"224.0.0.1": true, "ff02::1": true, "255.255.255.255": true, "::ffff:127.0.0.1": true,
		"::ffff:169.254.169.254": true, "64:ff9b::a00:1": true, "2002:a00:1::": true,
		"192.0.2.1": true, "198.18.0.1": true,
		"8.8.8.8": false, "1.1.1.1": false, "93.184.216.34": false, "2606:4700:4700::1111": false,
		"172.32.0.1": false, "100.128.0.1": false, "::ffff:8.8.8.8": false,
	} {
		if got := fetch.Forbidden(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Forbidden(%s) = %v, want %v", addr, got, want)
		}
	}
	if !fetch.Forbidden(netip.Addr{}) {
		t.Error("the invalid address should be forbidden")
	}
}

func TestIsURL(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]bool{
		"https://example.com/a.jpg": true, "http://x/y": true, "a.jpg": false, "/tmp/a.jpg": false,
		"ftp://x/y": false, "C:\\pics\\a.jpg": false, "https://": false,
	} {
		if got := fetch.IsURL(s); got != want {
			t.Errorf("IsURL(%q) = %v", s, got)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	if err := fetch.DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	if _, err := fetch.New(fetch.Config{}); err == nil || !strings.Contains(err.Error(), "timeout") {
		t.Errorf("zero config: %v", err)
	}
}

func TestAllowHosts(t *testing.T) {
	t.Parallel()
	hits := 0
	var s *httptest.Server
	s = server(t, func(w http.ResponseWriter, r *http.Request) {
		hits++
		if r.URL.Path == "/away" { // a redirect to a host that is not allowed
			http.Redirect(w, r, strings.Replace(s.URL, "127.0.0.1", "localhost", 1)+"/ok", http.StatusFound)
			return
		}
		_, _ = w.Write([]byte("ok"))
	})
	f := setup(t, func(c *fetch.Config) { c.AllowHosts = []string{"127.0.0.1", ".cdn.example"} })
	if got, err := f.Fetch(ctx(t), s.URL+"/ok"); err != nil || string(got) != "ok" {
		t.Fatalf("allowed host: %q, %v", got, err)
	}
	for _, u := range []string{strings.Replace(s.URL, "127.0.0.1", "localhost", 1) + "/ok", s.URL + "/away"} {
		if _, err := f.Fetch(ctx(t), u); !errors.Is(err, fetch.ErrForbidden) || !strings.Contains(err.Error(), "allowed hosts") {
			t.Errorf("%s: err %v, want ErrForbidden naming the allowed hosts", u, err)
		}
	}
	if hits != 2 { // /ok once, /away once; never the redirect's target
		t.Errorf("the server was reached %d times, want 2", hits)
	}
	for _, bad := range []string{"", "*.example.com", "http://x", "a b"} {
		cfg := fetch.DefaultConfig()
		cfg.AllowHosts = []string{bad}
		if _, err := fetch.New(cfg); err == nil {
			t.Errorf("AllowHosts %q accepted", bad)
		}
	}
}
