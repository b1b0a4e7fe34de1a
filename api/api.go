package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/aura-art/aura/fetch"
	"github.com/aura-art/aura/hashing"
	"github.com/aura-art/aura/index"
	"github.com/aura-art/aura/internal/httpx"
)

//go:embed openapi.yaml
var openAPI []byte

// multipartSlack is how much larger than an image a multipart body may be, for its fields.
const multipartSlack = 1 << 20

// maxFieldBytes caps one multipart form field and a JSON request body.
const maxFieldBytes = 64 << 10

// server holds the API's dependencies.
type server struct {
	reg      *index.Registry
	log      *zap.Logger
	tokens   []token
	maxBytes int64
	fetcher  *fetch.Fetcher
	mux      *http.ServeMux
}

// token is a configured token, kept as its SHA-256 so that comparing takes the same time
// whatever the lengths.
type token struct {
	name string
	sum  [sha256.Size]byte
}

// New returns the API's handler over a registry. cfg must be valid (see Config.Validate);
// New panics otherwise, as it is a programming error. log may be nil. The registry's matcher
// should be loaded (index.Matcher.Ready) before the handler serves checks. The handler is safe
// for concurrent use.
func New(cfg Config, reg *index.Registry, log *zap.Logger) http.Handler {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	if log == nil {
		log = zap.NewNop()
	}
	s := &server{reg: reg, log: log.Named("api"), maxBytes: cfg.MaxBytes, mux: http.NewServeMux()}
	if s.maxBytes == 0 {
		s.maxBytes = reg.Config().Hashing.MaxBytes
	}
	fc := cfg.Fetch
	if fc.Timeout == 0 {
		fc = fetch.DefaultConfig()
		fc.MaxBytes = s.maxBytes
	}
	f, err := fetch.New(fc)
	if err != nil {
		panic(err) // Validate checked it
	}
	s.fetcher = f
	names := make([]string, 0, len(cfg.Tokens))
	for n := range cfg.Tokens {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		s.tokens = append(s.tokens, token{name: n, sum: sha256.Sum256([]byte(cfg.Tokens[n]))})
	}

	s.handle("POST /v1/works", s.createWork)
	s.handle("GET /v1/works", s.listWorks)
	s.handle("GET /v1/works/{id}", s.getWork)
	s.handle("GET /v1/works/{id}/thumbnail", s.thumbnail)
	s.handle("POST /v1/works/{id}/disable", s.setDisabled(true))
	s.handle("POST /v1/works/{id}/enable", s.setDisabled(false))
	s.handle("DELETE /v1/works/{id}", s.deleteWork)
	s.handle("POST /v1/check", s.check)
	s.handle("GET /v1/disputes", s.listDisputes)
	s.mux.HandleFunc("GET /v1/openapi.yaml", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/yaml")
		_, _ = w.Write(openAPI)
	})
	s.mux.HandleFunc("GET /healthz", s.health)
	return s
}

// ServeHTTP routes a request, answering unknown paths and methods with JSON errors and
// turning a handler's panic into a 500.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	httpx.Serve(w, r, http.HandlerFunc(s.route), s.log, func(w http.ResponseWriter) {
		writeError(w, http.StatusInternalServerError, "internal", "internal error")
	})
}

// route hands the request to its endpoint, or answers an unknown path or method.
func (s *server) route(w http.ResponseWriter, r *http.Request) {
	h, pattern := s.mux.Handler(r)
	if pattern == "" {
		// No route: the mux would answer 404, 405 or a redirect in plain text.
		probe := &httpx.StatusWriter{ResponseWriter: discardWriter{header: http.Header{}}}
		h.ServeHTTP(probe, r)
		switch probe.Status {
		case http.StatusNotFound:
			writeError(w, http.StatusNotFound, "not_found", "no such endpoint: "+r.URL.Path)
			return
		case http.StatusMethodNotAllowed:
			w.Header().Set("Allow", probe.Header().Get("Allow"))
			writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" is not allowed on "+r.URL.Path)
			return
		}
	}
	s.mux.ServeHTTP(w, r)
}

// handlerFunc is an authenticated endpoint: caller is the token's name. A returned error is
// written as a JSON error.
type handlerFunc func(w http.ResponseWriter, r *http.Request, caller string) error

