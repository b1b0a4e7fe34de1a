package retro_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/draw"
	"image/jpeg"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aura-art/aura/hashing"
	"github.com/aura-art/aura/index"
	"github.com/aura-art/aura/internal/synth"
	"github.com/aura-art/aura/retro"
	"github.com/aura-art/aura/review"
	"github.com/aura-art/aura/verdict"
)

func fingerprint(t testing.TB, data []byte, p hashing.Purpose) *hashing.Fingerprint {
	t.Helper()
	img, err := hashing.DefaultConfig().Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	return img.Fingerprint(p)
}

// TestMatchIsExact checks the scan against hashing.Compare on every upload: the index
// returns exactly the uploads whose two-view query the thresholds accept.
func TestMatchIsExact(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	ref := fingerprint(t, synth.JPEG(400, 300, 11, 90), hashing.Reference)
	var x retro.Index
	var queries []*hashing.Fingerprint
	flip := func(h hashing.Hash, n int) hashing.Hash {
		for range n {
			h ^= 1 << rng.IntN(64)
		}
		return h
	}
	for i := range 20000 {
		var r index.UploadRecord
		if i%50 == 0 { // near one of the work's views, at a random distance
			v := ref.Views[rng.IntN(len(ref.Views))].Hashes
			d := rng.IntN(20)
			r.Upright = hashing.Hashes{P: flip(v.P, d), D: flip(v.D, rng.IntN(20)), A: flip(v.A, rng.IntN(20))}
			r.Mirrored = hashing.Hashes{P: hashing.Hash(rng.Uint64()), D: hashing.Hash(rng.Uint64()), A: hashing.Hash(rng.Uint64())}
			if i%100 == 0 {
				r.Upright, r.Mirrored = r.Mirrored, r.Upright
			}
		} else {
			r.Upright = hashing.Hashes{P: hashing.Hash(rng.Uint64()), D: hashing.Hash(rng.Uint64()), A: hashing.Hash(rng.Uint64())}
			r.Mirrored = hashing.Hashes{P: hashing.Hash(rng.Uint64()), D: hashing.Hash(rng.Uint64()), A: hashing.Hash(rng.Uint64())}
		}
		r.Seq, r.LowDetail = uint64(i+1), i%7 == 0
		x.Add(r)
		queries = append(queries, &hashing.Fingerprint{Version: hashing.FormatVersion, LowDetail: r.LowDetail, Views: []hashing.View{
			{Variant: hashing.Variant{Region: hashing.Full}, Hashes: r.Upright},
			{Variant: hashing.Variant{Orientation: hashing.Mirror, Region: hashing.Full}, Hashes: r.Mirrored},
		}})
	}
	th := hashing.DefaultThresholds
	want := map[uint64]float64{}
	for i, q := range queries {
		m := hashing.Compare(q, ref)
		if m.Score >= 0 && th.Accept(m, q.LowDetail || ref.LowDetail) {
			want[uint64(i+1)] = m.Score
		}
	}
	hits := x.Match(ref, th)
	got := map[uint64]float64{}
	for i, h := range hits {
		got[h.Seq] = h.Match.Score
		if i > 0 && h.Match.Score > hits[i-1].Match.Score {
			t.Fatal("hits are not best first")
		}
	}
	if len(want) == 0 || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("index found %d uploads, a linear Compare %d:\n got %v\nwant %v", len(got), len(want), got, want)
	}
	if x.Len() != 20000 {
		t.Fatalf("Len = %d", x.Len())
	}
	x.Add(index.UploadRecord{Seq: 5}) // an old seq again: skipped
	if x.Len() != 20000 {
		t.Fatal("a record at or below the last seq was added")
	}
}

type recPublisher struct {
	mu   sync.Mutex
	sent []string
}

func (p *recPublisher) PublishRetro(_ context.Context, rec *index.VerdictRecord, workID string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sent = append(p.sent, fmt.Sprintf("%s/%s/%s/%s", rec.Tenant, rec.SubmissionID, workID, rec.Verdict.Verdict))
	return nil
}

