package eval

import (
	"bytes"
	"context"
	"fmt"
	"hash/fnv"
	"image"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/corona10/goimagehash"

	"github.com/aura-art/aura/hashing"
)

// Config is one run of the benchmark.
type Config struct {
	// Corpus is the directory built by fixtures/build-corpus.sh. Required.
	Corpus string
	// Originals is how many photos and artworks are registered. Default 300.
	Originals int
	// Distractors is how many unrelated pictures are checked. Default 3000; 0 takes all.
	Distractors int
	// Seed picks the originals and seeds every transformation. Default 1.
	Seed uint64
	// Transforms limits the run to these names; empty runs all of Transforms().
	Transforms []string
	// Hashing is the decode and fingerprint configuration under test.
	Hashing hashing.Config
	// Thresholds are the shipped thresholds, reported beside the calibrated ones.
	Thresholds hashing.Thresholds
	// BaselineDistance is the baseline's fixed pHash distance threshold. Default 10.
	BaselineDistance int
	// Workers is the number of goroutines. Default GOMAXPROCS.
	Workers int
	// Progress receives a progress bar; nil shows none.
	Progress io.Writer
}

// DefaultConfig returns a configuration with the documented defaults and no corpus.
func DefaultConfig() Config {
	return Config{
		Originals: 300, Distractors: 3000, Seed: 1,
		Hashing: hashing.DefaultConfig(), Thresholds: hashing.DefaultThresholds,
		BaselineDistance: 10, Workers: runtime.GOMAXPROCS(0),
	}
}

// The false-positive rates the report fixes.
var reportRates = []float64{1e-4, 1e-6}

// sample is one picture as both systems see it.
type sample struct {
	fp    *hashing.Fingerprint // Aura's fingerprint (query or reference)
	base  hashing.Hash         // the baseline's pHash of the full decoded image
	err   error
	owner int // index of the original it was made from, or -1
	tr    int // index of the transform, or -1
}

