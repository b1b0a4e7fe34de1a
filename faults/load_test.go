package faults

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/jpeg"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/image/draw"

	"github.com/aura-art/aura/internal/synth"
	"github.com/aura-art/aura/worker"
)

// tenant is the marketplace every submission of the suite comes from.
const tenant = "faults"

// claimedCreator is the creator every submission claims to be: no registered work is
// theirs, so a copy of one is flagged.
const claimedCreator = "faults-uploader"

// pool holds the pictures submitted in turn, written to files so that "aura check" can
// tell their expected verdicts.
type pool struct {
	works   []fixtureWork // registered before the run
	flagged [][]byte      // copies of registered works: resized, mirrored, cropped
	clear   [][]byte      // unrelated synthetic pictures
}

// fixtureWork is a credited picture of fixtures/images.
type fixtureWork struct {
	path, creator, title string
}

// fixtureLine is a line of fixtures/manifest.jsonl.
type fixtureLine struct {
	File      string `json:"file"`
	Title     string `json:"title"`
	CreatorID string `json:"creator_id"`
}

// newPool reads the credited JPEGs of fixtures/ and makes the pictures to submit: three
// altered copies of each (resized and re-encoded, mirrored, cropped; 240 to 300 pixels
// wide) and nClear synthetic pictures of 200 to 320 pixels.
func newPool(t testing.TB, fixtures string, nClear int) *pool {
	t.Helper()
	f, err := os.Open(filepath.Join(fixtures, "manifest.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := &pool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l fixtureLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("fixtures manifest: %v", err)
		}
		if !strings.HasSuffix(l.File, ".jpg") {
			continue // the transparent PNG: flattening would differ from Aura's
		}
		path := filepath.Join(fixtures, l.File)
		p.works = append(p.works, fixtureWork{path: path, creator: l.CreatorID, title: l.Title})
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		src, err := jpeg.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		r := src.Bounds()
		crop := image.Rect(r.Min.X+r.Dx()/12, r.Min.Y+r.Dy()/12, r.Max.X-r.Dx()/12, r.Max.Y-r.Dy()/12)
		p.flagged = append(p.flagged,
			encode(t, resize(src, r, 300, false), 85),
			encode(t, resize(src, r, 256, true), 80),
			encode(t, resize(src, crop, 240, false), 85))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(p.works) == 0 {
		t.Fatal("no JPEG fixtures")
	}
	for i := range nClear {
		w := 200 + (i*37)%121
		h := 200 + (i*53)%121
		p.clear = append(p.clear, synth.JPEG(w, h, uint64(7000+i), 85))
	}
	return p
}

// resize scales the part r of src to width w (keeping its aspect), mirrored if asked.
func resize(src image.Image, r image.Rectangle, w int, mirror bool) image.Image {
	h := max(1, r.Dy()*w/r.Dx())
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.CatmullRom.Scale(dst, dst.Bounds(), src, r, draw.Src, nil)
	if mirror {
		for y := range h {
			for x := range w / 2 {
				a, b := dst.RGBAAt(x, y), dst.RGBAAt(w-1-x, y)
				dst.SetRGBA(x, y, b)
				dst.SetRGBA(w-1-x, y, a)
			}
		}
	}
	return dst
}

func encode(t testing.TB, img image.Image, q int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: q}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// all returns the pool's pictures, flagged candidates first.
func (p *pool) all() [][]byte { return append(append([][]byte(nil), p.flagged...), p.clear...) }

// plan is one submission to make.
type plan struct {
	id   string
	img  int // index into pool.all(), -1 for a bad submission
	data []byte
}

// newPlans returns n submissions, bad of them deliberately not pictures (spread evenly), one
// good submission in ten a copy of a registered work, the rest clear pictures.
func newPlans(p *pool, n, bad int) []plan {
	rng := rand.New(rand.NewPCG(1, 2))
	all := p.all()
	plans := make([]plan, n)
	every := n / max(bad, 1)
	nb := 0
	for i := range plans {
		if bad > 0 && nb < bad && i%every == every/2 {
			nb++
			plans[i] = plan{id: fmt.Sprintf("bad-%03d", nb), img: -1,
				data: fmt.Appendf(nil, "this is not a picture, deliberately (bad-%03d)", nb)}
			continue
		}
		k := len(p.flagged) + rng.IntN(len(p.clear))
		if rng.IntN(10) == 0 {
			k = rng.IntN(len(p.flagged))
		}
		plans[i] = plan{id: fmt.Sprintf("s-%06d", i), img: k, data: all[k]}
	}
	return plans
}

// submitStats is what the submitter saw.
type submitStats struct {
	acked      int           // submissions the stream acknowledged
	failed     []string      // ids never acknowledged
	retries    int           // attempts that failed and were repeated
	duplicates int           // acks that said "duplicate" (a retry of a stored submission)
	elapsed    time.Duration // from the first submission to the last ack
	maxLatency time.Duration // longest wait for one submission's ack, retries included
}

// submit publishes plans at rate per second (open loop: the schedule does not wait for
// verdicts) from several goroutines through client, retrying each submission with the same
// message id until the stream acknowledges it (the way a marketplace must), and calls
// atHalf in its own goroutine once half of them are scheduled.
func submit(ctx context.Context, client *worker.Client, plans []plan, rate float64, atHalf func()) submitStats {
	var (
		next   atomic.Int64
		mu     sync.Mutex
		st     submitStats
		wg     sync.WaitGroup
		halfOn sync.Once
	)
	interval := time.Duration(float64(time.Second) / rate)
	start := time.Now()
	for range 32 {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(plans) || ctx.Err() != nil {
					return
				}
				if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
					time.Sleep(d)
				}
				if i == len(plans)/2 && atHalf != nil {
					halfOn.Do(func() { go atHalf() })
				}
				pl := plans[i]
				s := &worker.Submission{SchemaVersion: worker.SchemaVersion, ID: pl.id, Tenant: tenant,
					Creator: claimedCreator, Image: worker.Image{Data: pl.data}}
				t0 := time.Now()
				retries, dup, ok := 0, false, false
				for ctx.Err() == nil && time.Since(t0) < 3*time.Minute {
					actx, cancel := context.WithTimeout(ctx, 5*time.Second)
					d, err := client.Submit(actx, s)
					cancel()
					if err == nil {
						dup, ok = d, true
						break
					}
					retries++
					time.Sleep(250 * time.Millisecond)
				}
				lat := time.Since(t0)
				mu.Lock()
				st.retries += retries
				if ok {
					st.acked++
				} else {
					st.failed = append(st.failed, pl.id)
				}
				if dup {
					st.duplicates++
				}
				st.maxLatency = max(st.maxLatency, lat)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	st.elapsed = time.Since(start)
	return st
}
