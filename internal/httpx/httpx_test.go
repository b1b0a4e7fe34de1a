package httpx_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"go.uber.org/zap"

	"github.com/aura-art/aura/internal/httpx"
)

func TestServe(t *testing.T) {
	t.Parallel()
	internal := func(w http.ResponseWriter) { http.Error(w, "oops", http.StatusInternalServerError) }
	for name, tc := range map[string]struct {
		h    http.HandlerFunc
		want int
	}{
		"panic before writing": {func(http.ResponseWriter, *http.Request) { panic("boom") }, http.StatusInternalServerError},
		"panic after writing": {func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusTeapot)
			panic("boom")
		}, http.StatusTeapot},
		"body first is 200": {func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("hi")) }, http.StatusOK},
	} {
		rec := httptest.NewRecorder()
		httpx.Serve(rec, httptest.NewRequest(http.MethodGet, "/x", nil), tc.h, zap.NewNop(), internal)
		if rec.Code != tc.want {
			t.Errorf("%s: status %d, want %d", name, rec.Code, tc.want)
		}
	}
	sw := &httpx.StatusWriter{ResponseWriter: httptest.NewRecorder()}
	sw.WriteHeader(http.StatusNotFound)
	sw.WriteHeader(http.StatusOK)
	if sw.Status != http.StatusNotFound || !sw.Wrote {
		t.Fatalf("StatusWriter kept %d, want the first status", sw.Status)
	}
	defer func() {
		if p := recover(); p != http.ErrAbortHandler {
			t.Fatalf("ErrAbortHandler not re-raised: %v", p)
		}
	}()
	httpx.Serve(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil),
		http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) }), zap.NewNop(), internal)
}