func mirrorJPEG(t *testing.T, data []byte) []byte {
	src, err := jpeg.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	b := src.Bounds()
	dst := image.NewRGBA(b)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			dst.Set(b.Max.X-1-x, y, src.At(x, y))
		}
	}
	var out bytes.Buffer
	_ = jpeg.Encode(&out, dst, &jpeg.Options{Quality: 85})
	return out.Bytes()
}

func cropJPEG(t *testing.T, data []byte) []byte {
	src, err := jpeg.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	b := src.Bounds()
	r := image.Rect(b.Dx()/10, b.Dy()/10, b.Dx()*9/10, b.Dy()*9/10)
	dst := image.NewRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
	draw.Draw(dst, dst.Bounds(), src, r.Min, draw.Src)
	var out bytes.Buffer
	_ = jpeg.Encode(&out, dst, &jpeg.Options{Quality: 85})
	return out.Bytes()
}

// openStores opens an embedded store and the review store in it, closed with the test.
func openStores(t *testing.T) (*index.BoltStore, *review.BoltStore) {
	t.Helper()
	bs, err := index.OpenBolt(filepath.Join(t.TempDir(), "aura.db"), index.BoltOptions{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bs.Close() })
	cases, err := review.NewBoltStore(bs.DB())
	if err != nil {
		t.Fatal(err)
	}
	return bs, cases
}

