package index_test

import (
	"context"
	"flag"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/aura-art/aura/hashing"
	"github.com/aura-art/aura/index"
	"github.com/aura-art/aura/internal/redistest"
)

// The 1M-work benchmarks take minutes and about 2 GB; run them with -matcher.big, and the
// lookups at 10M works (about 10 minutes to load, 12 GB) with -matcher.huge. The load
// benchmarks load the whole registry each iteration: give them few.
//
//	go test ./index -run '^$' -bench 'MatcherLookup' -benchtime 200x -matcher.big
//	go test ./index -run '^$' -bench 'MatcherLoad|MatcherPut' -benchtime 1x -matcher.big
var (
	matcherBig   = flag.Bool("matcher.big", false, "also run the matcher benchmarks at 1M works (and 200k works in Redis)")
	matcherHuge  = flag.Bool("matcher.huge", false, "also run the lookup benchmarks at 10M works (about 12 GB)")
	matcherRedis = flag.Int("matcher.redis", 0, "works in Redis for BenchmarkMatcherLoadRedis (default 20000, 200000 with -matcher.big)")
	matcherSizes = flag.String("matcher.sizes", "", "comma-separated registry sizes of the lookup benchmarks, instead of 100000 (and the sizes of -matcher.big and -matcher.huge)")
	matcherShape = flag.String("matcher.shape", "shipped", "fingerprint shape of the benchmarks: shipped (hashing's ReferenceVariants and QueryVariants: 60 and 19 views since session 7's 7×7 grid of crops, 36 and 19 before) or small (the tests' fixed lists: 14 and 17 views, the shape of the figures before session 6)")
)

// benchRefVariants and benchQueryVariants are the views beyond the whole picture of the
// benchmarks' works and the views of their queries, by -matcher.shape.
func benchRefVariants() []hashing.Variant {
	if *matcherShape == "small" {
		return testRefVariants
	}
	return hashing.ReferenceVariants
}

func benchQueryVariants() []hashing.Variant {
	var vs []hashing.Variant
	trims := []bool{false}
	if *matcherShape == "small" {
		trims = append(trims, true)
	}
	for _, tr := range trims {
		for o := range hashing.Orientation(8) {
			vs = append(vs, hashing.Variant{Trimmed: tr, Orientation: o, Region: hashing.Full})
		}
	}
	if *matcherShape == "small" {
		return append(vs, testQueryVariants...)
	}
	return append(vs, hashing.QueryVariants...)
}

// memStore serves LoadWorks from memory and has no changes: the cold start of a matcher
// without the store's cost.
type memStore struct {
	index.Store // nil: only LoadWorks and WaitChanges are called
	entries     []index.MatchEntry

	// When entries is nil, LoadWorks generates n works with the seed on the fly, and keeps
	// the first 10000 in sample.
	n      int
	seed   uint64
	sample []index.MatchEntry
}

func (s *memStore) LoadWorks(ctx context.Context, fn func(index.MatchEntry) error) (uint64, error) {
	if s.entries == nil {
		g := newFPGen(s.seed)
		s.sample = s.sample[:0]
		for range s.n {
			e := benchEntry(g, s.n)
			if len(s.sample) < 10000 {
				s.sample = append(s.sample, e)
			}
			if err := fn(e); err != nil {
				return 0, err
			}
		}
		return 1, nil
	}
	for _, e := range s.entries {
		if err := fn(e); err != nil {
			return 0, err
		}
	}
	return 1, nil
}

