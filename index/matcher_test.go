package index_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/aura-art/aura/hashing"
	"github.com/aura-art/aura/index"
	"github.com/aura-art/aura/index/storetest"
	"github.com/aura-art/aura/internal/redistest"
)

// Fixed variant lists, so that the tests and benchmarks keep the shape the matcher is
// specified for while hashing's lists are tuned: a reference has the whole picture, sometimes
// its trimmed box, and these 12 variants (13 or 14 views); a query has 8 orientations,
// sometimes of the trimmed box too, and its centre (9 or 17 views).
var (
	testRefVariants = []hashing.Variant{
		{Region: hashing.Region{X: 10, Y: 10, W: 80, H: 80}}, {Region: hashing.Region{X: 0, Y: 0, W: 80, H: 80}},
		{Region: hashing.Region{X: 20, Y: 0, W: 80, H: 80}}, {Region: hashing.Region{X: 0, Y: 20, W: 80, H: 80}},
		{Region: hashing.Region{X: 20, Y: 20, W: 80, H: 80}}, {Region: hashing.Region{X: 10, Y: 0, W: 80, H: 80}},
		{Region: hashing.Region{X: 0, Y: 10, W: 80, H: 80}}, {Region: hashing.Region{X: 20, Y: 10, W: 80, H: 80}},
		{Region: hashing.Region{X: 10, Y: 20, W: 80, H: 80}}, {Region: hashing.Region{X: 20, Y: 20, W: 60, H: 60}},
		{Angle: 15}, {Angle: -15},
	}
	testQueryVariants = []hashing.Variant{{Region: hashing.Region{X: 20, Y: 20, W: 60, H: 60}}}
)

// fpGen makes random fingerprints shaped like the real ones, and near copies of them.
type fpGen struct{ r *rand.Rand }

func newFPGen(seed uint64) fpGen { return fpGen{rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))} }

func (g fpGen) hashes() hashing.Hashes {
	return hashing.Hashes{P: hashing.Hash(g.r.Uint64()), D: hashing.Hash(g.r.Uint64()), A: hashing.Hash(g.r.Uint64())}
}

// flip flips k distinct random bits of h.
func (g fpGen) flip(h hashing.Hash, k int) hashing.Hash {
	for _, b := range g.r.Perm(64)[:k] {
		h ^= 1 << b
	}
	return h
}

// ref returns a Reference-shaped fingerprint: the whole picture, sometimes its trimmed box,
// and the reference variants (13 or 14 views).
func (g fpGen) ref() *hashing.Fingerprint {
	fp := &hashing.Fingerprint{Version: hashing.FormatVersion, LowDetail: g.r.IntN(10) == 0}
	fp.Views = append(fp.Views, hashing.View{Variant: hashing.Variant{Region: hashing.Full}, Hashes: g.hashes()})
	if g.r.IntN(4) == 0 {
		fp.Views = append(fp.Views, hashing.View{Variant: hashing.Variant{Trimmed: true, Region: hashing.Full}, Hashes: g.hashes()})
	}
	for _, v := range testRefVariants {
		fp.Views = append(fp.Views, hashing.View{Variant: v, Hashes: g.hashes()})
	}
	if g.r.IntN(2) == 0 {
		fp.Views = append(fp.Views, hashing.View{Variant: hashing.Variant{Opened: true, Region: hashing.Full}, Hashes: g.hashes()})
	}
	return fp
}

// queryVariants are the variants of a Query fingerprint: eight orientations, sometimes of the
// trimmed box too, and the query variants (9 or 17 views).
func (g fpGen) queryVariants() []hashing.Variant {
	var vs []hashing.Variant
	bases := []bool{false}
	if g.r.IntN(4) == 0 {
		bases = append(bases, true)
	}
	for _, tr := range bases {
		for o := range hashing.Orientation(8) {
			vs = append(vs, hashing.Variant{Trimmed: tr, Orientation: o, Region: hashing.Full})
		}
	}
	vs = append(vs, testQueryVariants...)
	if g.r.IntN(2) == 0 {
		vs = append(vs, hashing.Variant{Opened: true, Region: hashing.Full})
	}
	return vs
}

