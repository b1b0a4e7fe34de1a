// Package retro finds copies among past uploads when a work is registered: retroactive
// matching. Every upload a worker processes leaves a compact record in the store's upload
// log (index.UploadRecord: the hashes of the whole picture upright and mirrored); an Index
// holds those hashes in memory, 56 bytes an upload, and matches a new work's reference
// fingerprint against all of them by a parallel scan of the perception hashes. A Runner
// follows the registry's change feed and turns each hit into a review case and a verdict
// event marked retroactive, without downloading the upload again.
package retro

import (
	"cmp"
	"context"
	"fmt"
	"math/bits"
	"runtime"
	"slices"
	"sync"

	"github.com/aura-art/aura/hashing"
	"github.com/aura-art/aura/index"
)

// BytesPerUpload is what an Index holds for each upload: the seq, the two perception
// hashes scanned first, and the four other hashes.
const BytesPerUpload = 7 * 8

// Index is the in-memory copy of the upload log's hashes. It is safe for concurrent use.
type Index struct {
	mu   sync.RWMutex
	seq  []uint64 // store seq; bit 63: low detail
	p    []uint64 // upright P, mirrored P
	rest []uint64 // upright D, A, mirrored D, A
	last uint64
}

const lowDetailBit = 1 << 63

// Add adds records in log order; a record at or below the last seq added is skipped, so
// overlapping loads are harmless.
func (x *Index) Add(recs ...index.UploadRecord) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.seq = grow(x.seq, len(recs))
	x.p = grow(x.p, 2*len(recs))
	x.rest = grow(x.rest, 4*len(recs))
	for _, r := range recs {
		if r.Seq <= x.last || r.Seq&lowDetailBit != 0 {
			continue
		}
		s := r.Seq
		if r.LowDetail {
			s |= lowDetailBit
		}
		x.seq = append(x.seq, s)
		x.p = append(x.p, uint64(r.Upright.P), uint64(r.Mirrored.P))
		x.rest = append(x.rest, uint64(r.Upright.D), uint64(r.Upright.A), uint64(r.Mirrored.D), uint64(r.Mirrored.A))
		x.last = r.Seq
	}
}

// grow makes room for n more values, growing by an eighth rather than append's doubling so
// that a large index keeps close to BytesPerUpload.
func grow(s []uint64, n int) []uint64 {
	if cap(s)-len(s) >= n {
		return s
	}
	return slices.Grow(s, max(n, len(s)/8, 1024))
}

// Len returns how many uploads the index holds.
func (x *Index) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.seq)
}

// Last returns the highest seq added (0 when empty).
func (x *Index) Last() uint64 {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.last
}

// CatchUp adds every record of the log after Last and returns how many it added.
func (x *Index) CatchUp(ctx context.Context, log index.UploadLog) (int, error) {
	n := 0
	for {
		recs, err := log.Uploads(ctx, x.Last(), 10000)
		if err != nil {
			return n, fmt.Errorf("retro: load uploads: %w", err)
		}
		if len(recs) == 0 {
			return n, nil
		}
		x.Add(recs...)
		n += len(recs)
	}
}

// Hit is an upload that matches a work.
type Hit struct {
	// Seq is the upload's record in the log (index.UploadLog.GetUpload).
	Seq uint64
	// Match is the evidence, as hashing.Compare reports it for the upload as the query.
	Match hashing.Match
	// LowDetail reports that the upload or the work is low-detail.
	LowDetail bool
}

// Match returns the uploads that ref (a work's Reference fingerprint) matches at th, best
// first. It scans every upload's two perception hashes against every view of ref on all
// cores, and scores the pairs within hashing.MaxPDistance exactly as hashing.Compare does.
func (x *Index) Match(ref *hashing.Fingerprint, th hashing.Thresholds) []Hit {
	if ref == nil || len(ref.Views) == 0 {
		return nil
	}
	refP := make([]uint64, 0, len(ref.Views))
	for _, v := range ref.Views {
		if !v.Opened { // an upload's two stored views are never opened, so never pair with it
			refP = append(refP, uint64(v.P))
		}
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	n := len(x.seq)
	workers := min(runtime.GOMAXPROCS(0), max(1, n/65536))
	chunk := (n + workers - 1) / max(workers, 1)
	results := make([][]Hit, workers)
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := w*chunk, min(n, (w+1)*chunk)
		wg.Go(func() { results[w] = x.scan(lo, hi, refP, ref, th) })
	}
	wg.Wait()
	var hits []Hit
	for _, r := range results {
		hits = append(hits, r...)
	}
	sortHits(hits)
	return hits
}

// scan checks uploads [lo, hi).
func (x *Index) scan(lo, hi int, refP []uint64, ref *hashing.Fingerprint, th hashing.Thresholds) []Hit {
	gate := hashing.MaxPDistance
	var hits []Hit
	for i := lo; i < hi; i++ {
		up, mi := x.p[2*i], x.p[2*i+1]
		near := false
		for _, rp := range refP {
			if bits.OnesCount64(up^rp) <= gate || bits.OnesCount64(mi^rp) <= gate {
				near = true
				break
			}
		}
		if !near {
			continue
		}
		q := x.query(i)
		m := hashing.Compare(q, ref)
		low := q.LowDetail || ref.LowDetail
		if m.Score >= 0 && th.Accept(m, low) {
			hits = append(hits, Hit{Seq: x.seq[i] &^ lowDetailBit, Match: m, LowDetail: low})
		}
	}
	return hits
}

// query rebuilds upload i's two views as a Query fingerprint.
func (x *Index) query(i int) *hashing.Fingerprint {
	r := x.rest[4*i : 4*i+4]
	return &hashing.Fingerprint{
		Version: hashing.FormatVersion, LowDetail: x.seq[i]&lowDetailBit != 0,
		Views: []hashing.View{
			{Variant: hashing.Variant{Orientation: hashing.Identity, Region: hashing.Full},
				Hashes: hashing.Hashes{P: hashing.Hash(x.p[2*i]), D: hashing.Hash(r[0]), A: hashing.Hash(r[1])}},
			{Variant: hashing.Variant{Orientation: hashing.Mirror, Region: hashing.Full},
				Hashes: hashing.Hashes{P: hashing.Hash(x.p[2*i+1]), D: hashing.Hash(r[2]), A: hashing.Hash(r[3])}},
		},
	}
}

func sortHits(h []Hit) {
	slices.SortFunc(h, func(a, b Hit) int {
		if c := cmp.Compare(b.Match.Score, a.Match.Score); c != 0 {
			return c
		}
		return cmp.Compare(a.Seq, b.Seq)
	})
}
