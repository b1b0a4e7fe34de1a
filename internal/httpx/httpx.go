// Package httpx holds the HTTP plumbing the API and the review page share: a response writer
// that records its status, and the wrapper that turns a handler's panic into a 500 and logs
// every request.
package httpx

import (
	"net/http"
	"time"

	"go.uber.org/zap"
)

// StatusWriter records the status a handler writes.
type StatusWriter struct {
	http.ResponseWriter
	// Status is the status written, 200 once a body was written without one; 0 before.
	Status int
	// Wrote reports that the status line has been written.
	Wrote bool
}

// WriteHeader records code and passes it on.
func (w *StatusWriter) WriteHeader(code int) {
	if !w.Wrote {
		w.Status, w.Wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write records the implicit 200 of a body written first.
func (w *StatusWriter) Write(b []byte) (int, error) {
	if !w.Wrote {
		w.Status, w.Wrote = http.StatusOK, true
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *StatusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Serve runs h. A panic in it (other than http.ErrAbortHandler, which is re-raised) is logged
// and answered with internalError when nothing was written yet; every request is logged at
// debug level with its status and duration.
func Serve(w http.ResponseWriter, r *http.Request, h http.Handler, log *zap.Logger, internalError func(http.ResponseWriter)) {
	start := time.Now()
	rw := &StatusWriter{ResponseWriter: w}
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			log.Error("handler panic", zap.String("method", r.Method), zap.String("path", r.URL.Path), zap.Any("panic", p))
			if !rw.Wrote {
				internalError(rw)
			}
		}
		log.Debug("request", zap.String("method", r.Method), zap.String("path", r.URL.Path),
			zap.Int("status", rw.Status), zap.Duration("took", time.Since(start)))
	}()
	h.ServeHTTP(rw, r)
}