// Run executes the benchmark and returns its report. It honours ctx between pictures.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	start := time.Now()
	items, err := LoadCorpus(cfg.Corpus)
	if err != nil {
		return nil, err
	}
	orig, dist, err := Split(items, cfg.Originals, cfg.Distractors, cfg.Seed)
	if err != nil {
		return nil, err
	}
	trs, err := pickTransforms(cfg.Transforms)
	if err != nil {
		return nil, err
	}
	workers := max(1, cfg.Workers)
	total := len(orig)*(1+len(trs)) + len(dist)
	bar := newProgress(cfg.Progress, total, "eval")

	// References: the originals, registered.
	refs := make([]sample, len(orig))
	if err := parallel(ctx, workers, len(orig), func(i int) {
		refs[i] = cfg.load(orig[i].Path(cfg.Corpus), hashing.Reference, nil, nil)
		bar.Add(1)
	}); err != nil {
		return nil, err
	}
	for i, r := range refs {
		if r.err != nil {
			return nil, fmt.Errorf("eval: original %s: %w", orig[i].File, r.err)
		}
	}
	// Queries: every transform of every original, then the distractors.
	queries := make([]sample, len(orig)*len(trs)+len(dist))
	if err := parallel(ctx, workers, len(queries), func(k int) {
		if k < len(orig)*len(trs) {
			i, t := k/len(trs), k%len(trs)
			queries[k] = cfg.load(orig[i].Path(cfg.Corpus), hashing.Query, &trs[t], seedFor(cfg.Seed, orig[i].File, trs[t].Name))
			queries[k].owner, queries[k].tr = i, t
		} else {
			queries[k] = cfg.load(dist[k-len(orig)*len(trs)].Path(cfg.Corpus), hashing.Query, nil, nil)
			queries[k].owner, queries[k].tr = -1, -1
		}
		bar.Add(1)
	}); err != nil {
		return nil, err
	}
	bar.Finish()

	// Score every query against every reference: its own original gives a genuine pair,
	// every other original an impostor pair.
	type pairScores struct {
		genuineAura []float64 // per query, score against its own original (NaN-free; -1 when failed)
		genuineBase []float64
		impAura     impostors
		impBase     impostors
		// Impostor pairs whose pictures come from different packages: a package (a game's
		// art, a wallpaper set) often holds variants of one work, which are derivatives,
		// not unrelated pictures.
		crossAura impostors
		crossBase impostors
	}
	ps := pairScores{genuineAura: make([]float64, len(queries)), genuineBase: make([]float64, len(queries))}
	var mu sync.Mutex
	var top []Impostor
	queryName := func(k int) string {
		if q := queries[k]; q.owner >= 0 {
			return orig[q.owner].File + " (" + trs[q.tr].Name + ")"
		}
		return dist[k-len(orig)*len(trs)].File
	}
	queryPackage := func(k int) string {
		if q := queries[k]; q.owner >= 0 {
			return orig[q.owner].Package
		}
		return dist[k-len(orig)*len(trs)].Package
	}
	if err := parallel(ctx, workers, len(queries), func(k int) {
		q := queries[k]
		ps.genuineAura[k], ps.genuineBase[k] = -1, -65
		if q.err != nil {
			return
		}
		pkg := queryPackage(k)
		var ia, ib, ic, icb []float64
		var best []Impostor
		for i, r := range refs {
			m := hashing.Compare(q.fp, r.fp)
			low := q.fp.LowDetail || r.fp.LowDetail
			a := cfg.Thresholds.Margin(m, low)
			b := -float64(q.base.Distance(r.base))
			if i == q.owner {
				ps.genuineAura[k], ps.genuineBase[k] = a, b
				continue
			}
			ia, ib = append(ia, a), append(ib, b)
			same := orig[i].Package == pkg
			if !same {
				ic, icb = append(ic, a), append(icb, b)
			}
			best = append(best, Impostor{Query: queryName(k), Original: orig[i].File, Score: m.Score, Evidence: m.Describe(), LowDetail: low, SamePackage: same})
		}
		slices.SortFunc(best, func(a, b Impostor) int { return -cmpFloat(a.Score, b.Score) })
		mu.Lock()
		ps.impAura, ps.impBase = append(ps.impAura, ia...), append(ps.impBase, ib...)
		ps.crossAura, ps.crossBase = append(ps.crossAura, ic...), append(ps.crossBase, icb...)
		top = append(top, best[:min(len(best), 3)]...)
		slices.SortFunc(top, func(a, b Impostor) int { return -cmpFloat(a.Score, b.Score) })
		top = top[:min(len(top), 30)]
		mu.Unlock()
	}); err != nil {
		return nil, err
	}
	ps.crossAura.sorted()
	ps.crossBase.sorted()
	ps.impAura.sorted()
	ps.impBase.sorted()

	rep := &Report{
		Originals: len(orig), Distractors: len(dist), ImpostorPairs: len(ps.impAura),
		Shipped: cfg.Thresholds, BaselineDistance: cfg.BaselineDistance,
		Environment: environment(cfg.Hashing),
	}
	// Thresholds: Aura's margins are scores minus the shipped threshold, so the shipped
	// operating point is margin 0; the baseline's are negated distances.
	auraT := []float64{0}
	baseT := []float64{-float64(cfg.BaselineDistance)}
	for _, rate := range reportRates {
		auraT = append(auraT, ps.impAura.thresholdFor(rate))
		baseT = append(baseT, ps.impBase.thresholdFor(rate))
	}
	auraT = append(auraT, ps.crossAura.thresholdFor(1e-6))
	baseT = append(baseT, ps.crossBase.thresholdFor(1e-6))
	rep.CrossPackagePairs = len(ps.crossAura)
	for i := range auraT {
		rep.Operating = append(rep.Operating, OperatingPoint{
			Name:             operatingNames[i],
			AuraScore:        auraT[i] + cfg.Thresholds.Match,
			AuraFPR:          ps.impAura.rateAt(auraT[i]),
			AuraCrossFPR:     ps.crossAura.rateAt(auraT[i]),
			BaselineMaxDist:  int(-baseT[i]),
			BaselineFPR:      ps.impBase.rateAt(baseT[i]),
			BaselineCrossFPR: ps.crossBase.rateAt(baseT[i]),
		})
	}
	for t, tr := range trs {
		row := Row{Transform: tr.Name, Group: tr.Group, Target: Targets[tr.Group]}
		for i := range orig {
			k := i*len(trs) + t
			if queries[k].err != nil {
				row.Errors++
			}
		}
		for p := range auraT {
			var ha, hb, n int
			for i := range orig {
				k := i*len(trs) + t
				n++
				if ps.genuineAura[k] >= auraT[p] {
					ha++
				}
				if ps.genuineBase[k] >= baseT[p] {
					hb++
				}
			}
			row.Aura = append(row.Aura, wilson(ha, n))
			row.Baseline = append(row.Baseline, wilson(hb, n))
		}
		// The worst genuine pairs, for whoever tunes the fingerprint.
		for i := range orig {
			k := i*len(trs) + t
			if ps.genuineAura[k] < auraT[len(auraT)-1] {
				f := Miss{File: orig[i].File, Margin: ps.genuineAura[k]}
				if q := queries[k]; q.err != nil {
					f.Error = q.err.Error()
				} else {
					m := hashing.Compare(q.fp, refs[i].fp)
					f.Evidence, f.LowDetail = m.Describe(), q.fp.LowDetail || refs[i].fp.LowDetail
				}
				row.Misses = append(row.Misses, f)
			}
		}
		slices.SortFunc(row.Misses, func(a, b Miss) int { return cmpFloat(a.Margin, b.Margin) })
		row.Misses = row.Misses[:min(len(row.Misses), 10)]
		rep.Rows = append(rep.Rows, row)
	}
	rep.TopImpostors = top
	rep.Seconds = time.Since(start).Seconds()
	return rep, nil
}

