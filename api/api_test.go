package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/aura-art/aura/api"
	"github.com/aura-art/aura/index"
	"github.com/aura-art/aura/internal/imgtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	aliceToken = "alice-token-0123456789"
	adminToken = "admin-token-0123456789"
)

// fixture is an API server over a fresh embedded registry.
type fixture struct {
	t   *testing.T
	srv *httptest.Server
	reg *index.Registry
}

func setup(t *testing.T, change func(*api.Config)) *fixture {
	t.Helper()
	store, err := index.OpenBolt(filepath.Join(t.TempDir(), "aura.db"), index.BoltOptions{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	reg, err := index.NewRegistry(store, index.NewMatcher(), index.DefaultRegistryConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := api.DefaultConfig()
	cfg.Tokens = map[string]string{"alice-app": aliceToken, "admin": adminToken}
	if change != nil {
		change(&cfg)
	}
	srv := httptest.NewServer(api.New(cfg, reg, nil))
	t.Cleanup(srv.Close)
	return &fixture{t: t, srv: srv, reg: reg}
}

// with returns the fixture for a subtest.
func (f *fixture) with(t *testing.T) *fixture {
	c := *f
	c.t = t
	return &c
}

// do sends a request with the token ("" for none) and returns the status and the body.
func (f *fixture) do(method, path, token, contentType string, body io.Reader) (int, []byte, http.Header) {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, f.srv.URL+path, body)
	if err != nil {
		f.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	return resp.StatusCode, b, resp.Header
}

// doJSON sends a request and decodes a JSON answer, failing unless the status is want.
func (f *fixture) doJSON(want int, method, path, token, contentType string, body io.Reader) map[string]any {
	f.t.Helper()
	status, b, h := f.do(method, path, token, contentType, body)
	if status != want {
		f.t.Fatalf("%s %s: status %d, want %d: %s", method, path, status, want, b)
	}
	if ct := h.Get("Content-Type"); ct != "application/json" {
		f.t.Fatalf("%s %s: Content-Type %q", method, path, ct)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		f.t.Fatalf("%s %s: %v: %s", method, path, err, b)
	}
	return m
}

// errorCode returns the code of a JSON error body.
func errorCode(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

// multipartBody builds a registration form.
func multipartBody(t *testing.T, fields map[string]string, file []byte) (string, *bytes.Buffer) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for k, v := range fields {
		if err := mw.WriteField(k, v); err != nil {
			t.Fatal(err)
		}
	}
	if file != nil {
		fw, err := mw.CreateFormFile("file", "work.jpg")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = fw.Write(file)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return mw.FormDataContentType(), &b
}

func TestAuth(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	for _, tc := range []struct{ name, header string }{
		{"missing", ""},
		{"bad token", "Bearer wrong-token-0123456789"},
		{"prefix of a token", "Bearer " + aliceToken[:10]},
		{"token plus more", "Bearer " + aliceToken + "x"},
		{"basic scheme", "Basic " + aliceToken},
		{"bare token", aliceToken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, ep := range []struct{ method, path string }{
				{"GET", "/v1/works"}, {"POST", "/v1/works"}, {"GET", "/v1/works/w_x"}, {"POST", "/v1/check"},
				{"DELETE", "/v1/works/w_x"}, {"GET", "/v1/disputes"}, {"POST", "/v1/works/w_x/disable"},
			} {
				req, _ := http.NewRequest(ep.method, f.srv.URL+ep.path, nil)
				if tc.header != "" {
					req.Header.Set("Authorization", tc.header)
				}
				resp, err := f.srv.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				var m map[string]any
				_ = json.NewDecoder(resp.Body).Decode(&m)
				resp.Body.Close()
				if resp.StatusCode != http.StatusUnauthorized || errorCode(m) != "unauthorized" || resp.Header.Get("WWW-Authenticate") == "" {
					t.Errorf("%s %s: %d %v", ep.method, ep.path, resp.StatusCode, m)
				}
			}
		})
	}
	// A good token, any case of the scheme.
	req, _ := http.NewRequest("GET", f.srv.URL+"/v1/works", nil)
	req.Header.Set("Authorization", "bearer "+adminToken)
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("good token: %d", resp.StatusCode)
	}
	// The OpenAPI document and health need none.
	if status, b, h := f.do("GET", "/v1/openapi.yaml", "", "", nil); status != 200 || !bytes.HasPrefix(b, []byte("openapi: 3")) || h.Get("Content-Type") != "application/yaml" {
		t.Errorf("openapi.yaml: %d %q", status, b[:min(len(b), 20)])
	}
	f.doJSON(200, "GET", "/healthz", "", "", nil)
}

func TestRegisterAndCheck(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	ct, body := multipartBody(t, map[string]string{"creator_id": "alice", "creator_name": "Alice", "title": "Harbour", "year": "2021"}, imgtest.Photo(480, 360, 1))
	res := f.doJSON(201, "POST", "/v1/works", aliceToken, ct, body)
	work := res["work"].(map[string]any)
	id := work["id"].(string)
	if res["status"] != "registered" || work["registered_by"] != "alice-app" || work["title"] != "Harbour" || work["year"] != 2021.0 ||
		work["thumbnail"] != nil || work["thumbnail_url"] != "/v1/works/"+id+"/thumbnail" {
		t.Fatalf("registration %v", res)
	}

	// The same bytes again: 200, exists.
	ct, body = multipartBody(t, map[string]string{"creator_id": "alice"}, imgtest.Photo(480, 360, 1))
	if res := f.doJSON(200, "POST", "/v1/works", aliceToken, ct, body); res["status"] != "exists" || res["work"].(map[string]any)["id"] != id {
		t.Errorf("again: %v", res)
	}

	// A mirrored copy, raw body with metadata in the query: disputed.
	res = f.doJSON(201, "POST", "/v1/works?creator_id=bob&title=Mine", adminToken, "image/jpeg", bytes.NewReader(imgtest.Mirrored(480, 360, 1)))
	d, _ := res["dispute"].(map[string]any)
	if res["status"] != "disputed" || d["existing_work_id"] != id || d["existing_creator_id"] != "alice" {
		t.Errorf("mirrored copy: %v", res)
	}
	disputes := f.doJSON(200, "GET", "/v1/disputes", adminToken, "", nil)["disputes"].([]any)
	if len(disputes) != 1 || disputes[0].(map[string]any)["id"] != d["id"] {
		t.Errorf("disputes %v", disputes)
	}

	// Check a re-encoded copy: likely forgery of alice's work; claimed by alice: own work.
	copyOf := imgtest.Reencoded(480, 360, 1, 70)
	v := f.doJSON(200, "POST", "/v1/check?creator=carol", adminToken, "image/jpeg", bytes.NewReader(copyOf))
	m := v["matches"].([]any)[0].(map[string]any)
	if v["verdict"] != "likely_forgery" || m["work_id"] != id || m["title"] != "Harbour" {
		t.Errorf("check: %v", v)
	}
	if v := f.doJSON(200, "POST", "/v1/check?creator=alice", adminToken, "application/octet-stream", bytes.NewReader(copyOf)); v["verdict"] != "own_work" {
		t.Errorf("own work: %v", v["verdict"])
	}

	// Read it back, its thumbnail, the list.
	if w := f.doJSON(200, "GET", "/v1/works/"+id, adminToken, "", nil); w["creator_name"] != "Alice" {
		t.Errorf("get: %v", w)
	}
	status, thumb, h := f.do("GET", "/v1/works/"+id+"/thumbnail", adminToken, "", nil)
	if status != 200 || h.Get("Content-Type") != "image/jpeg" || len(thumb) < 100 || len(thumb) > index.MaxThumbnailSize {
		t.Errorf("thumbnail: %d %s %d bytes", status, h.Get("Content-Type"), len(thumb))
	}
	list := f.doJSON(200, "GET", "/v1/works?limit=1", adminToken, "", nil)
	if len(list["works"].([]any)) != 1 || list["next"] == nil {
		t.Errorf("list page: %v", list)
	}
	next := list["next"].(string)
	if list := f.doJSON(200, "GET", "/v1/works?limit=1&after="+url.QueryEscape(next), adminToken, "", nil); len(list["works"].([]any)) != 1 || list["next"] != nil {
		t.Errorf("second page: %v", list)
	}
	if list := f.doJSON(200, "GET", "/v1/works?creator=bob", adminToken, "", nil); len(list["works"].([]any)) != 1 {
		t.Errorf("bob's works: %v", list)
	}

	// Disable: the copy is clear; enable: flagged again; delete: gone.
	if w := f.doJSON(200, "POST", "/v1/works/"+id+"/disable", adminToken, "", nil); w["disabled"] != true {
		t.Errorf("disable: %v", w)
	}
	check := func() string {
		return f.doJSON(200, "POST", "/v1/check", adminToken, "image/jpeg", bytes.NewReader(copyOf))["verdict"].(string)
	}
	if v := check(); v != "derivative" && v != "clear" { // bob's mirrored copy may still match
		t.Errorf("after disable: %s", v)
	}
	f.doJSON(200, "POST", "/v1/works/"+id+"/enable", adminToken, "", nil)
	if v := check(); v != "likely_forgery" {
		t.Errorf("after enable: %s", v)
	}
	if status, _, _ := f.do("DELETE", "/v1/works/"+id, adminToken, "", nil); status != http.StatusNoContent {
		t.Errorf("delete: %d", status)
	}
	if res := f.doJSON(404, "GET", "/v1/works/"+id, adminToken, "", nil); errorCode(res) != "not_found" {
		t.Errorf("after delete: %v", res)
	}
}

func TestCheckURL(t *testing.T) {
	t.Parallel()
	pic := imgtest.Photo(320, 240, 5)
	img := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(pic) }))
	defer img.Close()
	f := setup(t, func(c *api.Config) {
		c.Fetch.Timeout, c.Fetch.MaxBytes, c.Fetch.MaxRedirects, c.Fetch.AllowLoopback = 5*time.Second, 1<<20, 3, true
	})
	f.doJSON(201, "POST", "/v1/works?creator_id=alice", adminToken, "image/jpeg", bytes.NewReader(pic))
	v := f.doJSON(200, "POST", "/v1/check", adminToken, "application/json", strings.NewReader(fmt.Sprintf(`{"url":%q,"creator":"bob"}`, img.URL)))
	if v["verdict"] != "likely_forgery" || v["claimed_creator"] != "bob" {
		t.Errorf("check by URL: %v", v)
	}

	// The default fetcher refuses loopback and metadata addresses.
	g := setup(t, nil)
	for _, u := range []string{img.URL, "http://169.254.169.254/latest/meta-data/", "file:///etc/passwd"} {
		res := g.doJSON(422, "POST", "/v1/check", adminToken, "application/json", strings.NewReader(fmt.Sprintf(`{"url":%q}`, u)))
		if errorCode(res) != "forbidden_url" {
			t.Errorf("%s: %v", u, res)
		}
	}
	for _, body := range []string{`{}`, `{"url":`, `{"url":"http://x","extra":1}`} {
		if res := g.doJSON(400, "POST", "/v1/check", adminToken, "application/json", strings.NewReader(body)); errorCode(res) != "bad_request" {
			t.Errorf("%s: %v", body, res)
		}
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	f := setup(t, func(c *api.Config) { c.MaxBytes = 50 << 10 })
	small := imgtest.Photo(64, 64, 6)
	big := bytes.Repeat([]byte{0xff}, 60<<10)
	ctForm, form := multipartBody(t, map[string]string{"creator_id": "alice"}, big)
	ctNoFile, noFile := multipartBody(t, map[string]string{"creator_id": "alice"}, nil)
	ctUnknown, unknown := multipartBody(t, map[string]string{"creator_id": "alice", "license": "MIT"}, small)
	ctNoCreator, noCreator := multipartBody(t, map[string]string{"title": "x"}, small)
	ctBadYear, badYear := multipartBody(t, map[string]string{"creator_id": "alice", "year": "MMXXI"}, small)
	for _, tc := range []struct {
		name, method, path, ct string
		body                   io.Reader
		status                 int
		code                   string
	}{
		{"raw too large", "POST", "/v1/works?creator_id=alice", "image/jpeg", bytes.NewReader(big), 413, "too_large"},
		{"multipart file too large", "POST", "/v1/works", ctForm, form, 413, "too_large"},
		{"check too large", "POST", "/v1/check", "image/jpeg", bytes.NewReader(big), 413, "too_large"},
		{"chunked too large", "POST", "/v1/check", "image/jpeg", io.MultiReader(bytes.NewReader(big)), 413, "too_large"},
		{"no content type", "POST", "/v1/works?creator_id=alice", "", bytes.NewReader(small), 415, "unsupported_media_type"},
		{"text body", "POST", "/v1/check", "text/plain", strings.NewReader("hi"), 415, "unsupported_media_type"},
		{"not an image", "POST", "/v1/check", "image/jpeg", strings.NewReader("hello"), 415, "unsupported_image"},
		{"corrupt image", "POST", "/v1/check", "image/jpeg", bytes.NewReader(small[:300]), 422, "corrupt_image"},
		{"no file part", "POST", "/v1/works", ctNoFile, noFile, 400, "bad_request"},
		{"unknown field", "POST", "/v1/works", ctUnknown, unknown, 400, "bad_request"},
		{"no creator", "POST", "/v1/works", ctNoCreator, noCreator, 400, "bad_request"},
		{"bad year", "POST", "/v1/works", ctBadYear, badYear, 400, "bad_request"},
		{"unknown query parameter", "POST", "/v1/works?creator_id=a&colour=red", "image/jpeg", bytes.NewReader(small), 400, "bad_request"},
		{"bad id", "POST", "/v1/works?creator_id=a&id=no%20spaces", "image/jpeg", bytes.NewReader(small), 400, "invalid"},
		{"bad limit", "GET", "/v1/works?limit=0", "", nil, 400, "bad_request"},
		{"bad cursor", "GET", "/v1/disputes?after=not-a-cursor", "", nil, 400, "invalid"},
		{"unknown work", "GET", "/v1/works/w_nope", "", nil, 404, "not_found"},
		{"unknown thumbnail", "GET", "/v1/works/w_nope/thumbnail", "", nil, 404, "not_found"},
		{"disable unknown", "POST", "/v1/works/w_nope/disable", "", nil, 404, "not_found"},
		{"enable unknown", "POST", "/v1/works/w_nope/enable", "", nil, 404, "not_found"},
		{"delete unknown", "DELETE", "/v1/works/w_nope", "", nil, 404, "not_found"},
		{"unknown endpoint", "GET", "/v2/nothing", "", nil, 404, "not_found"},
		{"wrong method", "PUT", "/v1/works", "", nil, 405, "method_not_allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := f.with(t)
			res := f.doJSON(tc.status, tc.method, tc.path, adminToken, tc.ct, tc.body)
			if errorCode(res) != tc.code {
				t.Errorf("error %v, want code %s", res, tc.code)
			}
			if msg, _ := res["error"].(map[string]any)["message"].(string); msg == "" {
				t.Error("empty message")
			}
		})
	}

	// An id taken by another file: 409.
	f.doJSON(201, "POST", "/v1/works?creator_id=alice&id=w_mine", adminToken, "image/jpeg", bytes.NewReader(small))
	res := f.doJSON(409, "POST", "/v1/works?creator_id=alice&id=w_mine", adminToken, "image/jpeg", bytes.NewReader(imgtest.Photo(64, 64, 7)))
	if errorCode(res) != "conflict" {
		t.Errorf("taken id: %v", res)
	}
}

