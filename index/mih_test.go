package index

import (
	"math/bits"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestPlanRadiiCovers: for every chunking and radius, the plan probes enough for the
// pigeonhole argument (sum of r_i+1 > R), and no table beyond its width.
func TestPlanRadiiCovers(t *testing.T) {
	for _, widths := range [][]int{chunkWidths(3), chunkWidths(4), chunkWidths(5), chunkWidths(6), {4, 22, 22, 16}, {1, 21, 21, 21}} {
		tabs := make([]mihTable, len(widths))
		for i, w := range widths {
			tabs[i].nbits = uint8(w)
		}
		for _, nviews := range []int{1000, 14_000_000} {
			for r := range 64 {
				radii, cost := planRadii(tabs, nviews, r)
				sum := 0
				for i, ri := range radii {
					if ri < -1 || ri > widths[i] {
						t.Fatalf("widths %v R=%d: radius %d of a %d-bit chunk", widths, r, ri, widths[i])
					}
					sum += ri + 1
				}
				if sum < r+1 || cost <= 0 {
					t.Errorf("widths %v R=%d: radii %v cover %d bits, want %d (cost %v)", widths, r, radii, sum, r+1, cost)
				}
			}
		}
	}
}

// TestGatherSpans: the probes are every chunk value within the radius, once each, with the
// distance left for the rest of the hash.
func TestGatherSpans(t *testing.T) {
	const nb = 10
	tab := mihTable{shift: 7, nbits: nb, off: make([]uint32, 1<<nb+1)}
	for i := range tab.off {
		tab.off[i] = uint32(i) // bucket k holds posting k
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 50 {
		q := rng.Uint64()
		r, maxDist := rng.IntN(5), 12
		spans := tab.gatherSpans(q, r, maxDist, nil)
		if got, want := len(spans), int(ballSize(nb, r)); got != want {
			t.Fatalf("r=%d: %d probes, want %d", r, got, want)
		}
		seen := map[uint32]bool{}
		for _, s := range spans {
			d := bits.OnesCount64(uint64(s.s) ^ tab.chunk(q))
			if s.e != s.s+1 || seen[s.s] || d > r || int(s.lim) != maxDist-d {
				t.Fatalf("r=%d: bad span %+v (chunk distance %d, seen %v)", r, s, d, seen[s.s])
			}
			seen[s.s] = true
		}
	}
}

// TestScanSpans: the interleaved scan finds exactly what a plain filter finds.
func TestScanSpans(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	post := make([]uint64, 5000)
	for i := range post {
		post[i] = rng.Uint64()
	}
	for range 200 {
		qp, pm := rng.Uint64(), uint64(1)<<(20+rng.IntN(44))-1
		var spans []span
		for range rng.IntN(40) {
			s := uint32(rng.IntN(len(post)))
			e := min(uint32(len(post)), s+uint32(rng.IntN(30)))
			spans = append(spans, span{s, e, int32(rng.IntN(24))})
		}
		var want []uint64
		for _, g := range spans {
			for _, x := range post[g.s:g.e] {
				if bits.OnesCount64((x^qp)&pm) <= int(g.lim) {
					want = append(want, x)
				}
			}
		}
		got := scanSpans(post, spans, qp, pm, nil)
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Fatalf("scanSpans found %d postings, a plain scan %d", len(got), len(want))
		}
	}
}

func TestChooseChunks(t *testing.T) {
	for _, c := range []struct{ works, views, r int }{
		{300, 4200, 12}, {30_000, 420_000, 10}, {100_000, 1_400_000, 12}, {1_000_000, 14_000_000, 10},
		{1_000_000, 14_000_000, 16}, {10_000_000, 140_000_000, 10}, {10, 140, 30},
	} {
		w := chooseChunks(c.works, c.views, c.r)
		sum := 0
		for _, b := range w {
			sum += b
		}
		if sum != 64 || w[0] > maxChunkBits || (c.works >= 1<<16 && len(w) > 4) {
			t.Errorf("chooseChunks(%d works, %d views, R=%d) = %v", c.works, c.views, c.r, w)
		}
		t.Logf("%d works, %d views, R=%d: chunks %v", c.works, c.views, c.r, w)
	}
}