var operatingNames = []string{"shipped", "fpr_1e-4", "fpr_1e-6", "fpr_1e-6_cross_package"}

// load reads a corpus file, applies a transform when one is given, and computes both
// systems' fingerprints.
func (cfg Config) load(path string, p hashing.Purpose, tr *Transform, rng *rand.Rand) (s sample) {
	data, err := os.ReadFile(path)
	if err != nil {
		return sample{err: err}
	}
	if tr != nil {
		src, _, err := image.Decode(bytes.NewReader(data))
		if err != nil {
			return sample{err: err}
		}
		if data, err = tr.Apply(src, rng); err != nil {
			return sample{err: fmt.Errorf("%s: %w", tr.Name, err)}
		}
	}
	img, err := cfg.Hashing.Decode(data)
	if err != nil {
		return sample{err: err}
	}
	s.fp = img.Fingerprint(p)
	// The baseline: goimagehash's PerceptionHash of the full decoded image. The image was
	// made by a Go encoder or comes from the curated corpus, so it is safe to hand over.
	full, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return sample{err: err}
	}
	h, err := goimagehash.PerceptionHash(full)
	if err != nil {
		return sample{err: err}
	}
	s.base = hashing.Hash(h.GetHash())
	return s
}

// seedFor derives a per-picture, per-transform random source.
func seedFor(seed uint64, file, transform string) *rand.Rand {
	h := fnv.New64a()
	io.WriteString(h, file)
	io.WriteString(h, "\x00")
	io.WriteString(h, transform)
	return rand.New(rand.NewPCG(seed, h.Sum64()))
}

func pickTransforms(names []string) ([]Transform, error) {
	if len(names) == 0 {
		return Transforms(), nil
	}
	var out []Transform
	for _, n := range names {
		t, ok := ByName(n)
		if !ok {
			return nil, fmt.Errorf("eval: unknown transform %q", n)
		}
		out = append(out, t)
	}
	return out, nil
}

// parallel calls f(0..n-1) on workers goroutines and stops handing out work when ctx ends.
func parallel(ctx context.Context, workers, n int, f func(int)) error {
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				f(i)
			}
		}()
	}
	var err error
loop:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			err = ctx.Err()
			break loop
		}
	}
	close(next)
	wg.Wait()
	if err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	return nil
}
