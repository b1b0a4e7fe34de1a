package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/aura-art/aura/index"
	"github.com/aura-art/aura/internal/httpx"
	"github.com/aura-art/aura/review"
)

//go:embed templates/*.html static/*
var assets embed.FS

// WorkStore is what the UI reads of the registry. *index.BoltStore and *index.RedisStore
// implement it (any index.Store does).
type WorkStore interface {
	// GetWork returns a work with its thumbnail, or an error wrapping index.ErrNotFound.
	GetWork(ctx context.Context, id string) (*index.Work, error)
	// ListWorks returns a page of works in id order, without thumbnails.
	ListWorks(ctx context.Context, opt index.ListOptions) ([]*index.Work, string, error)
}

var _ WorkStore = (index.Store)(nil)

// Deps are the UI's collaborators.
type Deps struct {
	// Cases holds the cases, decisions, users and the session key; required.
	Cases review.Store
	// Works is the registry; required.
	Works WorkStore
	// Log receives logins, decisions and failures; nil logs nothing.
	Log *zap.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Server is the moderators' review UI: the queue, the case pages with their decisions, the
// registry search and the dashboard, behind a login. It is an http.Handler for the paths
// under Config.Prefix; mount it with mux.Handle(cfg.Prefix, srv). It is safe for concurrent
// use.
//
// Routes, below the prefix P (default "/review/"):
//
//	GET  P                      the queue; filters as query parameters (state, tenant, kind,
//	                            verdict, min, age, after)
//	GET  P login, POST P login  the login form; POST P logout
//	GET  P cases/{id}           a case (?m=N shows candidate N)
//	POST P cases/{id}/decide    a decision (form: csrf, version, to, note)
//	GET  P cases/{id}/thumb.jpg the upload's thumbnail
//	GET  P cases/{id}/diff.png  |upload − work| of candidate ?m=N
//	GET  P works/{id}/thumb.jpg a registered work's thumbnail
//	GET  P registry             works by creator (?creator=) or title (?q=)
//	GET  P dashboard            numbers of the queue
//	GET  P static/{file}        the stylesheet and script (no login needed)
//
// Every page and image but the login page and the static files needs a session: pages
// redirect to the login page, images answer 401. Every POST carries the session's CSRF
// token and passes net/http.CrossOriginProtection.
type Server struct {
	cfg     Config
	cases   review.Store
	works   WorkStore
	log     *zap.Logger
	now     func() time.Time
	keys    keys
	pages   map[string]*template.Template
	static  map[string]staticFile
	handler http.Handler
}

type staticFile struct {
	body  []byte
	ctype string
	etag  string
}

// New returns the UI over its stores. It reads the session key from deps.Cases once (every
// replica on the same store shares it). It fails on an invalid config, a missing store or
// when the session key cannot be read.
func New(cfg Config, deps Deps) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if deps.Cases == nil || deps.Works == nil {
		return nil, errors.New("review/web: deps: Cases and Works are required")
	}
	s := &Server{cfg: cfg, cases: deps.Cases, works: deps.Works, log: deps.Log, now: deps.Now}
	if s.log == nil {
		s.log = zap.NewNop()
	}
	s.log = s.log.Named("review_web")
	if s.now == nil {
		s.now = time.Now
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	secret, err := deps.Cases.SessionKey(ctx)
	if err != nil {
		return nil, fmt.Errorf("review/web: session key: %w", err)
	}
	if len(secret) < 16 {
		return nil, fmt.Errorf("review/web: session key of %d bytes: want at least 16", len(secret))
	}
	s.keys = deriveKeys(secret)
	dummyHash() // now, so that the first failed login takes no longer than the others
	if err := s.loadAssets(); err != nil {
		return nil, err
	}

	p := cfg.Prefix
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+p+"{$}", s.page(s.queue))
	mux.HandleFunc("GET "+p+"login", s.loginForm)
	mux.HandleFunc("POST "+p+"login", s.login)
	mux.HandleFunc("POST "+p+"logout", s.logout)
	mux.HandleFunc("GET "+p+"cases/{id}", s.page(s.casePage))
	mux.HandleFunc("POST "+p+"cases/{id}/decide", s.page(s.decide))
	mux.HandleFunc("GET "+p+"cases/{id}/thumb.jpg", s.image(s.caseThumb))
	mux.HandleFunc("GET "+p+"cases/{id}/diff.png", s.image(s.diffImage))
	mux.HandleFunc("GET "+p+"works/{id}/thumb.jpg", s.image(s.workThumb))
	mux.HandleFunc("GET "+p+"registry", s.page(s.registry))
	mux.HandleFunc("GET "+p+"dashboard", s.page(s.dashboard))
	mux.HandleFunc("GET "+p+"static/{file}", s.serveStatic)
	mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, nil, &httpError{status: http.StatusNotFound, title: "Not found", msg: "There is no page at this address."})
	})
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.log.Warn("cross-origin request refused", zap.String("method", r.Method), zap.String("path", r.URL.Path),
			zap.String("origin", r.Header.Get("Origin")))
		s.fail(w, r, nil, &httpError{status: http.StatusForbidden, title: "Cross-origin request refused",
			msg: "This form was sent from another site, so nothing was changed."})
	}))
	s.handler = cop.Handler(mux)
	return s, nil
}

