package web_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/aura-art/aura/hashing"
	"github.com/aura-art/aura/index"
	"github.com/aura-art/aura/review"
	"github.com/aura-art/aura/review/web"
	"github.com/aura-art/aura/verdict"
)

// clock is a settable clock for sessions and ages.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is a review UI over a temporary bolt store, with its collaborators.
type env struct {
	srv   *web.Server
	cases *review.BoltStore
	works *index.BoltStore
	clock *clock
	cfg   web.Config
}

// Passwords of the users setup creates.
const (
	alicePW = "alice-password"
	adminPW = "admin-password"
)

// setup returns a UI over a fresh store holding a moderator "alice" and an admin "root".
func setup(t testing.TB, edit ...func(*web.Config)) *env {
	t.Helper()
	st, err := index.OpenBolt(filepath.Join(t.TempDir(), "aura.db"), index.BoltOptions{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	cases, err := review.NewBoltStore(st.DB())
	if err != nil {
		t.Fatal(err)
	}
	e := &env{cases: cases, works: st, clock: &clock{t: time.Now().UTC().Truncate(time.Second)}}
	e.cfg = web.DefaultConfig()
	for _, f := range edit {
		f(&e.cfg)
	}
	e.srv, err = web.New(e.cfg, web.Deps{Cases: cases, Works: st, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	e.addUser(t, "alice", alicePW, review.Moderator)
	e.addUser(t, "root", adminPW, review.Admin)
	return e
}

// addUser stores a user whose password is hashed at bcrypt's lowest cost, for speed.
func (e *env) addUser(t testing.TB, name, pw string, role review.Role) {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.cases.PutUser(context.Background(), &review.User{Name: name, Role: role, PasswordHash: h}); err != nil {
		t.Fatal(err)
	}
}

// serve runs one request through the handler.
func (e *env) serve(req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	e.srv.ServeHTTP(rec, req)
	return rec
}

// get requests path with the session cookie c (nil for none).
func (e *env) get(t testing.TB, path string, c *http.Cookie) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if c != nil {
		req.AddCookie(c)
	}
	return e.serve(req)
}

// post submits a form to path with the session cookie c.
func (e *env) post(t testing.TB, path string, form url.Values, c *http.Cookie) *httptest.ResponseRecorder {
	t.Helper()
	return e.serve(httpPost(path, form, c))
}

// httpPost is a form POST request to path with the session cookie c.
func httpPost(path string, form url.Values, c *http.Cookie) *http.Request {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if c != nil {
		req.AddCookie(c)
	}
	return req
}

// login logs in and returns the session cookie.
func (e *env) login(t testing.TB, name, pw string) *http.Cookie {
	t.Helper()
	rec := e.post(t, "/review/login", url.Values{"name": {name}, "password": {pw}}, nil)
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("login %s: status %d, want 303; body:\n%s", name, rec.Code, rec.Body)
	}
	for _, c := range rec.Result().Cookies() {
		if c.Name == "aura_session" && c.Value != "" {
			return c
		}
	}
	t.Fatalf("login %s: no session cookie", name)
	return nil
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf returns the CSRF token of the session's forms, read from the queue page.
func (e *env) csrf(t testing.TB, c *http.Cookie) string {
	t.Helper()
	rec := e.get(t, "/review/", c)
	m := csrfRE.FindStringSubmatch(rec.Body.String())
	if m == nil {
		t.Fatalf("no csrf token on the queue page (status %d)", rec.Code)
	}
	return m[1]
}

// scene is the test picture at a point of a w×h frame: a diagonal gradient with a bright
// square near the top left, so that turns and crops change it.
func scene(x, y, w, h float64) color.RGBA {
	if x < w/4 && y < h/4 {
		return color.RGBA{255, 255, 255, 255}
	}
	v := uint8((x*255/w + y*255/h) / 2)
	return color.RGBA{v, 255 - v, uint8(x * 255 / w), 255}
}

// encode encodes the picture that px draws, w×h, as a JPEG.
func encode(t testing.TB, w, h int, px func(x, y int) color.RGBA) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetRGBA(x, y, px(x, y))
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Sizes of the work's and the upload's thumbnails.
const workW, workH, uploadW, uploadH = 160, 120, 128, 96

// workJPEG is a registered work's thumbnail.
func workJPEG(t testing.TB) []byte {
	return encode(t, workW, workH, func(x, y int) color.RGBA { return scene(float64(x), float64(y), workW, workH) })
}

// uploadJPEG is the upload of the cases addCase makes: the work's region (10%, 10%, 80%,
// 80%), mirrored, as the cases' matches say.
func uploadJPEG(t testing.TB) []byte {
	return encode(t, uploadW, uploadH, func(u, v int) color.RGBA {
		x := 0.1*workW + (float64(uploadW-1-u)+0.5)*0.8*workW/uploadW
		y := 0.1*workH + (float64(v)+0.5)*0.8*workH/uploadH
		return scene(x, y, workW, workH)
	})
}

func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// addWork registers a work with a thumbnail.
func (e *env) addWork(t testing.TB, creator, name, title string) *index.Work {
	t.Helper()
	w, err := e.works.CreateWork(context.Background(), &index.Work{
		CreatorID: creator, CreatorName: name, Title: title, Year: 1921,
		SourceURL: "https://museum.example/works/1", Licence: "CC BY-NC 4.0", RegisteredBy: "archive-token",
		SHA256: randomHex(t, 32),
		Fingerprint: &hashing.Fingerprint{Version: hashing.FormatVersion, Views: []hashing.View{{
			Variant: hashing.Variant{Region: hashing.Full}, Hashes: hashing.Hashes{P: 1, D: 2, A: 3},
		}}},
		Thumbnail: workJPEG(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// caseOpts shape a case addCase makes.
type caseOpts struct {
	kind    review.Kind
	tenant  string
	subject string
	score   float64
	verdict verdict.Kind
	created time.Time
	claimed string
	works   []*index.Work
}

// addCase opens a case against the works (a mirrored, cropped match of the first).
func (e *env) addCase(t testing.TB, o caseOpts) *review.Case {
	t.Helper()
	if o.kind == "" {
		o.kind = review.Upload
	}
	if o.tenant == "" && o.kind != review.Dispute {
		o.tenant = "shop"
	}
	if o.score == 0 {
		o.score = 0.94
	}
	if o.verdict == "" {
		o.verdict = verdict.Derivative
	}
	if o.claimed == "" {
		o.claimed = "mallory"
	}
	c := &review.Case{
		ID: review.CaseID(o.kind, o.tenant, o.subject), Kind: o.kind, Tenant: o.tenant, SubjectID: o.subject,
		ClaimedCreator: o.claimed, Source: "https://shop.example/u/" + o.subject, Verdict: o.verdict,
		Fingerprint: []byte{1, 2, 3}, Thumbnail: uploadJPEG(t), CreatedAt: o.created,
	}
	for i, w := range o.works {
		m := verdict.Match{
			WorkID: w.ID, CreatorID: w.CreatorID, CreatorName: w.CreatorName, Title: w.Title,
			Score: o.score - float64(i)*0.05, Distances: hashing.Distances{P: 4, D: 6, A: 3},
			Variant: "crop(10,10,80,80)+mirror", Orientation: "mirror", Region: hashing.Region{X: 10, Y: 10, W: 80, H: 80},
			Description: "crop(10,10,80,80)+mirror, score 0.94",
		}
		c.Matches = append(c.Matches, m)
	}
	got, created, err := e.cases.CreateCase(context.Background(), c)
	if err != nil || !created {
		t.Fatalf("create case %s: created %v, %v", c.ID, created, err)
	}
	return got
}

func body(t testing.TB, rec *httptest.ResponseRecorder) string {
	t.Helper()
	b, err := io.ReadAll(rec.Result().Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// mustContain fails unless s holds every want.
func mustContain(t testing.TB, s string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(s, w) {
			t.Errorf("body lacks %q", w)
		}
	}
}

func caseURL(c *review.Case) string { return "/review/cases/" + c.ID }

// fmtV is the decision form's version field.
func fmtV(v int64) string { return fmt.Sprint(v) }