func (s *memStore) WaitChanges(ctx context.Context, after uint64, limit int) ([]index.Change, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// benchEntries returns n works with random reference fingerprints (benchEntry).
func benchEntries(n int, seed uint64) []index.MatchEntry {
	g := newFPGen(seed)
	out := make([]index.MatchEntry, n)
	for i := range out {
		out[i] = benchEntry(g, n)
	}
	return out
}

// benchEntry returns a work, one of n, with a random reference fingerprint: the whole
// picture, its trimmed box and benchRefVariants (60 views in the shipped shape, 14 in the small).
func benchEntry(g fpGen, n int) index.MatchEntry {
	rv := benchRefVariants()
	fp := &hashing.Fingerprint{Version: hashing.FormatVersion, Views: make([]hashing.View, 0, 2+len(rv))}
	fp.Views = append(fp.Views, hashing.View{Variant: hashing.Variant{Region: hashing.Full}, Hashes: g.hashes()},
		hashing.View{Variant: hashing.Variant{Trimmed: true, Region: hashing.Full}, Hashes: g.hashes()})
	for _, v := range rv {
		fp.Views = append(fp.Views, hashing.View{Variant: v, Hashes: g.hashes()})
	}
	return index.MatchEntry{ID: fmt.Sprintf("w_%016x", g.r.Uint64()), CreatorID: fmt.Sprintf("c_%d", g.r.IntN(n/10+1)), Fingerprint: fp}
}

// benchQueries returns query fingerprints of benchQueryVariants (19 views in the shipped
// shape, 17 in the small): near copies of random works (each view a random view of the work
// with 0 to 4 P bits and up to 6 D and A bits flipped) when near, unrelated random ones
// otherwise.
func benchQueries(entries []index.MatchEntry, n int, near bool, seed uint64) []*hashing.Fingerprint {
	g := newFPGen(seed)
	variants := benchQueryVariants()
	out := make([]*hashing.Fingerprint, n)
	for i := range out {
		src := entries[g.r.IntN(len(entries))].Fingerprint
		q := &hashing.Fingerprint{Version: hashing.FormatVersion}
		for _, v := range variants {
			h := g.hashes()
			if near {
				s := src.Views[g.r.IntN(len(src.Views))].Hashes
				h = hashing.Hashes{P: g.flip(s.P, g.r.IntN(5)), D: g.flip(s.D, g.r.IntN(7)), A: g.flip(s.A, g.r.IntN(7))}
			}
			q.Views = append(q.Views, hashing.View{Variant: v, Hashes: h})
		}
		out[i] = q
	}
	return out
}

// loadMatcher loads entries into a new matcher through Run, as a worker's cold start does,
// and returns it (Run stopped) with the load time.
func loadMatcher(tb testing.TB, s index.Store) (*index.Matcher, time.Duration) {
	tb.Helper()
	m := index.NewMatcher()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	start := time.Now()
	log := zap.NewNop()
	if testing.Verbose() {
		log = zaptest.NewLogger(tb)
	}
	go func() { done <- m.Run(ctx, s, log) }()
	select {
	case <-m.Ready():
	case <-time.After(10 * time.Minute):
		tb.Fatal("matcher not loaded after 10 minutes")
	}
	took := time.Since(start)
	if b, ok := tb.(*testing.B); ok { // stopping Run waits up to a Redis WaitSlice: not load time
		b.StopTimer()
		defer b.StartTimer()
	}
	cancel()
	if err := <-done; err != nil {
		tb.Fatal(err)
	}
	return m, took
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// benchMatcher is a loaded matcher shared by the benchmarks of one size.
type benchMatcher struct {
	m         *index.Matcher
	entries   []index.MatchEntry // their fingerprints, for queries
	load      time.Duration
	heapBytes uint64 // heap the matcher holds, measured
}

var (
	benchMu       sync.Mutex
	benchMatchers = map[int]*benchMatcher{}
)

// matcherOf returns the shared matcher of n works, loading it the first time.
func matcherOf(b *testing.B, n int) *benchMatcher {
	benchMu.Lock()
	defer benchMu.Unlock()
	if bm := benchMatchers[n]; bm != nil {
		return bm
	}
	for k := range benchMatchers { // one at a time: a 1M matcher is big
		delete(benchMatchers, k)
	}
	before := heapInUse()
	s := &memStore{n: n, seed: uint64(n)} // generated during the load: 10M works do not fit twice
	m, took := loadMatcher(b, s)
	// The first works' fingerprints, for queries that copy them.
	sample := slices.Clone(s.sample)
	s.sample = nil
	bm := &benchMatcher{m: m, entries: sample, load: took}
	bm.heapBytes = heapInUse() - before
	b.Logf("%d works: generated and loaded in %v; heap %d bytes (%.0f a work); Stats().Bytes %d (%.0f a work), %d segments",
		n, took, bm.heapBytes, float64(bm.heapBytes)/float64(n), m.Stats().Bytes, float64(m.Stats().Bytes)/float64(n), m.Stats().Segments)
	benchMatchers[n] = bm
	return bm
}

func benchSizes() []int {
	if *matcherSizes != "" {
		var sizes []int
		for f := range strings.SplitSeq(*matcherSizes, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n <= 0 {
				panic(fmt.Sprintf("-matcher.sizes: bad size %q", f))
			}
			sizes = append(sizes, n)
		}
		return sizes
	}
	sizes := []int{100_000}
	if *matcherBig {
		sizes = append(sizes, 1_000_000)
	}
	if *matcherHuge {
		sizes = append(sizes, 10_000_000)
	}
	return sizes
}

// BenchmarkMatcherLookup measures one lookup of a query among n works (see -matcher.shape), at
// several hashing.MaxPDistance values, for near copies of registered works and for unrelated
// pictures, one goroutine. It reports the 99th percentile latency (p99-ns) and lookups/s.
func BenchmarkMatcherLookup(b *testing.B) {
	for _, n := range benchSizes() {
		for _, r := range []int{8, 10, 12, 14, 16} {
			for _, kind := range []string{"near", "random"} {
				if n >= 10_000_000 && r > 12 {
					continue // seconds a lookup
				}
				b.Run(fmt.Sprintf("works=%d/R=%d/%s", n, r, kind), func(b *testing.B) {
					bm := matcherOf(b, n)
					old := hashing.MaxPDistance
					hashing.MaxPDistance = r
					defer func() { hashing.MaxPDistance = old }()
					qs := benchQueries(bm.entries, 512, kind == "near", uint64(r))
					th := hashing.DefaultThresholds
					lat := make([]time.Duration, 0, 1024)
					found, i := 0, 0
					b.ReportAllocs()
					cpu0 := processCPU()
					for b.Loop() {
						q := qs[i%len(qs)]
						i++
						t0 := time.Now()
						found += len(bm.m.Lookup(q, th, 10))
						lat = append(lat, time.Since(t0))
					}
					if cpu := processCPU() - cpu0; cpu > 0 {
						b.ReportMetric(float64(cpu.Nanoseconds())/float64(i), "cpu-ns/op")
					}
					reportLatency(b, lat)
					b.ReportMetric(float64(found)/float64(i), "found/op")
				})
			}
		}
	}
}

// BenchmarkMatcherLookupParallel runs lookups on every core at once (R=12, near copies).
func BenchmarkMatcherLookupParallel(b *testing.B) {
	for _, n := range benchSizes() {
		b.Run(fmt.Sprintf("works=%d/R=12", n), func(b *testing.B) {
			bm := matcherOf(b, n)
			old := hashing.MaxPDistance
			hashing.MaxPDistance = 12
			defer func() { hashing.MaxPDistance = old }()
			qs := benchQueries(bm.entries, 512, true, 99)
			var next atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					bm.m.Lookup(qs[next.Add(1)%int64(len(qs))], hashing.DefaultThresholds, 10)
				}
			})
		})
	}
}