// handle registers an endpoint behind the bearer token check.
func (s *server) handle(pattern string, h handlerFunc) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		caller, ok := s.authenticate(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="aura"`)
			writeError(w, http.StatusUnauthorized, "unauthorized", "a valid bearer token is required")
			return
		}
		if err := h(w, r, caller); err != nil {
			s.fail(w, r, err)
		}
	})
}

// authenticate returns the name of the request's bearer token. Every configured token is
// compared, in constant time, whatever matches.
func (s *server) authenticate(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	const scheme = "bearer "
	if len(h) <= len(scheme) || !strings.EqualFold(h[:len(scheme)], scheme) {
		return "", false
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(h[len(scheme):])))
	name := ""
	for _, t := range s.tokens {
		if subtle.ConstantTimeCompare(sum[:], t.sum[:]) == 1 {
			name = t.name
		}
	}
	return name, name != ""
}

// apiError is an error with its HTTP status and code.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.message }

func badRequest(format string, a ...any) error {
	return &apiError{http.StatusBadRequest, "bad_request", fmt.Sprintf(format, a...)}
}

// fetchError marks an error of downloading a submitted URL.
type fetchError struct{ err error }

func (e fetchError) Error() string { return e.err.Error() }
func (e fetchError) Unwrap() error { return e.err }

// fail writes err as a JSON error with the status that fits it. Unexpected errors are logged
// and answered with a 500 that does not reveal them.
func (s *server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	var mbe *http.MaxBytesError
	var fe fetchError
	switch {
	case errors.As(err, &ae):
		writeError(w, ae.status, ae.code, ae.message)
	case errors.As(err, &mbe):
		writeError(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("request body is larger than %d bytes", mbe.Limit))
	case errors.Is(err, hashing.ErrTooLarge), errors.Is(err, fetch.ErrTooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, "too_large", err.Error())
	case errors.Is(err, hashing.ErrUnsupported):
		writeError(w, http.StatusUnsupportedMediaType, "unsupported_image", err.Error())
	case errors.Is(err, hashing.ErrCorrupt):
		writeError(w, http.StatusUnprocessableEntity, "corrupt_image", err.Error())
	case errors.Is(err, fetch.ErrForbidden):
		writeError(w, http.StatusUnprocessableEntity, "forbidden_url", err.Error())
	case errors.As(err, &fe):
		writeError(w, http.StatusUnprocessableEntity, "fetch_failed", err.Error())
	case errors.Is(err, index.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", "not found: "+r.PathValue("id"))
	case errors.Is(err, index.ErrInvalid):
		writeError(w, http.StatusBadRequest, "invalid", err.Error())
	case errors.Is(err, index.ErrExists):
		writeError(w, http.StatusConflict, "conflict", err.Error())
	case r.Context().Err() != nil:
		// The client went away; nobody reads an answer.
	default:
		s.log.Error("request failed", zap.String("method", r.Method), zap.String("path", r.URL.Path), zap.Error(err))
		writeError(w, http.StatusInternalServerError, "internal", "internal error")
	}
}

// errorBody is the JSON form of an error.
type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	var b errorBody
	b.Error.Code, b.Error.Message = code, message
	writeJSON(w, status, b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// mediaType returns the request's media type, lower case, without parameters.
func mediaType(r *http.Request) (string, map[string]string) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return "", nil
	}
	return mt, params
}

// isImageBody reports whether a media type announces raw image bytes.
func isImageBody(mt string) bool {
	return strings.HasPrefix(mt, "image/") || mt == "application/octet-stream"
}

// readImage reads a raw image body, at most maxBytes.
func (s *server) readImage(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if err := limitBody(w, r, s.maxBytes); err != nil {
		return nil, err
	}
	return io.ReadAll(r.Body)
}

// limitBody caps the request body at limit bytes, failing at once when the declared length
// is larger.
func limitBody(w http.ResponseWriter, r *http.Request, limit int64) error {
	if r.ContentLength > limit {
		return &http.MaxBytesError{Limit: limit}
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	return nil
}

// workView is a work as the API shows it: without thumbnail bytes, with the thumbnail's URL.
type workView struct {
	*index.Work
	ThumbnailURL string `json:"thumbnail_url,omitempty"`
}

func viewOf(w *index.Work) workView {
	c := *w
	v := workView{Work: &c}
	if len(c.Thumbnail) > 0 {
		v.ThumbnailURL = "/v1/works/" + c.ID + "/thumbnail"
	}
	c.Thumbnail = nil
	return v
}

// registerResponse is the answer to POST /v1/works.
type registerResponse struct {
	Status  index.RegisterStatus `json:"status"`
	Work    workView             `json:"work"`
	Dispute *index.Dispute       `json:"dispute,omitempty"`
}

// workFields are the metadata fields of a registration, by form field or query parameter.
var workFields = map[string]bool{
	"id": true, "creator_id": true, "creator_name": true, "title": true, "year": true, "source_url": true, "licence": true,
}

// createWork is POST /v1/works: a multipart form (a "file" part and metadata fields) or
// raw image bytes with the metadata in query parameters.
func (s *server) createWork(w http.ResponseWriter, r *http.Request, caller string) error {
	var data []byte
	fields := map[string]string{}
	mt, params := mediaType(r)
	switch {
	case mt == "multipart/form-data":
		if err := limitBody(w, r, s.maxBytes+multipartSlack); err != nil {
			return err
		}
		var err error
		if data, err = s.readForm(multipart.NewReader(r.Body, params["boundary"]), fields); err != nil {
			return err
		}
	case isImageBody(mt):
		for k, v := range r.URL.Query() {
			if !workFields[k] {
				return badRequest("unknown query parameter %q", k)
			}
			fields[k] = v[0]
		}
		var err error
		if data, err = s.readImage(w, r); err != nil {
			return err
		}
	default:
		return &apiError{http.StatusUnsupportedMediaType, "unsupported_media_type",
			"send multipart/form-data with a file part, or the image's bytes with an image/* content type"}
	}
	meta := index.WorkMeta{
		ID: fields["id"], CreatorID: fields["creator_id"], CreatorName: fields["creator_name"], Title: fields["title"],
		SourceURL: fields["source_url"], Licence: fields["licence"], RegisteredBy: caller,
	}
	if y := fields["year"]; y != "" {
		n, err := strconv.Atoi(y)
		if err != nil || n < 0 || n > 9999 {
			return badRequest("year %q: want a number in 0..9999", y)
		}
		meta.Year = n
	}
	if meta.CreatorID == "" {
		return badRequest("creator_id is required")
	}
	res, err := s.reg.Register(r.Context(), data, meta)
	if err != nil {
		return err
	}
	status := http.StatusCreated
	if res.Status == index.StatusExists {
		status = http.StatusOK
	}
	writeJSON(w, status, registerResponse{Status: res.Status, Work: viewOf(res.Work), Dispute: res.Dispute})
	return nil
}

// readForm reads a multipart registration: the image from the "file" part, metadata fields
// into fields. Unknown fields, a second file and a missing file are errors.
func (s *server) readForm(mr *multipart.Reader, fields map[string]string) ([]byte, error) {
	var data []byte
	gotFile := false
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, bodyError(err, "multipart body")
		}
		name := p.FormName()
		switch {
		case name == "file":
			if gotFile {
				return nil, badRequest("more than one file part")
			}
			gotFile = true
			if data, err = io.ReadAll(io.LimitReader(p, s.maxBytes+1)); err != nil {
				return nil, bodyError(err, "file part")
			}
			if int64(len(data)) > s.maxBytes {
				return nil, fmt.Errorf("file part: %w: more than %d bytes", hashing.ErrTooLarge, s.maxBytes)
			}
		case workFields[name]:
			b, err := io.ReadAll(io.LimitReader(p, maxFieldBytes+1))
			if err != nil {
				return nil, bodyError(err, "field "+name)
			}
			if len(b) > maxFieldBytes {
				return nil, badRequest("field %s is longer than %d bytes", name, maxFieldBytes)
			}
			fields[name] = string(b)
		default:
			return nil, badRequest("unknown form field %q", name)
		}
	}
	if !gotFile {
		return nil, badRequest(`no "file" part`)
	}
	return data, nil
}

// bodyError keeps a body-size error as it is and makes any other read error a 400.
func bodyError(err error, what string) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return err
	}
	return badRequest("%s: %v", what, err)
}

// pageParams reads limit and after.
func pageParams(r *http.Request) (limit int, after string, err error) {
	q := r.URL.Query()
	if l := q.Get("limit"); l != "" {
		if limit, err = strconv.Atoi(l); err != nil || limit < 1 || limit > index.MaxPageSize {
			return 0, "", badRequest("limit %q: want a number in 1..%d", l, index.MaxPageSize)
		}
	}
	return limit, q.Get("after"), nil
}

// listWorks is GET /v1/works?creator=&limit=&after=.
func (s *server) listWorks(w http.ResponseWriter, r *http.Request, _ string) error {
	limit, after, err := pageParams(r)
	if err != nil {
		return err
	}
	works, next, err := s.reg.Store().ListWorks(r.Context(), index.ListOptions{CreatorID: r.URL.Query().Get("creator"), After: after, Limit: limit})
	if err != nil {
		return err
	}
	views := make([]workView, 0, len(works))
	for _, wk := range works {
		views = append(views, viewOf(wk))
	}
	writeJSON(w, http.StatusOK, struct {
		Works []workView `json:"works"`
		Next  string     `json:"next,omitempty"`
	}{views, next})
	return nil
}

// getWork is GET /v1/works/{id}.
func (s *server) getWork(w http.ResponseWriter, r *http.Request, _ string) error {
	wk, err := s.reg.Store().GetWork(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewOf(wk))
	return nil
}

// thumbnail is GET /v1/works/{id}/thumbnail.
func (s *server) thumbnail(w http.ResponseWriter, r *http.Request, _ string) error {
	wk, err := s.reg.Store().GetWork(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if len(wk.Thumbnail) == 0 {
		return &apiError{http.StatusNotFound, "not_found", "work " + wk.ID + " has no thumbnail"}
	}
	w.Header().Set("Content-Type", "image/jpeg")
	w.Header().Set("Content-Length", strconv.Itoa(len(wk.Thumbnail)))
	w.Header().Set("Cache-Control", "private, max-age=86400")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(wk.Thumbnail)
	return nil
}

// setDisabled is POST /v1/works/{id}/disable and /enable.
func (s *server) setDisabled(disabled bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, _ string) error {
		id := r.PathValue("id")
		if err := s.reg.SetDisabled(r.Context(), id, disabled); err != nil {
			return err
		}
		wk, err := s.reg.Store().GetWork(r.Context(), id)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, viewOf(wk))
		return nil
	}
}

// deleteWork is DELETE /v1/works/{id}.
func (s *server) deleteWork(w http.ResponseWriter, r *http.Request, _ string) error {
	if err := s.reg.Delete(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// checkRequest is the JSON body of POST /v1/check.
type checkRequest struct {
	URL     string `json:"url"`
	Creator string `json:"creator"`
}

// check is POST /v1/check?creator=: raw image bytes, or JSON {"url": ...}.
func (s *server) check(w http.ResponseWriter, r *http.Request, _ string) error {
	claimed := r.URL.Query().Get("creator")
	var data []byte
	mt, _ := mediaType(r)
	switch {
	case mt == "application/json":
		var req checkRequest
		if err := limitBody(w, r, maxFieldBytes); err != nil {
			return err
		}
		dec := json.NewDecoder(r.Body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			return bodyError(err, "JSON body")
		}
		if req.URL == "" {
			return badRequest(`JSON body: "url" is required`)
		}
		if claimed == "" {
			claimed = req.Creator
		}
		var err error
		if data, err = s.fetcher.Fetch(r.Context(), req.URL); err != nil {
			if r.Context().Err() != nil {
				return err
			}
			return fetchError{err}
		}
	case isImageBody(mt):
		var err error
		if data, err = s.readImage(w, r); err != nil {
			return err
		}
	default:
		return &apiError{http.StatusUnsupportedMediaType, "unsupported_media_type",
			`send the image's bytes with an image/* content type, or application/json {"url": ...}`}
	}
	v, err := s.reg.Check(r.Context(), data, claimed)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// listDisputes is GET /v1/disputes?limit=&after=.
func (s *server) listDisputes(w http.ResponseWriter, r *http.Request, _ string) error {
	limit, after, err := pageParams(r)
	if err != nil {
		return err
	}
	ds, next, err := s.reg.Store().ListDisputes(r.Context(), after, limit)
	if err != nil {
		return err
	}
	if ds == nil {
		ds = []*index.Dispute{}
	}
	writeJSON(w, http.StatusOK, struct {
		Disputes []*index.Dispute `json:"disputes"`
		Next     string           `json:"next,omitempty"`
	}{ds, next})
	return nil
}

// health is GET /healthz: 200 when the store answers, 503 otherwise. No token needed.
func (s *server) health(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if err := s.reg.Store().Ping(ctx); err != nil {
		s.log.Warn("health check failed", zap.Error(err))
		writeError(w, http.StatusServiceUnavailable, "unavailable", "store unreachable")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "works": s.reg.Matcher().Len()})
}

// discardWriter is a ResponseWriter that keeps headers and drops the body.
type discardWriter struct{ header http.Header }

func (d discardWriter) Header() http.Header         { return d.header }
func (d discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d discardWriter) WriteHeader(int)             {}