// query returns an unrelated Query-shaped fingerprint.
func (g fpGen) query() *hashing.Fingerprint {
	fp := &hashing.Fingerprint{Version: hashing.FormatVersion, LowDetail: g.r.IntN(10) == 0}
	for _, v := range g.queryVariants() {
		fp.Views = append(fp.Views, hashing.View{Variant: v, Hashes: g.hashes()})
	}
	return fp
}

// near returns a Query-shaped fingerprint whose views are copies of random views of ref with
// pbits[i] (a random pick) P bits flipped and a few D and A bits flipped.
func (g fpGen) near(ref *hashing.Fingerprint, pbits ...int) *hashing.Fingerprint {
	fp := &hashing.Fingerprint{Version: hashing.FormatVersion, LowDetail: g.r.IntN(10) == 0}
	for _, v := range g.queryVariants() {
		src := ref.Views[g.r.IntN(len(ref.Views))].Hashes
		h := hashing.Hashes{
			P: g.flip(src.P, pbits[g.r.IntN(len(pbits))]),
			D: g.flip(src.D, g.r.IntN(12)),
			A: g.flip(src.A, g.r.IntN(12)),
		}
		fp.Views = append(fp.Views, hashing.View{Variant: v, Hashes: h})
	}
	return fp
}

// linearLookup is the specification of Matcher.Lookup: Compare with every enabled work.
func linearLookup(works map[string]index.MatchEntry, q *hashing.Fingerprint, th hashing.Thresholds, limit int) []index.Candidate {
	var out []index.Candidate
	for _, e := range works {
		if e.Disabled {
			continue
		}
		m := hashing.Compare(q, e.Fingerprint)
		low := q.LowDetail || e.Fingerprint.LowDetail
		if th.Accept(m, low) {
			out = append(out, index.Candidate{WorkID: e.ID, CreatorID: e.CreatorID, Match: m, LowDetail: low})
		}
	}
	slices.SortFunc(out, func(a, b index.Candidate) int {
		if c := cmp.Compare(b.Match.Score, a.Match.Score); c != 0 {
			return c
		}
		return strings.Compare(a.WorkID, b.WorkID)
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out
}

// setGlobals sets hashing's tuning variables for one test and restores them after. Tests that
// call it must not run in parallel.
func setGlobals(t *testing.T, maxP int, orient, crop, rotate, trim float64) {
	t.Helper()
	oldP, oldPen := hashing.MaxPDistance, hashing.Penalties
	t.Cleanup(func() { hashing.MaxPDistance, hashing.Penalties = oldP, oldPen })
	hashing.MaxPDistance = maxP
	hashing.Penalties.Orient, hashing.Penalties.Crop, hashing.Penalties.Rotate, hashing.Penalties.Trim = orient, crop, rotate, trim
}

// model is a matcher under test and the works it should hold.
type model struct {
	t     *testing.T
	g     fpGen
	m     *index.Matcher
	works map[string]index.MatchEntry // disabled ones included
	ids   []string                    // every id ever used
	seq   uint64
}

func newModel(t *testing.T, seed uint64, m *index.Matcher) *model {
	return &model{t: t, g: newFPGen(seed), m: m, works: map[string]index.MatchEntry{}}
}

// step makes one random change, through Put, Remove or Apply.
func (md *model) step() {
	g := md.g
	md.seq++
	at := time.Unix(1700000000, 0).Add(time.Duration(md.seq) * time.Second).UTC()
	pick := func() (index.MatchEntry, bool) {
		if len(md.ids) == 0 {
			return index.MatchEntry{}, false
		}
		e, ok := md.works[md.ids[g.r.IntN(len(md.ids))]]
		return e, ok
	}
	switch k := g.r.IntN(100); {
	case k < 60 || len(md.ids) == 0: // a new work; sometimes a duplicate fingerprint (ties)
		id := fmt.Sprintf("w_%06d", len(md.ids))
		md.ids = append(md.ids, id)
		fp := g.ref()
		if old, ok := pick(); ok && g.r.IntN(10) == 0 {
			fp = old.Fingerprint
		}
		e := index.MatchEntry{ID: id, CreatorID: fmt.Sprintf("c%d", g.r.IntN(20)), Fingerprint: fp, Disabled: g.r.IntN(20) == 0}
		md.works[id] = e
		if g.r.IntN(2) == 0 {
			md.m.Put(e)
		} else {
			md.m.Apply(index.Change{Seq: md.seq, Op: index.OpPut, WorkID: id, CreatorID: e.CreatorID, Disabled: e.Disabled, Fingerprint: fp, At: at})
		}
	case k < 70: // replace a work's fingerprint
		if e, ok := pick(); ok {
			e.Fingerprint, e.Disabled = g.ref(), false
			md.works[e.ID] = e
			md.m.Put(e)
		}
	case k < 80: // disable
		if e, ok := pick(); ok {
			e.Disabled = true
			md.works[e.ID] = e
			md.m.Apply(index.Change{Seq: md.seq, Op: index.OpDisable, WorkID: e.ID, CreatorID: e.CreatorID, Disabled: true, At: at})
		}
	case k < 90: // enable
		if e, ok := pick(); ok && e.Disabled {
			e.Disabled = false
			md.works[e.ID] = e
			md.m.Apply(index.Change{Seq: md.seq, Op: index.OpEnable, WorkID: e.ID, CreatorID: e.CreatorID, Fingerprint: e.Fingerprint, At: at})
		}
	default: // delete
		if e, ok := pick(); ok {
			delete(md.works, e.ID)
			if g.r.IntN(2) == 0 {
				md.m.Remove(e.ID)
			} else {
				md.m.Apply(index.Change{Seq: md.seq, Op: index.OpDelete, WorkID: e.ID, CreatorID: e.CreatorID, At: at})
			}
		}
	}
}

func (md *model) enabled() int {
	n := 0
	for _, e := range md.works {
		if !e.Disabled {
			n++
		}
	}
	return n
}

// randomQuery is an unrelated fingerprint, or a near copy of a work (enabled or not). Half
// of the near copies are the hardest case for an index: an unrelated fingerprint with one view
// exactly r P bits from a view of the work (the bits spread evenly, which puts about r/m of
// them in each of m chunks, or at random), so that only an exact index finds the work. The
// others have all views near the work, at P distances around r.
func (md *model) randomQuery(r int) *hashing.Fingerprint {
	g := md.g
	if len(md.ids) == 0 || g.r.IntN(5) == 0 {
		return g.query()
	}
	src := md.g.ref()
	if e, ok := md.works[md.ids[g.r.IntN(len(md.ids))]]; ok {
		src = e.Fingerprint
	}
	r = min(r, 60)
	if g.r.IntN(2) == 0 {
		return g.near(src, 0, max(0, r-1), r, r, r+1, r+2, r/2)
	}
	q := g.query()
	v := &q.Views[g.r.IntN(len(q.Views))]
	h := src.Views[g.r.IntN(len(src.Views))].Hashes
	if g.r.IntN(2) == 0 && r > 0 {
		p, start := h.P, g.r.IntN(64)
		for i := range r {
			p ^= 1 << ((start + i*64/r) % 64)
		}
		h.P = p
	} else {
		h.P = g.flip(h.P, r)
	}
	v.Hashes = hashing.Hashes{P: h.P, D: g.flip(h.D, g.r.IntN(8)), A: g.flip(h.A, g.r.IntN(8))}
	return q
}

// boundaryQuery is an unrelated fingerprint but for one view, which is as far from a view
// of a work (enabled or not) as th still accepts for their pairing: at a random P distance,
// and the largest D distance that hashing.PairScore still scores at the threshold, with the
// average hashes equal. Only a search that reaches that far finds the work.
func (md *model) boundaryQuery(th hashing.Thresholds) *hashing.Fingerprint {
	g := md.g
	q := g.query()
	e, ok := md.works[md.ids[g.r.IntN(len(md.ids))]]
	if !ok {
		return q
	}
	vi := 1 + g.r.IntN(len(q.Views)-1)
	v := &q.Views[vi]
	rv := e.Fingerprint.Views[g.r.IntN(len(e.Fingerprint.Views))]
	t := th.Match
	if q.LowDetail || e.Fingerprint.LowDetail {
		t = th.LowDetail
	}
	p := g.r.IntN(hashing.MaxPDistance + 1)
	for d := 64; d >= 0; d-- {
		if hashing.PairScore(v.Variant, rv.Variant, hashing.Distances{P: p, D: d})-t >= 0 {
			v.Hashes = hashing.Hashes{P: g.flip(rv.P, p), D: g.flip(rv.D, d), A: rv.A}
			break
		}
	}
	if g.r.IntN(2) == 0 {
		// An earlier view of another variant with the same hashes, as a symmetric
		// picture's turned views have: the search must go as far as either needs.
		q.Views[g.r.IntN(vi)].Hashes = v.Hashes
	}
	return q
}

// check compares a lookup with the linear scan.
func (md *model) check(q *hashing.Fingerprint, th hashing.Thresholds, limit int) int {
	md.t.Helper()
	want := linearLookup(md.works, q, th, limit)
	got := md.m.Lookup(q, th, limit)
	if diff := gocmp.Diff(want, got); diff != "" {
		md.t.Fatalf("Lookup differs from a linear scan (-want +got):\n%s", diff)
	}
	return len(got)
}

// TestMatcherExact checks Lookup against a linear scan over random changes and queries, for
// several radii and chunkings, with tiers small enough that works move through the tail, the
// mid segment and merges into the base, and with postings too short to be exact. The low
// thresholds let MaxPDistance gate the search; at the shipped ones (and others near them), the
// bounds that hashing.PairScore sets do (Matcher.bounds), and boundary queries put a view
// exactly at the largest P and D distances a pairing is still accepted at, sometimes with an
// earlier view of another variant holding the same hashes.
func TestMatcherExact(t *testing.T) {
	low := hashing.Thresholds{Match: 0.35, LowDetail: 0.5}
	shipped := hashing.DefaultThresholds
	type config struct {
		name    string
		widths  []int
		part    int   // cap on posting bits
		radii   []int // MaxPDistance values
		tailMax int
		th      hashing.Thresholds
		nominal bool // plan searches by the nominal cost of the indexes, not their heat
	}
	all := []int{0, 5, 8, 12, 16, 24, 64}
	configs := []config{
		{"auto", nil, 0, all, 9, low, false},
		{"4x16", []int{16, 16, 16, 16}, 0, all, 9, low, false},
		{"5x13", []int{13, 13, 13, 13, 12}, 0, all, 9, low, false},
		{"6x11", []int{11, 11, 11, 11, 10, 10}, 0, all, 9, low, false},
		{"3x22", []int{22, 21, 21}, 0, []int{0, 8, 12}, 40, low, false},
		{"uneven", []int{4, 22, 22, 16}, 0, []int{3, 12, 16}, 40, low, false},
		{"auto-inexact", nil, 24, []int{5, 12, 16}, 9, low, false},
		{"4x16-inexact", []int{16, 16, 16, 16}, 20, []int{8, 12}, 9, low, false},
		{"auto-shipped", nil, 0, []int{8, 12, 16}, 9, shipped, false},
		{"4x16-shipped", []int{16, 16, 16, 16}, 0, []int{12}, 9, shipped, false},
		{"auto-inexact-shipped", nil, 24, []int{12}, 9, shipped, false},
		{"auto-0.6", nil, 0, []int{12}, 9, hashing.Thresholds{Match: 0.6, LowDetail: 0.7}, false},
		{"auto-lowdetail-lower", nil, 0, []int{12}, 9, hashing.Thresholds{Match: 0.8, LowDetail: 0.65}, false},
		{"auto-nominal", nil, 0, []int{5, 12, 16}, 9, low, true},
		{"auto-nominal-shipped", nil, 0, []int{8, 12}, 9, shipped, true},
		{"auto-inexact-nominal-shipped", nil, 24, []int{12}, 9, shipped, true},
	}
	for _, c := range configs {
		for _, r := range c.radii {
			if (testing.Short() || raceEnabled) && r != 12 && !(raceEnabled && r == 64 && c.name == "auto") {
				continue
			}
			if raceEnabled && c.tailMax > 9 { // 22-bit chunks: slow to build under the race detector
				continue
			}
			t.Run(fmt.Sprintf("%s/R=%d", c.name, r), func(t *testing.T) {
				setGlobals(t, r, 0.04, 0.06, 0.06, 0.04)
				m := index.NewMatcher()
				index.SetMatcherLayout(m, c.tailMax, 150, 300, c.widths, c.part)
				index.SetMatcherPlanByHeat(m, !c.nominal)
				seed := uint64(r)
				for _, b := range []byte(c.name) {
					seed = seed*31 + uint64(b)
				}
				md := newModel(t, seed, m)
				found, queries := 0, 0
				th := c.th
				qr := func() int { // the P distance of the queries' near views
					if th == low {
						return r
					}
					return md.g.r.IntN(r + 1)
				}
				for i := range 900 {
					md.step()
					if i%30 == 29 {
						for range 4 {
							found += md.check(md.randomQuery(qr()), th, 0)
							queries++
						}
						if th != low {
							for range 4 {
								found += md.check(md.boundaryQuery(th), th, 0)
								queries++
							}
						}
						md.check(md.randomQuery(qr()), th, 3)
					}
				}
				if got, want := m.Len(), md.enabled(); got != want {
					t.Errorf("Len() = %d, want %d", got, want)
				}
				works, indexed := index.MatcherSegments(m)
				t.Logf("%d queries found %d candidates; segments %v indexed %v", queries, found, works, indexed)
				if r < 64 && found == 0 {
					t.Error("no query found anything: the test does not test")
				}
			})
		}
	}
}

// TestMatcherSemantics walks one work through put, replace, disable, enable and delete.
func TestMatcherSemantics(t *testing.T) {
	setGlobals(t, 12, 0, 0, 0, 0)
	g := newFPGen(7)
	th := hashing.DefaultThresholds
	m := index.NewMatcher()
	fpA, fpB := g.ref(), g.ref()
	fpA.LowDetail, fpB.LowDetail = false, false
	other := g.ref()
	m.Put(index.MatchEntry{ID: "other", CreatorID: "bob", Fingerprint: other})
	ids := func(q *hashing.Fingerprint) []string {
		var out []string
		for _, c := range m.Lookup(q, th, 0) {
			out = append(out, c.WorkID)
		}
		return out
	}
	qA, qB := g.near(fpA, 0, 1, 2), g.near(fpB, 0, 1, 2)
	qA.LowDetail, qB.LowDetail = false, false
	expect := func(step string, wantA, wantB []string, wantLen int) {
		t.Helper()
		if got := ids(qA); !slices.Equal(got, wantA) {
			t.Errorf("%s: lookup of A = %v, want %v", step, got, wantA)
		}
		if got := ids(qB); !slices.Equal(got, wantB) {
			t.Errorf("%s: lookup of B = %v, want %v", step, got, wantB)
		}
		if got := m.Len(); got != wantLen {
			t.Errorf("%s: Len() = %d, want %d", step, got, wantLen)
		}
	}
	expect("empty", nil, nil, 1)

	m.Put(index.MatchEntry{ID: "w1", CreatorID: "alice", Fingerprint: fpA})
	expect("put", []string{"w1"}, nil, 2)
	c := m.Lookup(qA, th, 0)[0]
	if c.CreatorID != "alice" || c.LowDetail || c.Match.Score < 0.8 {
		t.Errorf("candidate = %+v, want alice's, not low-detail, score >= 0.8", c)
	}

	m.Put(index.MatchEntry{ID: "w1", CreatorID: "alice", Fingerprint: fpB})
	expect("replace", nil, []string{"w1"}, 2)

	m.Apply(index.Change{Seq: 5, Op: index.OpDisable, WorkID: "w1", CreatorID: "alice", Disabled: true, At: time.Now()})
	expect("disable", nil, nil, 1)
	if m.Seq() != 5 {
		t.Errorf("Seq() = %d after applying 5", m.Seq())
	}

	m.Apply(index.Change{Seq: 6, Op: index.OpEnable, WorkID: "w1", CreatorID: "alice", Fingerprint: fpB, At: time.Now()})
	expect("enable", nil, []string{"w1"}, 2)

	m.Put(index.MatchEntry{ID: "w2", CreatorID: "carol", Fingerprint: fpB})
	expect("same picture twice", nil, []string{"w1", "w2"}, 3) // a tie, by id
	if got := m.Lookup(qB, th, 1); len(got) != 1 || got[0].WorkID != "w1" {
		t.Errorf("limit 1: %v, want w1 only", got)
	}

	m.Put(index.MatchEntry{ID: "w2", CreatorID: "carol", Fingerprint: fpB, Disabled: true})
	expect("put disabled", nil, []string{"w1"}, 2)

	m.Apply(index.Change{Seq: 4, Op: index.OpDelete, WorkID: "w1", CreatorID: "alice", At: time.Now()})
	expect("delete", nil, nil, 1)
	if m.Seq() != 6 {
		t.Errorf("Seq() = %d, want 6: an older change does not move it back", m.Seq())
	}
	m.Remove("w1")
	m.Remove("never")
	m.Put(index.MatchEntry{ID: "empty", CreatorID: "dave", Fingerprint: &hashing.Fingerprint{}})
	m.Put(index.MatchEntry{ID: "nil", CreatorID: "dave"})
	expect("no views", nil, nil, 1)

	if got := m.Lookup(nil, th, 0); got != nil {
		t.Errorf("Lookup(nil) = %v", got)
	}
	// Thresholds that accept even no pair in range accept every work, as Compare + Accept do.
	all := hashing.Thresholds{Match: -2, LowDetail: -2}
	if got := m.Lookup(g.query(), all, 0); len(got) != 1 || got[0].WorkID != "other" {
		t.Errorf("accept-all lookup = %v, want [other]", got)
	}
	st := m.Stats()
	if st.Works != 1 || st.Views != len(other.Views) || st.Seq != 6 || st.Bytes <= 0 || st.AppliedAt.IsZero() || st.ChangeAt.IsZero() {
		t.Errorf("Stats() = %+v", st)
	}
}

// TestMatcherConcurrent runs lookups while another goroutine changes the matcher (run it with
// -race), then checks the final state.
func TestMatcherConcurrent(t *testing.T) {
	setGlobals(t, 12, 0, 0, 0, 0)
	m := index.NewMatcher()
	index.SetMatcherLayout(m, 16, 200, 300, nil, 0)
	md := newModel(t, 3, m)
	th := hashing.Thresholds{Match: 0.4, LowDetail: 0.6}
	var stop atomic.Bool
	var wg sync.WaitGroup
	var lookups atomic.Int64
	for i := range 3 {
		g := newFPGen(uint64(100 + i))
		wg.Go(func() {
			for !stop.Load() {
				q := g.query()
				for _, c := range m.Lookup(q, th, 5) {
					if !th.Accept(c.Match, c.LowDetail) || c.WorkID == "" {
						t.Errorf("bad candidate %+v", c)
					}
				}
				_ = m.Stats()
				lookups.Add(1)
			}
		})
	}
	for range 1500 {
		md.step()
	}
	stop.Store(true)
	wg.Wait()
	for range 20 {
		md.check(md.randomQuery(12), th, 0)
	}
	t.Logf("%d lookups ran during 1500 changes", lookups.Load())
}

// runMatcher starts m.Run on s and returns a function that stops it and returns its error.
func runMatcher(t *testing.T, m *index.Matcher, s index.Store, log *zap.Logger) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx, s, log) }()
	return stopper(t, cancel, done)
}