func reportLatency(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	p := func(q float64) float64 { return float64(lat[min(len(lat)-1, int(q*float64(len(lat))))].Nanoseconds()) }
	b.ReportMetric(p(0.50), "p50-ns")
	b.ReportMetric(p(0.99), "p99-ns")
	var sum time.Duration
	for _, d := range lat {
		sum += d
	}
	b.ReportMetric(float64(len(lat))/sum.Seconds(), "lookups/s")
}

// BenchmarkMatcherLoad measures a cold start: loading n works from memory into a new matcher
// (Run until Ready), and the heap the matcher then holds per work.
func BenchmarkMatcherLoad(b *testing.B) {
	for _, n := range benchSizes() {
		b.Run(fmt.Sprintf("works=%d", n), func(b *testing.B) {
			benchMu.Lock()
			clear(benchMatchers)
			benchMu.Unlock()
			s := &memStore{entries: benchEntries(n, 1)}
			var heap uint64
			var cpu time.Duration
			for b.Loop() {
				b.StopTimer()
				before := heapInUse()
				cpu0 := processCPU()
				b.StartTimer()
				m, _ := loadMatcher(b, s)
				b.StopTimer()
				cpu += processCPU() - cpu0
				heap = heapInUse() - before
				runtime.KeepAlive(m)
				b.StartTimer()
			}
			b.ReportMetric(float64(heap)/float64(n), "heap-B/work")
			b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
		})
	}
}

// BenchmarkMatcherLoadRedis measures a cold start from a private Redis holding n works
// (20k, 200k with -matcher.big, or -matcher.redis; filling Redis through CreateWork, about
// 12k works a second, is the slow part).
func BenchmarkMatcherLoadRedis(b *testing.B) {
	n := 20_000
	if *matcherBig {
		n = 200_000
	}
	if *matcherRedis > 0 {
		n = *matcherRedis
	}
	s := openRedis(b, redistest.Start(b))
	entries := benchEntries(n, 5)
	start := time.Now()
	var wg sync.WaitGroup
	var fail atomic.Value
	work := make(chan index.MatchEntry)
	for range 16 {
		wg.Go(func() {
			for e := range work {
				w := &index.Work{ID: e.ID, CreatorID: e.CreatorID, SHA256: fmt.Sprintf("%064x", e.Fingerprint.Views[0].P), Fingerprint: e.Fingerprint}
				if _, err := s.CreateWork(context.Background(), w); err != nil {
					fail.Store(err)
				}
			}
		})
	}
	for _, e := range entries {
		work <- e
	}
	close(work)
	wg.Wait()
	if err, _ := fail.Load().(error); err != nil {
		b.Fatal(err)
	}
	b.Logf("filled Redis with %d works in %v", n, time.Since(start))
	entries = nil
	b.Run(fmt.Sprintf("works=%d", n), func(b *testing.B) {
		cpu0 := processCPU()
		for b.Loop() {
			m, _ := loadMatcher(b, s)
			if m.Len() != n {
				b.Fatalf("loaded %d works, want %d", m.Len(), n)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/work")
		b.ReportMetric((processCPU()-cpu0).Seconds()/float64(b.N), "cpu-s/op")
	})
}

// BenchmarkMatcherPut measures Put of new works into a loaded matcher, amortizing the
// tail's merges into the mid segment and, every 32Ki works, the merge of the mid segment into
// the base (done within Put here, as Run is not running).
func BenchmarkMatcherPut(b *testing.B) {
	for _, n := range benchSizes() {
		b.Run(fmt.Sprintf("works=%d", n), func(b *testing.B) {
			m, _ := loadMatcher(b, &memStore{n: n, seed: 3})
			fps := benchEntries(4096, 4)
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				e := fps[i%len(fps)]
				e.ID = fmt.Sprintf("new_%08d", i)
				i++
				m.Put(e)
			}
		})
	}
}