// contentSecurityPolicy allows nothing but this origin's stylesheet, script, images and
// forms: no inline script or style, no frames.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// ServeHTTP serves the UI. A handler's panic becomes a 500 page and is logged.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	httpx.Serve(w, r, s.handler, s.log, func(w http.ResponseWriter) {
		http.Error(w, "internal error", http.StatusInternalServerError)
	})
}

// handlerFunc is a page or image handler of a logged-in user. A returned error is written as
// an error page (or, for images, as plain text) with the status that fits it.
type handlerFunc func(w http.ResponseWriter, r *http.Request, sess *session) error

// page wraps a page handler: without a session the browser goes to the login page, and
// returns here after it.
func (s *Server) page(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess, err := s.authenticate(r)
		if err != nil {
			s.noSession(w, r, err)
			return
		}
		if err := h(w, r, sess); err != nil {
			s.fail(w, r, sess, err)
		}
	}
}

// noSession sends a request without a valid session to the login page.
func (s *Server) noSession(w http.ResponseWriter, r *http.Request, err error) {
	code := ""
	switch {
	case errors.Is(err, errExpired):
		code = "expired"
	case errors.Is(err, errRevoked):
		code = "revoked"
	case !errors.Is(err, errNoSession):
		s.fail(w, r, nil, err)
		return
	}
	if code != "" {
		http.SetCookie(w, s.sessionCookie("", -1))
	}
	next := r.URL.RequestURI()
	if r.Method != http.MethodGet {
		// Do not replay a form after the login; return to the page it was on.
		next = strings.TrimSuffix(r.URL.Path, "/decide")
	}
	http.Redirect(w, r, s.loginURL(s.safeNext(next), code), http.StatusSeeOther)
}

// image wraps an image handler: without a session it answers 401.
func (s *Server) image(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'none'; sandbox")
		sess, err := s.authenticate(r)
		if err != nil {
			if errors.Is(err, errNoSession) || errors.Is(err, errExpired) || errors.Is(err, errRevoked) {
				http.Error(w, "log in to see images", http.StatusUnauthorized)
				return
			}
			s.log.Error("authenticate failed", zap.String("path", r.URL.Path), zap.Error(err))
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		if err := h(w, r, sess); err != nil {
			var he *httpError
			switch {
			case errors.As(err, &he):
				http.Error(w, he.msg, he.status)
			case errors.Is(err, review.ErrNotFound), errors.Is(err, index.ErrNotFound):
				http.Error(w, "not found", http.StatusNotFound)
			case r.Context().Err() != nil:
			default:
				s.log.Error("image failed", zap.String("path", r.URL.Path), zap.Error(err))
				http.Error(w, "internal error", http.StatusInternalServerError)
			}
		}
	}
}

// httpError is an error the user is shown, with its status.
type httpError struct {
	status     int
	title, msg string
}

func (e *httpError) Error() string { return e.title + ": " + e.msg }

var errCSRF = &httpError{
	status: http.StatusForbidden, title: "Form expired or forged",
	msg: "This form did not carry this session's security token, so nothing was changed. Reload the page and try again.",
}

