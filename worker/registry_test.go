package worker_test

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aura-art/aura/index"
	"github.com/aura-art/aura/internal/synth"
	"github.com/aura-art/aura/review"
	"github.com/aura-art/aura/verdict"
	"github.com/aura-art/aura/worker"
)

// TestRealRegistryEndToEnd runs the whole pipeline with the real registry over the bolt
// store: fixture works are registered, then copies of them are submitted through NATS.
// Flagged verdicts open review cases; decisions on them stick (a dismissed picture and a
// licensed creator's derivative are not flagged again) and are published on NATS.
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

	caseStore, err := review.NewBoltStore(e.store.inner.DB())
	if err != nil {
		t.Fatal(err)
	}
	reg.SetSuppressor(review.Suppressor{Store: caseStore})
	w, err := worker.New(e.nc, worker.Deps{Checker: reg, Store: e.store, Cases: &review.Opener{Store: caseStore}}, cfg, nil)
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

	// The two flagged verdicts opened a case each, with the picture's thumbnail and
	// fingerprint; the others none.
	open, _, err := caseStore.ListCases(ctxT(t), review.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]*review.Case{}
	for _, sum := range open {
		c, err := caseStore.GetCase(ctxT(t), sum.ID)
		if err != nil {
			t.Fatal(err)
		}
		byID[c.SubjectID] = c
		if c.Kind != review.Upload || c.Tenant != "market" || c.ClaimedCreator != "mallory" || c.Source != "inline" ||
			len(c.Thumbnail) == 0 || len(c.Fingerprint) == 0 || len(c.Matches) == 0 {
			t.Errorf("case of %s: %+v", c.SubjectID, sum)
		}
	}
	if len(open) != 2 || byID["mirror"] == nil || byID["forgery"] == nil {
		t.Fatalf("open cases %+v, want those of mirror and forgery", open)
	}

	// Dismiss the forgery (say, the uploader proved the cat photo is theirs) and license
	// mallory's derivatives of the astronaut.
	if _, err := caseStore.Decide(ctxT(t), byID["forgery"].ID, 1, review.Decision{By: "mo", To: review.Dismissed}); err != nil {
		t.Fatal(err)
	}
	if _, err := caseStore.Decide(ctxT(t), byID["mirror"].ID, 1, review.Decision{By: "mo", To: review.Licensed}); err != nil {
		t.Fatal(err)
	}
	again := map[string]struct {
		data    []byte
		creator string
		want    verdict.Kind
	}{
		"forgery-again":    {reencode(t, cat, 80), "mallory", verdict.Clear},                  // the dismissed picture
		"forgery-other":    {mirror(t, cat), "mallory", verdict.Derivative},                   // another edit of the work
		"licensed-deriv":   {reencode(t, mirror(t, astronaut), 70), "mallory", verdict.Clear}, // licensed creator
		"unlicensed-deriv": {mirror(t, astronaut), "eve", verdict.Derivative},                 // someone else
	}
	for id, c := range again {
		e.submit("market", id, c.creator, c.data)
	}
	for range again {
		v := next(t, watch, 30*time.Second)
		c := again[v.SubmissionID]
		if v.Verdict != c.want {
			t.Errorf("%s: verdict %s, want %s (%+v)", v.SubmissionID, v.Verdict, c.want, v.Matches)
		}
		if c.want == verdict.Clear && (len(v.Matches) == 0 || v.Matches[0].Suppressed == "") {
			t.Errorf("%s: matches %+v, want the suppressed match listed with its reason", v.SubmissionID, v.Matches)
		}
	}
	if open, _, _ = caseStore.ListCases(ctxT(t), review.Filter{}); len(open) != 2 {
		t.Errorf("%d open cases after the second round, want 2 (forgery-other, unlicensed-deriv)", len(open))
	}

	// The decisions go out on NATS.
	pub, err := worker.NewDecisionPublisher(e.nc, caseStore, cfg.Streams, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := pub.PublishPending(ctxT(t)); err != nil || n != 2 {
		t.Fatalf("PublishPending = %d, %v; want 2", n, err)
	}
	if n, err := pub.PublishPending(ctxT(t)); err != nil || n != 0 {
		t.Fatalf("PublishPending again = %d, %v; want 0 (the outbox is drained)", n, err)
	}
	stream, err := e.js.Stream(ctxT(t), cfg.Streams.Decisions)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := stream.GetLastMsgForSubject(ctxT(t), review.DecisionSubject("market"))
	if err != nil {
		t.Fatal(err)
	}
	var ev review.Event
	if err := json.Unmarshal(msg.Data, &ev); err != nil || ev.Decision.To != review.Licensed || ev.CaseID != byID["mirror"].ID {
		t.Fatalf("last decision event %s: %+v, %v", msg.Data, ev, err)
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