// stopper returns a function that cancels a Run and waits for its result (once), also
// called in t.Cleanup.
func stopper(t *testing.T, cancel func(), done <-chan error) func() error {
	var once sync.Once
	var err error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				t.Error("Run did not return within 10s of its context ending")
			}
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

func waitReady(t *testing.T, m *index.Matcher) {
	t.Helper()
	select {
	case <-m.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("matcher not ready after 10s")
	}
}

// within polls cond until it holds, for at most d, and returns how long it took.
func within(t *testing.T, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > d {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(200 * time.Microsecond)
	}
	return time.Since(start)
}

// testMatcherRun runs a matcher on a store: it loads what is there, and a work created,
// disabled, enabled or deleted in the store is seen by Lookup within 1s.
func testMatcherRun(t *testing.T, s index.Store) {
	ctx := context.Background()
	th := hashing.DefaultThresholds
	var pre []*index.Work
	for i := range 30 {
		w, err := s.CreateWork(ctx, storetest.NewWork(fmt.Sprintf("creator-%d", i%3)))
		if err != nil {
			t.Fatal(err)
		}
		pre = append(pre, w)
	}
	if err := s.SetDisabled(ctx, pre[0].ID, true); err != nil {
		t.Fatal(err)
	}
	m := index.NewMatcher()
	runMatcher(t, m, s, zaptest.NewLogger(t))
	waitReady(t, m)
	if got := m.Len(); got != 29 {
		t.Errorf("loaded %d works, want 29", got)
	}
	found := func(w *index.Work) bool {
		for _, c := range m.Lookup(w.Fingerprint, th, 0) {
			if c.WorkID == w.ID {
				return true
			}
		}
		return false
	}
	if found(pre[0]) || !found(pre[1]) {
		t.Errorf("after load: disabled work found %v, enabled work found %v", found(pre[0]), found(pre[1]))
	}

	w, err := s.CreateWork(ctx, storetest.NewWork("newcomer"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("created work visible after %v", within(t, time.Second, "created work visible", func() bool { return found(w) }))
	if err := s.SetDisabled(ctx, w.ID, true); err != nil {
		t.Fatal(err)
	}
	t.Logf("disabled work gone after %v", within(t, time.Second, "disabled work gone", func() bool { return !found(w) }))
	if err := s.SetDisabled(ctx, w.ID, false); err != nil {
		t.Fatal(err)
	}
	t.Logf("enabled work back after %v", within(t, time.Second, "enabled work back", func() bool { return found(w) }))
	if err := s.DeleteWork(ctx, pre[1].ID); err != nil {
		t.Fatal(err)
	}
	t.Logf("deleted work gone after %v", within(t, time.Second, "deleted work gone", func() bool { return !found(pre[1]) }))
	within(t, time.Second, "Seq caught up", func() bool {
		cs, err := s.Changes(ctx, m.Seq(), 10)
		return err == nil && len(cs) == 0
	})
	if got := m.Len(); got != 29 {
		t.Errorf("Len() = %d, want 29", got)
	}
}

func TestMatcherRunBolt(t *testing.T) {
	testMatcherRun(t, openBolt(t, index.BoltOptions{NoSync: true}))
}

func TestMatcherRunRedis(t *testing.T) {
	testMatcherRun(t, openRedis(t, redistest.Start(t)))
}

// gapStore reports a feed gap once when asked to, and counts loads.
type gapStore struct {
	index.Store
	gap   atomic.Bool
	loads atomic.Int32
}

func (s *gapStore) LoadWorks(ctx context.Context, fn func(index.MatchEntry) error) (uint64, error) {
	s.loads.Add(1)
	return s.Store.LoadWorks(ctx, fn)
}

func (s *gapStore) WaitChanges(ctx context.Context, after uint64, limit int) ([]index.Change, error) {
	cs, err := s.Store.WaitChanges(ctx, after, limit)
	if err == nil && s.gap.CompareAndSwap(true, false) {
		return nil, fmt.Errorf("test: %w", index.ErrFeedGap)
	}
	return cs, err
}

// TestMatcherRunGap: when the feed reports a gap, Run loads again and loses nothing.
func TestMatcherRunGap(t *testing.T) {
	ctx := context.Background()
	s := &gapStore{Store: openBolt(t, index.BoltOptions{NoSync: true})}
	m := index.NewMatcher()
	runMatcher(t, m, s, zaptest.NewLogger(t))
	waitReady(t, m)
	s.gap.Store(true)
	w, err := s.CreateWork(ctx, storetest.NewWork("alice")) // its change is dropped with the gap
	if err != nil {
		t.Fatal(err)
	}
	within(t, 2*time.Second, "work loaded after the gap", func() bool { return m.Len() == 1 })
	if got := s.loads.Load(); got != 2 {
		t.Errorf("%d loads, want 2", got)
	}
	if got := m.Lookup(w.Fingerprint, hashing.DefaultThresholds, 0); len(got) != 1 {
		t.Errorf("lookup after the reload: %v", got)
	}
}

// TestMatcherRunStoreDown: while the store is unreachable Run retries quietly (one log line),
// is not ready, and returns nil when its context ends.
func TestMatcherRunStoreDown(t *testing.T) {
	srv := redistest.StartServer(t)
	s, err := index.OpenRedis(context.Background(), index.RedisOptions{
		URL: "redis://" + srv.Addr, DialTimeout: 100 * time.Millisecond, ReadTimeout: 100 * time.Millisecond, MaxRetries: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	srv.Stop()
	core, logs := observer.New(zapcore.InfoLevel)
	m := index.NewMatcher()
	stop := runMatcher(t, m, s, zap.New(core))
	time.Sleep(1500 * time.Millisecond) // several retries
	select {
	case <-m.Ready():
		t.Error("ready without a store")
	default:
	}
	if err := stop(); err != nil {
		t.Errorf("Run = %v, want nil when its context ends", err)
	}
	if n := logs.FilterMessage("matcher store failed; retrying").Len(); n != 1 {
		t.Errorf("%d failure log lines in 1.5s, want 1: %v", n, logs.All())
	}
}

// TestMatcherRunClosed: Run returns an error wrapping ErrClosed when the store is closed, and
// refuses to run twice at once.
func TestMatcherRunClosed(t *testing.T) {
	s := openBolt(t, index.BoltOptions{NoSync: true})
	m := index.NewMatcher()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx, s, nil) }()
	t.Cleanup(cancel)
	waitReady(t, m)
	if err := m.Run(context.Background(), s, nil); err == nil {
		t.Error("a second Run at once did not fail")
	}
	_ = s.Close()
	select {
	case err := <-done:
		if !errors.Is(err, index.ErrClosed) {
			t.Errorf("Run on a closed store = %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run still running 5s after its store was closed")
	}
}

// TestMatcherRunMerges runs a matcher with tiny tiers, so merges run in the background, while
// the registry-like writer puts works directly and the store's feed re-applies them.
func TestMatcherRunMerges(t *testing.T) {
	setGlobals(t, 12, 0, 0, 0, 0)
	ctx := context.Background()
	s := openBolt(t, index.BoltOptions{NoSync: true})
	m := index.NewMatcher()
	index.SetMatcherLayout(m, 8, 40, 200, nil, 0)
	stop := runMatcher(t, m, s, zaptest.NewLogger(t))
	waitReady(t, m)
	g := newFPGen(11)
	var wg sync.WaitGroup
	var stopLookups atomic.Bool
	wg.Go(func() {
		for !stopLookups.Load() {
			m.Lookup(g.query(), hashing.DefaultThresholds, 10)
		}
	})
	works := map[string]index.MatchEntry{}
	var created []*index.Work
	for i := range 400 {
		w, err := s.CreateWork(ctx, storetest.NewWork(fmt.Sprintf("c%d", i%7)))
		if err != nil {
			t.Fatal(err)
		}
		e := index.MatchEntry{ID: w.ID, CreatorID: w.CreatorID, Fingerprint: w.Fingerprint}
		m.Put(e)
		works[w.ID] = e
		created = append(created, w)
		if i%5 == 4 {
			victim := created[i-3]
			if err := s.DeleteWork(ctx, victim.ID); err != nil {
				t.Fatal(err)
			}
			m.Remove(victim.ID)
			delete(works, victim.ID)
		}
	}
	stopLookups.Store(true)
	wg.Wait()
	within(t, 5*time.Second, "feed applied", func() bool { return m.Len() == len(works) })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	md := &model{t: t, g: newFPGen(12), m: m, works: works}
	for _, w := range created[:40] {
		md.check(md.g.near(w.Fingerprint, 0, 6, 12, 13), hashing.Thresholds{Match: 0.4, LowDetail: 0.6}, 0)
	}
	segs, indexed := index.MatcherSegments(m)
	t.Logf("segments %v indexed %v", segs, indexed)
}
