package worker_test

import (
	"bytes"
	"context"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aura-art/aura/index"
	"github.com/aura-art/aura/internal/synth"
	"github.com/aura-art/aura/verdict"
	"github.com/aura-art/aura/worker"
)

// TestRealRegistryEndToEnd runs the whole pipeline with the real registry over the bolt
// store: fixture works are registered, then copies of them are submitted through NATS.
func TestRealRegistryEndToEnd(t *testing.T) {
	t.Parallel()
	cfg := testConfig("w1")
	e := setup(t, cfg)
	m := index.NewMatcher()
	reg, err := index.NewRegistry(e.store.inner, m, index.DefaultRegistryConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	matcherDone := make(chan error, 1)
	go func() { matcherDone <- m.Run(ctx, e.store.inner, nil) }()
	t.Cleanup(func() { cancel(); <-matcherDone })
	select {
	case <-m.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("matcher not ready")
	}

	fixture := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("..", "fixtures", "images", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	astronaut, cat := fixture("astronaut.jpg"), fixture("chelsea-the-cat.jpg")
	for _, w := range []struct {
		data    []byte
		creator string
	}{{astronaut, "nasa"}, {cat, "stefan"}} {
		if _, err := reg.Register(ctxT(t), w.data, index.WorkMeta{CreatorID: w.creator, Title: w.creator + "'s work"}); err != nil {
			t.Fatal(err)
		}
	}

	w, err := worker.New(e.nc, worker.Deps{Checker: reg, Store: e.store}, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(wctx) }()
	t.Cleanup(func() {
		wcancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	watch := e.watch("market")

	cases := map[string]struct {
		data    []byte
		creator string
		want    verdict.Kind
		workTo  string // creator of the best match, "" for none
	}{
		"mirror":  {mirror(t, astronaut), "mallory", verdict.Derivative, "nasa"},
		"forgery": {reencode(t, cat, 80), "mallory", verdict.LikelyForgery, "stefan"},
		"own":     {reencode(t, cat, 85), "stefan", verdict.OwnWork, "stefan"},
		"clear":   {synth.JPEG(640, 480, 99, 90), "mallory", verdict.Clear, ""},
	}
	for id, c := range cases {
		e.submit("market", id, c.creator, c.data)
	}
	for range cases {
		v := next(t, watch, 30*time.Second)
		c := cases[v.SubmissionID]
		if v.Verdict != c.want {
			t.Errorf("%s: verdict %s, want %s (%+v)", v.SubmissionID, v.Verdict, c.want, v.Matches)
			continue
		}
		if c.workTo == "" {
			if len(v.Matches) != 0 {
				t.Errorf("%s: matches %+v, want none", v.SubmissionID, v.Matches)
			}
			continue
		}
		if len(v.Matches) == 0 || v.Matches[0].CreatorID != c.workTo || v.Matches[0].WorkID == "" || v.Matches[0].Title == "" {
			t.Errorf("%s: matches %+v, want the work of %s first, with its title", v.SubmissionID, v.Matches, c.workTo)
		}
		if v.SubmissionID == "mirror" && v.Matches[0].Orientation != "mirror" {
			t.Errorf("mirror: orientation %q", v.Matches[0].Orientation)
		}
	}
	for id := range cases {
		if n := e.store.createdOf("market", id); n != 1 {
			t.Errorf("%s: %d stored verdicts", id, n)
		}
	}
}

func decodeJPEG(t *testing.T, data []byte) image.Image {
	t.Helper()
	img, err := jpeg.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func encodeJPEG(t *testing.T, img image.Image, quality int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: quality}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// mirror flips a JPEG left to right.
func mirror(t *testing.T, data []byte) []byte {
	src := decodeJPEG(t, data)
	b := src.Bounds()
	dst := image.NewRGBA(b)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			dst.Set(b.Max.X-1-(x-b.Min.X), y, src.At(x, y))
		}
	}
	return encodeJPEG(t, dst, 90)
}

// reencode encodes a JPEG again at another quality: the same picture in other bytes.
func reencode(t *testing.T, data []byte, quality int) []byte {
	return encodeJPEG(t, decodeJPEG(t, data), quality)
}