func TestConfig(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]api.Config{
		"no tokens":   {},
		"short token": {Tokens: map[string]string{"a": "short"}},
		"bad name":    {Tokens: map[string]string{"a b": aliceToken}},
	} {
		if err := cfg.Validate(); err == nil {
			t.Errorf("%s: valid", name)
		} else if strings.Contains(err.Error(), aliceToken) {
			t.Errorf("%s: the error shows the token: %v", name, err)
		}
	}
	toks, err := api.ParseTokens("# tokens\nalice = " + aliceToken + ", admin=" + adminToken + "\n\n")
	if err != nil || len(toks) != 2 || toks["alice"] != aliceToken || toks["admin"] != adminToken {
		t.Errorf("ParseTokens: %v, %v", toks, err)
	}
	for _, bad := range []string{"alice", "=tok", "a=1,a=2"} {
		if _, err := api.ParseTokens(bad); err == nil {
			t.Errorf("ParseTokens(%q) accepted", bad)
		}
	}
}

// TestOpenAPIListsEveryEndpoint keeps the embedded document in step with the routes.
func TestOpenAPIListsEveryEndpoint(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	_, doc, _ := f.do("GET", "/v1/openapi.yaml", "", "", nil)
	documented := map[string]bool{}
	path := ""
	for l := range strings.Lines(string(doc)) {
		l = strings.TrimRight(l, "\n")
		switch {
		case strings.HasPrefix(l, "  /"):
			path = strings.TrimSuffix(strings.TrimSpace(l), ":")
		case path != "" && (l == "    get:" || l == "    post:" || l == "    delete:"):
			documented[strings.ToUpper(strings.TrimSuffix(strings.TrimSpace(l), ":"))+" "+path] = true
		case !strings.HasPrefix(l, " "):
			path = ""
		}
	}
	for _, route := range []string{
		"POST /v1/works", "GET /v1/works", "GET /v1/works/{id}", "DELETE /v1/works/{id}",
		"GET /v1/works/{id}/thumbnail", "POST /v1/works/{id}/disable", "POST /v1/works/{id}/enable",
		"POST /v1/check", "GET /v1/disputes", "GET /v1/openapi.yaml", "GET /healthz",
	} {
		if !documented[route] {
			t.Errorf("%s is not in openapi.yaml", route)
		}
		delete(documented, route)
	}
	for route := range documented {
		t.Errorf("openapi.yaml lists %s, which is not served", route)
	}
}