type errorPage struct {
	base
	Status int
	Head   string
	Msg    string
}

// fail writes err as an error page. Errors other than httpError and not-found are logged and
// shown as a 500 that does not reveal them.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, sess *session, err error) {
	var he *httpError
	switch {
	case errors.As(err, &he):
	case errors.Is(err, review.ErrNotFound):
		he = &httpError{status: http.StatusNotFound, title: "No such case", msg: "There is no case " + r.PathValue("id") + "."}
	case errors.Is(err, index.ErrNotFound):
		he = &httpError{status: http.StatusNotFound, title: "Not found", msg: "There is no such work."}
	case r.Context().Err() != nil:
		return // the client went away
	default:
		s.log.Error("request failed", zap.String("method", r.Method), zap.String("path", r.URL.Path), zap.Error(err))
		he = &httpError{status: http.StatusInternalServerError, title: "Something went wrong", msg: "The server could not answer. Try again; if it persists, tell an operator."}
	}
	s.render(w, r, he.status, "error", &errorPage{base: s.base(r, sess, he.title, "error"), Status: he.status, Head: he.title, Msg: he.msg})
}

// base is what every page's template reads.
type base struct {
	Title  string
	Page   string // the body's data-page, which the script keys on
	Prefix string
	User   *session
	// Notice and Error are banners.
	Notice, Error string
	// Help lists the page's keys, shown by "?".
	Help [][2]string
}

func (s *Server) base(_ *http.Request, sess *session, title, page string) base {
	return base{Title: title, Page: page, Prefix: s.cfg.Prefix, User: sess, Help: keyHelp[page]}
}

// keyHelp is the keyboard help of each page.
var keyHelp = map[string][][2]string{
	"queue": {{"j / k", "next / previous case"}, {"Enter or o", "open the selected case"}, {"?", "show or hide this help"}},
	"case": {
		{"c", "confirm: a copy"}, {"d", "dismiss: not a copy"}, {"l", "license: a permitted derivative"},
		{"n", "write a note"}, {"j / k", "next / previous case of the queue"}, {"1 to 9", "show candidate match N"},
		{"t", "show the work as registered or as the upload shows it"}, {"u", "back to the queue"}, {"?", "show or hide this help"},
	},
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// render executes a page template into a buffer, so a template error becomes a 500 rather
// than half a page, and writes it with status.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, data any) {
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer bufPool.Put(buf)
	if err := s.pages[name].ExecuteTemplate(buf, "layout", data); err != nil {
		s.log.Error("render failed", zap.String("template", name), zap.String("path", r.URL.Path), zap.Error(err))
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// loadAssets parses the page templates and reads the static files.
func (s *Server) loadAssets() error {
	s.static = map[string]staticFile{}
	files, err := fs.Glob(assets, "static/*")
	if err != nil {
		return err
	}
	for _, f := range files {
		b, err := assets.ReadFile(f)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		ctype := "text/css; charset=utf-8"
		if path.Ext(f) == ".js" {
			ctype = "text/javascript; charset=utf-8"
		}
		s.static[path.Base(f)] = staticFile{body: b, ctype: ctype, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
	}
	funcs := templateFuncs(s)
	s.pages = map[string]*template.Template{}
	for _, name := range []string{"login", "error", "queue", "case", "registry", "dashboard"} {
		t, err := template.New(name).Funcs(funcs).ParseFS(assets, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return fmt.Errorf("review/web: template %s: %w", name, err)
		}
		s.pages[name] = t
	}
	return nil
}

// staticURL is the address of a static file, versioned by its content so browsers may keep it.
func (s *Server) staticURL(name string) string {
	f, ok := s.static[name]
	if !ok {
		panic("review/web: no static file " + name)
	}
	return s.cfg.Prefix + "static/" + name + "?v=" + strings.Trim(f.etag, `"`)
}

func (s *Server) serveStatic(w http.ResponseWriter, r *http.Request) {
	f, ok := s.static[r.PathValue("file")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", f.ctype)
	h.Set("ETag", f.etag)
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	if r.Header.Get("If-None-Match") == f.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	_, _ = w.Write(f.body)
}
