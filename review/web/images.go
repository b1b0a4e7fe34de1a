package web

import (
	"net/http"
	"strconv"

	"github.com/aura-art/aura/verdict"
)

// imageCache lets the browser keep an image for an hour, for this user only: a case's and a
// work's thumbnails never change.
const imageCache = "private, max-age=3600"

func writeImage(w http.ResponseWriter, ctype string, b []byte) {
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("Cache-Control", imageCache)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	_, _ = w.Write(b)
}

var errNoThumb = &httpError{status: http.StatusNotFound, title: "No thumbnail", msg: "no thumbnail"}

func (s *Server) caseThumb(w http.ResponseWriter, r *http.Request, _ *session) error {
	c, err := s.cases.GetCase(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if len(c.Thumbnail) == 0 {
		return errNoThumb
	}
	writeImage(w, "image/jpeg", c.Thumbnail)
	return nil
}

func (s *Server) workThumb(w http.ResponseWriter, r *http.Request, _ *session) error {
	wk, err := s.works.GetWork(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if len(wk.Thumbnail) == 0 {
		return errNoThumb
	}
	writeImage(w, "image/jpeg", wk.Thumbnail)
	return nil
}

func (s *Server) diffImage(w http.ResponseWriter, r *http.Request, _ *session) error {
	m, err := strconv.Atoi(r.URL.Query().Get("m"))
	if r.URL.Query().Get("m") == "" {
		m, err = 0, nil
	}
	if err != nil || m < 0 || m >= verdict.MaxMatches {
		return &httpError{status: http.StatusBadRequest, msg: "m: want a candidate number"}
	}
	c, err := s.cases.GetCase(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if m >= len(c.Matches) {
		return &httpError{status: http.StatusNotFound, msg: "no such candidate"}
	}
	wk, err := s.works.GetWork(r.Context(), c.Matches[m].WorkID)
	if err != nil {
		return err
	}
	if len(c.Thumbnail) == 0 || len(wk.Thumbnail) == 0 {
		return errNoThumb
	}
	b, err := diffPNG(c.Thumbnail, wk.Thumbnail, c.Matches[m])
	if err != nil {
		return &httpError{status: http.StatusUnprocessableEntity, msg: "cannot compare: " + err.Error()}
	}
	writeImage(w, "image/png", b)
	return nil
}