// TestRunnerFindsPastCopies logs uploads as the worker does, registers the work they copy
// afterwards, and checks that the runner opens a retro case and publishes a retroactive
// verdict for each copy by someone else, once, and none for the creator's own upload.
func TestRunnerFindsPastCopies(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	bs, cases := openStores(t)
	work := synth.JPEG(640, 480, 21, 92)
	uploads := map[string]struct {
		data    []byte
		creator string
	}{
		"copy":   {synth.JPEG(640, 480, 21, 70), "mallory"},
		"mirror": {mirrorJPEG(t, work), "mallory"},
		"crop":   {cropJPEG(t, work), ""},
		"own":    {synth.JPEG(640, 480, 21, 75), "alice"},
		"other":  {synth.JPEG(640, 480, 99, 90), "bob"},
	}
	for id, u := range uploads {
		rec, ok := index.NewUploadRecord("shop", id, u.creator, fingerprint(t, u.data, hashing.Query))
		if !ok {
			t.Fatal("no upload record")
		}
		for range 2 { // as a redelivered submission would
			r := rec
			if err := bs.AppendUpload(ctx, &r); err != nil {
				t.Fatal(err)
			}
		}
	}
	m := index.NewMatcher()
	reg, err := index.NewRegistry(bs, m, index.DefaultRegistryConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	pub := &recPublisher{}
	x := &retro.Index{}
	runner := &retro.Runner{Works: bs, Uploads: bs, Index: x, Cases: &review.Opener{Store: cases}, Publish: pub}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- runner.Run(runCtx, 0) }()
	res, err := reg.Register(ctx, work, index.WorkMeta{CreatorID: "alice", Title: "Field"})
	if err != nil {
		t.Fatal(err)
	}
	wantCases := []string{"copy", "crop", "mirror"}
	deadline := time.Now().Add(30 * time.Second)
	var page []review.Summary
	for time.Now().Before(deadline) {
		page, _, _ = cases.ListCases(ctx, review.Filter{Kind: review.Retro})
		if len(page) >= len(wantCases) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // anything extra would show up by now
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range page {
		got = append(got, s.SubjectID)
		c, err := cases.GetCase(ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		if c.ID != review.CaseID(review.Retro, "shop", s.SubjectID, res.Work.ID) || c.Matches[0].WorkID != res.Work.ID ||
			c.Matches[0].Title != "Field" || len(c.Fingerprint) == 0 || !c.Verdict.Flagged() {
			t.Errorf("retro case %+v", c)
		}
	}
	if !slices.Equal(slices.Sorted(slices.Values(got)), wantCases) {
		t.Fatalf("retro cases for %v, want %v", got, wantCases)
	}
	if len(pub.sent) != 3 {
		t.Fatalf("published %v, want one retroactive verdict per flagged upload", pub.sent)
	}
	if x.Len() != 10 {
		t.Fatalf("index holds %d records, want 10", x.Len())
	}
}

// BenchmarkMatch10M matches one work's reference fingerprint against 10,000,000 uploads.
// Run it with: go test -run '^$' -bench Match10M -benchtime 5x ./retro
func BenchmarkMatch10M(b *testing.B) {
	const n = 10_000_000
	rng := rand.New(rand.NewPCG(3, 4))
	var x retro.Index
	batch := make([]index.UploadRecord, 0, 100000)
	for i := range n {
		batch = append(batch, index.UploadRecord{
			Seq:      uint64(i + 1),
			Upright:  hashing.Hashes{P: hashing.Hash(rng.Uint64()), D: hashing.Hash(rng.Uint64()), A: hashing.Hash(rng.Uint64())},
			Mirrored: hashing.Hashes{P: hashing.Hash(rng.Uint64()), D: hashing.Hash(rng.Uint64()), A: hashing.Hash(rng.Uint64())},
		})
		if len(batch) == cap(batch) {
			x.Add(batch...)
			batch = batch[:0]
		}
	}
	batch = nil
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	heap := float64(ms.HeapAlloc) / n
	ref := fingerprint(b, synth.JPEG(640, 480, 5, 90), hashing.Reference)
	for b.Loop() {
		x.Match(ref, hashing.DefaultThresholds)
	}
	b.ReportMetric(heap, "heap-B/upload")
	b.ReportMetric(float64(len(ref.Views)), "work-views")
}

// BenchmarkMatch1M compares the index's scan with the naive way, hashing.Compare on every
// upload's two-view fingerprint, on the same 1,000,000 uploads.
// Run it with: go test -run '^$' -bench Match1M -benchtime 3x ./retro
func BenchmarkMatch1M(b *testing.B) {
	const n = 1_000_000
	rng := rand.New(rand.NewPCG(5, 6))
	var x retro.Index
	qs := make([]*hashing.Fingerprint, n)
	for i := range n {
		r := index.UploadRecord{
			Seq:      uint64(i + 1),
			Upright:  hashing.Hashes{P: hashing.Hash(rng.Uint64()), D: hashing.Hash(rng.Uint64()), A: hashing.Hash(rng.Uint64())},
			Mirrored: hashing.Hashes{P: hashing.Hash(rng.Uint64()), D: hashing.Hash(rng.Uint64()), A: hashing.Hash(rng.Uint64())},
		}
		x.Add(r)
		qs[i] = &hashing.Fingerprint{Version: hashing.FormatVersion, Views: []hashing.View{
			{Variant: hashing.Variant{Region: hashing.Full}, Hashes: r.Upright},
			{Variant: hashing.Variant{Orientation: hashing.Mirror, Region: hashing.Full}, Hashes: r.Mirrored},
		}}
	}
	ref := fingerprint(b, synth.JPEG(640, 480, 5, 90), hashing.Reference)
	th := hashing.DefaultThresholds
	b.Run("index", func(b *testing.B) {
		for b.Loop() {
			x.Match(ref, th)
		}
	})
	b.Run("naive", func(b *testing.B) {
		for b.Loop() {
			for _, q := range qs {
				if m := hashing.Compare(q, ref); m.Score >= 0 && th.Accept(m, false) {
					b.Fatal("a random upload matched")
				}
			}
		}
	})
}

// TestRunnerRespectsDecisions: an upload flagged against the work when it was checked, and
// one a moderator dismissed against it, get no retro case; the third copy does.
func TestRunnerRespectsDecisions(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	bs, cases := openStores(t)
	work := synth.JPEG(640, 480, 41, 92)
	reg, err := index.NewRegistry(bs, index.NewMatcher(), index.DefaultRegistryConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	w, err := reg.Register(ctx, work, index.WorkMeta{CreatorID: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	opener := &review.Opener{Store: cases}
	uploads := map[string][]byte{"known": synth.JPEG(640, 480, 41, 70), "dismissed": mirrorJPEG(t, work), "new": cropJPEG(t, work)}
	for id, data := range uploads {
		q := fingerprint(t, data, hashing.Query)
		rec, _ := index.NewUploadRecord("shop", id, "mallory", q)
		if err := bs.AppendUpload(ctx, &rec); err != nil {
			t.Fatal(err)
		}
		if id == "new" {
			continue
		}
		v := verdict.Verdict{Verdict: verdict.Derivative, Matches: []verdict.Match{{WorkID: w.Work.ID, CreatorID: "alice", Score: 0.9}}}
		c, err := opener.OpenUpload(ctx, review.Flagged{Tenant: "shop", SubmissionID: id, ClaimedCreator: "mallory", Data: data, Verdict: v})
		if err != nil {
			t.Fatal(err)
		}
		if id == "dismissed" {
			if _, err := cases.Decide(ctx, c.ID, 1, review.Decision{By: "mo", To: review.Dismissed}); err != nil {
				t.Fatal(err)
			}
		}
	}
	runner := &retro.Runner{Works: bs, Uploads: bs, Index: &retro.Index{}, Cases: opener,
		Suppressor: review.Suppressor{Store: cases}, Known: review.FlaggedBefore(cases)}
	res, err := runner.MatchWork(ctx, w.Work.ID, "alice", w.Work.Fingerprint)
	if err != nil {
		t.Fatal(err)
	}
	page, _, _ := cases.ListCases(ctx, review.Filter{Kind: review.Retro})
	if res.Hits != 3 || res.Flagged != 1 || len(page) != 1 || page[0].SubjectID != "new" {
		t.Fatalf("hits %d, flagged %d, retro cases %+v; want 3 hits and one case, for the new upload", res.Hits, res.Flagged, page)
	}
}

// TestRunnerResumesFromItsPosition: a work registered while no runner ran is matched
// against past uploads when a runner with a kept position starts again, even though the
// registry it starts with already holds the work; a runner without one misses it.
func TestRunnerResumesFromItsPosition(t *testing.T) {
	t.Parallel()
	for _, kept := range []bool{true, false} {
		t.Run(fmt.Sprintf("position kept %v", kept), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			bs, cases := openStores(t)
			work := synth.JPEG(640, 480, 31, 92)
			rec, ok := index.NewUploadRecord("shop", "copy", "mallory", fingerprint(t, synth.JPEG(640, 480, 31, 70), hashing.Query))
			if !ok {
				t.Fatal("no upload record")
			}
			if err := bs.AppendUpload(ctx, &rec); err != nil {
				t.Fatal(err)
			}
			newRunner := func() *retro.Runner {
				r := &retro.Runner{Works: bs, Uploads: bs, Index: &retro.Index{}, Cases: &review.Opener{Store: cases}}
				if kept {
					r.Position = bs
				}
				return r
			}
			run := func(after uint64, wait func()) {
				runCtx, stop := context.WithCancel(ctx)
				done := make(chan error, 1)
				go func() { done <- newRunner().Run(runCtx, after) }()
				wait()
				stop()
				if err := <-done; err != nil {
					t.Fatal(err)
				}
			}
			retroCases := func() int {
				page, _, err := cases.ListCases(ctx, review.Filter{Kind: review.Retro})
				if err != nil {
					t.Fatal(err)
				}
				return len(page)
			}
			// A first run keeps its position, then stops.
			run(0, func() { time.Sleep(300 * time.Millisecond) })
			// The work is registered while no runner runs.
			reg, err := index.NewRegistry(bs, index.NewMatcher(), index.DefaultRegistryConfig(), nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := reg.Register(ctx, work, index.WorkMeta{CreatorID: "alice", Title: "Field"}); err != nil {
				t.Fatal(err)
			}
			changes, err := bs.Changes(ctx, 0, 100)
			if err != nil {
				t.Fatal(err)
			}
			now := changes[len(changes)-1].Seq
			// The second run is told the registry's position, which includes the work.
			run(now, func() {
				for deadline := time.Now().Add(5 * time.Second); retroCases() == 0 && time.Now().Before(deadline); {
					time.Sleep(50 * time.Millisecond)
				}
			})
			if got, want := retroCases(), map[bool]int{true: 1, false: 0}[kept]; got != want {
				t.Fatalf("%d retro cases, want %d", got, want)
			}
			if kept {
				if seq, ok, err := bs.Cursor(ctx, retro.PositionName); err != nil || !ok || seq != now {
					t.Errorf("kept position %d, %v, %v; want %d", seq, ok, err, now)
				}
			}
		})
	}
}
