package index_test

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/aura-art/aura/eval"
	"github.com/aura-art/aura/hashing"
	"github.com/aura-art/aura/index"
)

var (
	matcherCorpus      = flag.String("matcher.corpus", "", "development corpus directory (fixtures/build-corpus.sh) for BenchmarkMatcherCorpus*")
	matcherCorpusWorks = flag.Int("matcher.corpus.works", 1_000_000, "works registered by BenchmarkMatcherCorpusLookup")
)

// corpusFingerprints fingerprints the pictures of the development corpus in dir, in corpus
// order: the first half as references (registered works), the rest as queries (uploads).
// A picture that does not decode is nil.
func corpusFingerprints(b *testing.B, dir string) (fps []*hashing.Fingerprint, half int) {
	b.Helper()
	if dir == "" {
		b.Skip("set -matcher.corpus to the development corpus (fixtures/build-corpus.sh builds ~/.cache/aura/corpus)")
	}
	items, err := eval.LoadCorpus(dir)
	if err != nil {
		b.Fatal(err)
	}
	fps = make([]*hashing.Fingerprint, len(items))
	half = len(items) / 2
	var wg sync.WaitGroup
	next := make(chan int)
	cfg := hashing.DefaultConfig()
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := range next {
				data, err := os.ReadFile(items[i].Path(dir))
				if err != nil {
					continue
				}
				img, err := cfg.Decode(data)
				if err != nil {
					continue
				}
				purpose := hashing.Reference
				if i >= half {
					purpose = hashing.Query
				}
				fps[i] = img.Fingerprint(purpose)
			}
		})
	}
	for i := range items {
		next <- i
	}
	close(next)
	wg.Wait()
	return fps, half
}

// BenchmarkMatcherCorpusSkew measures how much real hashes crowd the matcher's buckets compared
// with the uniform random hashes of the lookup benchmarks. Half of the development corpus is
// registered (reference fingerprints); the query views of the other half probe each 16-bit
// chunk of their P and D hashes at radius 0 and 1, as a 4×16 multi-index does, and the
// postings those probes meet are divided by the number uniform hashes would give. A lookup's
// cost is mostly postings scanned, so the ratio scales the synthetic lookup figures to real
// ones (for a registry of pictures like these). Run it once:
//
//	go test ./index -run '^$' -bench MatcherCorpusSkew -benchtime 1x -matcher.corpus ~/.cache/aura/corpus
func BenchmarkMatcherCorpusSkew(b *testing.B) {
	fps, half := corpusFingerprints(b, *matcherCorpus)
	const groups, keys, chunks = 2, 2, 4
	group := func(v hashing.Variant) int {
		if v.Region.IsFull() && v.Angle == 0 {
			return 0
		}
		return 1
	}
	hashOf := func(v hashing.View, k int) uint64 {
		if k == 1 {
			return uint64(v.D)
		}
		return uint64(v.P)
	}
	var counts [groups][keys][chunks][]int32
	var refViews [groups]int
	for g := range groups {
		for k := range keys {
			for c := range chunks {
				counts[g][k][c] = make([]int32, 1<<16)
			}
		}
	}
	for _, fp := range fps[:half] {
		if fp == nil {
			continue
		}
		for _, v := range fp.Views {
			g := group(v.Variant)
			refViews[g]++
			for k := range keys {
				for c := range chunks {
					counts[g][k][c][hashOf(v, k)>>(16*c)&0xffff]++
				}
			}
		}
	}
	queryViews := 0
	for _, fp := range fps[half:] {
		if fp != nil {
			queryViews += len(fp.Views)
		}
	}
	for b.Loop() {
		for g, name := range []string{"whole", "other"} {
			for k, key := range []string{"P", "D"} {
				for _, r := range []int{0, 1} {
					met := 0.0
					for _, fp := range fps[half:] {
						if fp == nil {
							continue
						}
						for _, v := range fp.Views {
							for c := range chunks {
								x := hashOf(v, k) >> (16 * c) & 0xffff
								n := counts[g][k][c][x]
								if r == 1 {
									for bit := range 16 {
										n += counts[g][k][c][x^1<<bit]
									}
								}
								met += float64(n)
							}
						}
					}
					uniform := float64(queryViews*chunks*refViews[g]) * float64(1+16*r) / (1 << 16)
					b.ReportMetric(met/uniform, fmt.Sprintf("%s-%s-r%d-x", name, key, r))
				}
			}
		}
	}
	b.Logf("%d reference views (%d whole, %d other) from %d pictures; %d query views from %d pictures",
		refViews[0]+refViews[1], refViews[0], refViews[1], half, queryViews, len(fps)-half)
}

// BenchmarkMatcherCorpusLookup measures lookups among works whose hashes are distributed as
// real pictures' are, where the other lookup benchmarks use uniformly random hashes: the
// reference half of the development corpus is registered over and over, as distinct works,
// up to -matcher.corpus.works (1M), and the query half, none of which is registered, is looked
// up. Every bucket of the indexes then holds as many postings as it would in a registry of
// that many pictures like these (with the corpus's few thousand pictures as the sample of
// what pictures look like); only unrelated uploads are measured, which is what most
// uploads are.
//
//	go test ./index -run '^$' -bench MatcherCorpusLookup -benchtime 300x -matcher.corpus ~/.cache/aura/corpus
func BenchmarkMatcherCorpusLookup(b *testing.B) {
	fps, half := corpusFingerprints(b, *matcherCorpus)
	var refs, qs []*hashing.Fingerprint
	for i, fp := range fps {
		switch {
		case fp == nil:
		case i < half:
			refs = append(refs, fp)
		default:
			qs = append(qs, fp)
		}
	}
	n := *matcherCorpusWorks
	entries := make([]index.MatchEntry, n)
	for i := range entries {
		entries[i] = index.MatchEntry{ID: fmt.Sprintf("w_%08d", i), CreatorID: fmt.Sprintf("c_%d", i%(n/10+1)), Fingerprint: refs[i%len(refs)]}
	}
	before := heapInUse()
	m, took := loadMatcher(b, &memStore{entries: entries})
	heap := heapInUse() - before
	b.Logf("%d works (%d distinct pictures) loaded in %v; %d queries", n, len(refs), took, len(qs))
	th := hashing.DefaultThresholds
	lat := make([]time.Duration, 0, 1024)
	found, i := 0, 0
	cpu0 := processCPU()
	for b.Loop() {
		q := qs[i%len(qs)]
		i++
		t0 := time.Now()
		found += len(m.Lookup(q, th, 10))
		lat = append(lat, time.Since(t0))
	}
	if cpu := processCPU() - cpu0; cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(i), "cpu-ns/op")
	}
	reportLatency(b, lat)
	b.ReportMetric(float64(found)/float64(i), "found/op")
	b.ReportMetric(float64(heap)/float64(n), "heap-B/work")
}
