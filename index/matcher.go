package index

import (
	"cmp"
	"math"
	"math/bits"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aura-art/aura/hashing"
)

// Matcher is the in-memory replica of the registry that every worker holds: the fingerprints
// of the enabled works, indexed for Hamming search, so that a lookup costs no round trip to
// the store. Run loads it from a Store and keeps it current from the change feed; Put, Remove
// and Apply change it directly (the registry applies its own writes at once, and the feed
// re-applies them later, idempotently).
//
// Lookups are exact: they return exactly the works a linear scan calling hashing.Compare on
// every enabled work and filtering with Thresholds.Accept would return, in the same order. The
// index is a multi-index over the perception hashes and one over the difference hashes of the
// works' views (see mih.go). The score of a pairing of views (hashing.PairScore) falls as
// either distance grows, so the thresholds bound how far a lookup must search: each query view
// searches each group of views for those within a bits on P or within b(a) bits on D
// (Matcher.bounds), the a chosen for the query view by the modelled cost of the two searches
// and how crowded its buckets are (mihIndex.heat). When nothing gates (hashing.MaxPDistance 64
// or more, or a threshold that accepts any score), lookups scan every work.
//
// A Matcher is safe for concurrent use. Lookups read an immutable snapshot and never wait for
// writers; writers (Put, Remove, Apply, Run) are serialised, and a change is visible to the
// lookups that start after the call that made it returns. Large rebuilds run while lookups
// continue on the previous snapshot. The zero value is not usable; call NewMatcher.
type Matcher struct {
	snap atomic.Pointer[snapshot]

	mu      sync.Mutex // serialises writers; guards st and running
	st      *state
	running bool           // Run is active: base merges run in the background
	merges  sync.WaitGroup // background merges, waited for by Run

	cfg layout // tier sizes and chunking; tests change it

	seq       atomic.Uint64
	appliedAt atomic.Int64 // unix nanoseconds
	changeAt  atomic.Int64

	ready     chan struct{}
	readyOnce sync.Once

	scratch chan *lookupScratch // reusable lookup buffers, a few per core
}

// layout sets the sizes of the tiers (see matcher_state.go) and how segments are indexed.
type layout struct {
	tailMax     int   // works in the tail before it is merged into the mid segment
	midMax      int   // works in the mid segment before it is merged into the base
	minIndexed  int   // views under which a segment is scanned rather than indexed
	widths      []int // chunk widths of every index; nil: chosen by the cost model
	maxPartBits int   // when positive, caps the partial hash bits of a posting (tests)
	forceIndex  bool  // search indexed segments through their index even when a scan is cheaper (tests)
	// heatMinViews is the size, in views, from which the largest segment's searches are
	// planned by the heat of its tables for each query view (qview.choose): about 120 µs a
	// lookup of 19 query views on the development machine, more than it saves in the search
	// of a smaller segment. On the development corpus's hashes (works of 36 views) it took
	// lookups among 30k works from 0.89 to 0.66 ms, and cost 10k works 0.36 → 0.42 ms; it
	// is a number of views, so it holds for works of any shape (1 Mi views: about 17k works
	// of 60 views).
	heatMinViews int
}

// defaultLayout: a tail of 256 works costs a lookup about 20×256×60 comparisons of two hashes;
// a mid segment of 32Ki works is rebuilt in tens of milliseconds.
var defaultLayout = layout{tailMax: 256, midMax: 32 << 10, minIndexed: 4096, heatMinViews: 1 << 20}

// NewMatcher returns an empty matcher. Feed it with Run, or with Put, Remove and Apply.
func NewMatcher() *Matcher {
	m := &Matcher{
		st:      newState(),
		cfg:     defaultLayout,
		ready:   make(chan struct{}),
		scratch: make(chan *lookupScratch, 2*runtime.GOMAXPROCS(0)),
	}
	m.snap.Store(m.st.snapshot())
	return m
}

// Candidate is a registered work that a lookup accepted, with its evidence.
type Candidate struct {
	// WorkID and CreatorID identify the work and its creator.
	WorkID    string
	CreatorID string
	// Match is hashing.Compare's best pairing of the query's views with the work's.
	Match hashing.Match
	// LowDetail reports whether the stricter low-detail threshold applied: the query or the
	// work is low-detail.
	LowDetail bool
}

// MatcherStats describe a matcher, for metrics.
type MatcherStats struct {
	// Works is the number of enabled works held (Len), Views the number of their views.
	Works, Views int
	// Bytes approximates the memory the replica holds: hashes, ids, index and bookkeeping,
	// including removed works not yet compacted away, but not the buffers of running lookups
	// (about 4 bytes a work each, a few per core).
	Bytes int64
	// Segments is the number of parts a lookup searches (1 to 4).
	Segments int
	// Seq is the last change applied (Seq()). AppliedAt is when it was applied and ChangeAt
	// when it was made in the store (Change.At); both are zero until a change is applied.
	// AppliedAt - ChangeAt is the feed lag of the last change.
	Seq       uint64
	AppliedAt time.Time
	ChangeAt  time.Time
}

// Put inserts or replaces a work. A replaced work's old views stop matching in the same
// step. A disabled entry, or one without fingerprint views, is not held: Put then only removes
// the work. Put takes microseconds, plus, every 256 works, a rebuild of the recent works'
// segment (milliseconds), and every 32Ki works a merge of that segment into the base, which
// runs in the background while Run runs and within the call otherwise (seconds at a million
// works): amortized, about 40µs at 100k works and 110µs at 1M. It never blocks lookups.
func (m *Matcher) Put(e MatchEntry) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.putLocked(e)
	m.settleLocked()
}

// Remove removes a work; an unknown id is ignored.
func (m *Matcher) Remove(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.st.remove(id) {
		m.settleLocked()
	}
}

// Apply applies a change of the store's feed: put and enable (re)insert the work with the
// change's entry, disable and delete remove it (a disabled work is not held; its enable
// change carries the fingerprint again). Unknown operations are ignored. Seq() becomes c.Seq
// if that is later.
func (m *Matcher) Apply(c Change) {
	m.applyBatch([]Change{c})
}

// applyBatch applies changes in order, as Apply does, and publishes them to lookups at once,
// which is cheaper than one Apply a change.
func (m *Matcher) applyBatch(cs []Change) {
	if len(cs) == 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range cs {
		switch c.Op {
		case OpPut, OpEnable:
			m.putLocked(c.Entry())
		case OpDisable, OpDelete:
			m.st.remove(c.WorkID)
		}
	}
	m.settleLocked()
	last := cs[len(cs)-1]
	for {
		cur := m.seq.Load()
		if last.Seq <= cur || m.seq.CompareAndSwap(cur, last.Seq) {
			break
		}
	}
	m.changeAt.Store(last.At.UnixNano())
	m.appliedAt.Store(time.Now().UnixNano())
}

func (m *Matcher) putLocked(e MatchEntry) {
	st := m.st
	st.remove(e.ID)
	if !matchable(e) {
		return
	}
	st.appendEntry(e)
	if st.tail.len() >= m.cfg.tailMax {
		m.compactTailLocked()
	}
}

// settleLocked publishes the writer's state to lookups.
func (m *Matcher) settleLocked() { m.snap.Store(m.st.snapshot()) }

// compactTailLocked rebuilds the mid segment with the tail's works, and starts merging it
// into the base when it is full.
func (m *Matcher) compactTailLocked() {
	st := m.st
	mid, dropped := rebuild([]*segment{st.mid, st.tail}, st.dead.has, planningRadius(), m.cfg, st.vgroups)
	st.mid, st.tail = mid, newSegment()
	st.free = append(st.free, dropped...)
	if st.mid.len() >= m.cfg.midMax && !st.merging {
		m.startMergeLocked()
	}
}

// mergeJob merges the frozen mid segment into the base.
type mergeJob struct {
	st           *state
	base, frozen *segment
	dead         deadSet
	r            int
	cfg          layout
	vgroups      [][]uint8
}

func (j *mergeJob) run() (*segment, []uint32) {
	return rebuild([]*segment{j.base, j.frozen}, j.dead.has, j.r, j.cfg, j.vgroups)
}

// startMergeLocked freezes the mid segment and merges it into the base: in the background
// while Run is active (Run waits for it before it returns), at once otherwise.
func (m *Matcher) startMergeLocked() {
	st := m.st
	j := &mergeJob{st: st, base: st.base, frozen: st.mid, dead: st.dead.freeze(), r: planningRadius(), cfg: m.cfg, vgroups: st.vgroups}
	st.frozen, st.mid, st.merging = st.mid, nil, true
	if !m.running {
		m.installMergeLocked(j.run())
		return
	}
	m.merges.Add(1)
	go func() {
		defer m.merges.Done()
		base, dropped := j.run()
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.st != j.st || j.st.base != j.base || j.st.frozen != j.frozen {
			return // the matcher was reloaded meanwhile
		}
		m.installMergeLocked(base, dropped)
		m.settleLocked()
	}()
}

func (m *Matcher) installMergeLocked(base *segment, dropped []uint32) {
	st := m.st
	st.base, st.frozen, st.merging = base, nil, false
	st.free = append(st.free, dropped...)
}

// Len returns the number of enabled works the matcher holds.
func (m *Matcher) Len() int { return m.snap.Load().live }

// Seq returns the Seq of the last change applied (by Apply or Run), or the last Seq a load
// reflected; 0 before either.
func (m *Matcher) Seq() uint64 { return m.seq.Load() }

// Ready returns a channel closed once Run has loaded the store for the first time. It is never
// closed if Run is not called.
func (m *Matcher) Ready() <-chan struct{} { return m.ready }

// Stats returns the matcher's size and the freshness of its last change. It does not block.
func (m *Matcher) Stats() MatcherStats {
	sn := m.snap.Load()
	s := MatcherStats{Works: sn.live, Views: sn.views, Bytes: sn.bytes, Segments: len(sn.segs), Seq: m.seq.Load()}
	if t := m.appliedAt.Load(); t != 0 {
		s.AppliedAt = time.Unix(0, t)
	}
	if t := m.changeAt.Load(); t != 0 {
		s.ChangeAt = time.Unix(0, t).UTC()
	}
	return s
}

// lookupScratch holds the buffers of one lookup.
type lookupScratch struct {
	stamp []uint32 // stamp[segOff+w] == gen: work w of the segment was seen by this lookup
	gen   uint32
	qps   []qview // the query's distinct pairs of P and D hashes, their bounds and radii
	spans []span
	hits  []uint64
	cands []cand
	fp    hashing.Fingerprint
}

type cand struct {
	seg int
	w   uint32
}

func (m *Matcher) getScratch(total int) *lookupScratch {
	var sc *lookupScratch
	select {
	case sc = <-m.scratch:
	default:
		sc = new(lookupScratch)
	}
	if len(sc.stamp) < total {
		sc.stamp, sc.gen = make([]uint32, total+total/4), 0
	}
	sc.gen++
	if sc.gen == 0 {
		clear(sc.stamp)
		sc.gen = 1
	}
	return sc
}

func (m *Matcher) putScratch(sc *lookupScratch) {
	sc.cands = sc.cands[:0]
	select {
	case m.scratch <- sc:
	default:
	}
}

// qview is a distinct pair of P and D hashes of a query, how far an accepted pairing of them
// with a view of each group (groupOf) can be (bd), and how far each index of each group is
// searched for them (r): a work is a candidate when one of its views of group g is within
// r[g][keyP] of p or within r[g][keyD] of d; -1: not at all.
type qview struct {
	p, d uint64
	bd   [numGroups]bounds
	r    [numGroups][numKeys]int8
	// tabRadii is how far each table of the snapshot's largest segment's indexes is probed
	// for this view, where planned (choose): less far where its buckets near the view are
	// crowded, further elsewhere.
	tabRadii [numGroups][numKeys][maxTables]int
	planned  [numGroups][numKeys]bool
}

// bounds is how far apart a query view and a view of a group can be for a threshold to
// accept their pairing: within a bits on P, or further on P but then within b[a+1] bits on
// D, for every a; b[a+1] is -1 when no accepted pairing is further than a on P, so the
// pairings are all within p bits on P (-1: none is accepted).
type bounds struct {
	p int8
	b [65]int8
}

// noBounds accepts no pairing.
var noBounds = func() (b bounds) {
	b.p = -1
	for i := range b.b {
		b.b[i] = -1
	}
	return b
}()

// merge makes b the bounds of the pairings of b or of o.
func (b *bounds) merge(o *bounds) {
	b.p = max(b.p, o.p)
	for i := range b.b {
		b.b[i] = max(b.b[i], o.b[i])
	}
}

// split returns the search of P within a, or of P within a and D within b(a), that costs
// least by cost(key, radius); -1 for a search not made.
func (b *bounds) split(cost func(k, r int) float64) (a, d int8) {
	if b.p < 0 {
		return -1, -1
	}
	best, bestCost := [2]int8{b.p, -1}, cost(keyP, int(b.p))
	for a := -1; a < int(b.p); a++ {
		d := b.b[a+1]
		if d >= 64 {
			continue // a P distance beyond a is accepted whatever D is
		}
		c := 0.0
		if a >= 0 {
			c += cost(keyP, a)
		}
		if d >= 0 {
			c += cost(keyD, int(d))
		}
		if c < bestCost {
			best, bestCost = [2]int8{int8(a), d}, c
		}
	}
	return best[0], best[1]
}

// Lookup returns every enabled work that th accepts for the query q, best score first (ties
// by work id), at most limit of them (0: no limit): exactly the works for which
// th.Accept(hashing.Compare(q, work), q.LowDetail || work.LowDetail) holds. It reads
// hashing.MaxPDistance at each call. It never blocks and is safe for concurrent use; it sees
// the changes published before it started.
//
// Each query view searches each group of views only as far as a pairing with a view of the
// group could still reach the lowest threshold that may apply (see bounds).
func (m *Matcher) Lookup(q *hashing.Fingerprint, th hashing.Thresholds, limit int) []Candidate {
	if q == nil {
		return nil
	}
	sn := m.snap.Load()
	r := hashing.MaxPDistance
	// When nothing gates, or when th accepts even a work with no pair of views in range
	// (Compare's score -1), every work is a candidate.
	all := r >= 64 || th.Accept(hashing.Match{Score: -1}, q.LowDetail) || th.Accept(hashing.Match{Score: -1}, true)
	if len(sn.segs) == 0 || (!all && (r < 0 || len(q.Views) == 0)) {
		return nil
	}
	sc := m.getScratch(sn.total)
	defer m.putScratch(sc)
	sc.qps = sc.qps[:0]
	if !all {
		sc.qps = m.queryViews(sn, q, th, sc.qps)
		if len(sc.qps) == 0 {
			return nil // no view of q can pair with any view well enough
		}
		for i := range sc.qps {
			sc.qps[i].choose(sn.big)
		}
	}
	for i, sg := range sn.segs {
		switch {
		case all:
			sc.linear(sn, i, sg, true)
		case !sg.indexed():
			sc.linear(sn, i, sg, false)
		default:
			cost := 0.0
			for qi := range sc.qps {
				qv := &sc.qps[qi]
				for g, ixs := range sg.idx {
					for k, ix := range ixs {
						if r := qv.r[g][k]; ix != nil && r >= 0 {
							cost += ix.plan(int(r)).cost
						}
					}
				}
			}
			if !sg.forceIndex && cost >= float64(sg.views()*len(sc.qps))*costLinear {
				sc.linear(sn, i, sg, false)
			} else {
				sc.search(sn, i, sg)
			}
		}
	}
	var out []Candidate
	for _, c := range sc.cands {
		sg := sn.segs[c.seg]
		if !all && !sc.possible(sn, sg, c.w) {
			continue
		}
		fp := sc.fingerprint(sn, sg, c.w)
		mt := hashing.Compare(q, fp)
		low := q.LowDetail || fp.LowDetail
		if th.Accept(mt, low) {
			out = append(out, Candidate{WorkID: sg.id(c.w), CreatorID: sn.creators[sg.creator[c.w]], Match: mt, LowDetail: low})
		}
	}
	slices.SortFunc(out, func(a, b Candidate) int {
		if c := cmp.Compare(b.Match.Score, a.Match.Score); c != 0 {
			return c
		}
		return strings.Compare(a.WorkID, b.WorkID)
	})
	if limit > 0 && len(out) > limit {
		out = slices.Clip(out[:limit])
	}
	return out
}

// queryViews appends the distinct P and D hashes of q with the bounds of their pairings with
// each group's views, leaving out those that no threshold of th can accept.
func (m *Matcher) queryViews(sn *snapshot, q *hashing.Fingerprint, th hashing.Thresholds, out []qview) []qview {
	for _, v := range q.Views {
		bd := m.bounds(sn, v.Variant, th, q.LowDetail)
		if bd[groupWhole].p < 0 && bd[groupOther].p < 0 {
			continue
		}
		i := slices.IndexFunc(out, func(x qview) bool { return x.p == uint64(v.P) && x.d == uint64(v.D) })
		if i < 0 {
			out = append(out, qview{p: uint64(v.P), d: uint64(v.D), bd: *bd})
			continue
		}
		// Searching as far as either view needs finds the candidates of both.
		for g := range bd {
			out[i].bd[g].merge(&bd[g])
		}
	}
	return out
}

// choose sets how far each index is searched for the query view (r): for each group, the
// split of its bounds that costs least, by the modelled cost of searching the indexes of the
// largest segment big (nil: none), each table's cost weighted by its heat for the view
// (mihIndex.heat), or by the nominal cost where big has no such index; and how far each table
// of big's indexes is then probed (tabRadii).
func (qv *qview) choose(big *segment) {
	qv.planned = [numGroups][numKeys]bool{}
	if big != nil && !big.planByHeat {
		// Planning by heat costs more than it saves in a small segment.
		for g := range qv.bd {
			ixs := big.idx[g]
			qv.r[g][keyP], qv.r[g][keyD] = qv.bd[g].split(func(k, r int) float64 {
				if ixs[k] == nil {
					return nominalCosts()[r]
				}
				return ixs[k].plan(r).cost
			})
		}
		return
	}
	for g := range qv.bd {
		var ixs [numKeys]*mihIndex
		var heat [numKeys][maxTables]float64
		if big != nil && qv.bd[g].p >= 0 {
			ixs = big.idx[g]
			for k, ix := range ixs {
				if ix != nil {
					ix.heat(qv.hash(k), heat[k][:len(ix.tabs)])
				}
			}
		}
		// plan sets the table radii of index k at radius r into radii and returns its cost.
		plan := func(k, r int, radii []int) float64 {
			ix := ixs[k]
			return planRadiiInto(ix.tabs, ix.views, r, ix.cost, heat[k][:len(ix.tabs)], radii[:len(ix.tabs)])
		}
		var costs [numKeys][64]float64
		var costed [numKeys][64]bool
		var scratch [maxTables]int
		a, b := qv.bd[g].split(func(k, r int) float64 {
			switch {
			case ixs[k] == nil:
				return nominalCosts()[r]
			case !costed[k][r]:
				costs[k][r], costed[k][r] = plan(k, r, scratch[:]), true
			}
			return costs[k][r]
		})
		qv.r[g] = [numKeys]int8{keyP: a, keyD: b}
		for k, r := range qv.r[g] {
			if ixs[k] != nil && r >= 0 {
				plan(k, int(r), qv.tabRadii[g][k][:])
				qv.planned[g][k] = true
			}
		}
	}
}

// hash returns the query view's hash that key k indexes.
func (qv *qview) hash(k int) uint64 {
	if k == keyD {
		return qv.d
	}
	return qv.p
}

// boundsKey is what the bounds of a query view's pairings depend on.
type boundsKey struct {
	v          hashing.Variant
	match, low uint64 // the thresholds' bits (a NaN is then a key like any other)
	lowQuery   bool
	maxP       int
	// penalties is hashing.Penalties: a penalty added there fails to compile here, rather
	// than leaving the memo's key short of it.
	penalties   struct{ Orient, Crop, Rotate, Trim, Open float64 }
	variantSets int // variant lists in the snapshot: they are append-only within a state
}

// boundsMemo memoises Matcher.bounds for one state: the variant lists, which the bounds
// depend on, only grow within a state, and a reload starts a new state with new lists.
type boundsMemo struct {
	m sync.Map     // boundsKey -> *[numGroups]bounds
	n atomic.Int32 // entries stored since it was last cleared
}

// maxBoundsMemo bounds the memo of bounds; callers use a handful of thresholds and variants.
const maxBoundsMemo = 4096

// bounds returns the bounds of the pairings of a query view of variant v with the views of
// each group that th may accept, memoised.
//
// A pairing of v with a view of variant u scores hashing.PairScore(v, u, d), which never
// rises as a distance grows, and th accepts it only at one of the thresholds ts that may
// apply. So an accepted pairing is within p bits on P, the largest P at which PairScore(v, u,
// {P: p}) reaches a threshold; and, for any a, within a bits on P or else within b(a) bits on
// D, the largest D at which PairScore(v, u, {P: a+1, D}) reaches one. Over the variants of the
// group's views, p and b are the largest.
func (m *Matcher) bounds(sn *snapshot, v hashing.Variant, th hashing.Thresholds, lowQuery bool) *[numGroups]bounds {
	k := boundsKey{v: v, match: math.Float64bits(th.Match), low: math.Float64bits(th.LowDetail), lowQuery: lowQuery,
		maxP: hashing.MaxPDistance, penalties: hashing.Penalties, variantSets: len(sn.vlists)}
	memo := sn.memo
	if r, ok := memo.m.Load(k); ok {
		return r.(*[numGroups]bounds)
	}
	ts := []float64{th.LowDetail}
	if !lowQuery {
		ts = append(ts, th.Match)
	}
	reaches := func(u hashing.Variant, d hashing.Distances) bool {
		s := hashing.PairScore(v, u, d)
		for _, t := range ts {
			if s-t >= 0 { // as Thresholds.Margin compares
				return true
			}
		}
		return false
	}
	// largest returns the largest x in [0, hi] with ok(x), or -1; ok holds below some x.
	largest := func(hi int, ok func(x int) bool) int {
		if !ok(0) {
			return -1
		}
		lo := 0
		for lo < hi {
			if mid := (lo + hi + 1) / 2; ok(mid) {
				lo = mid
			} else {
				hi = mid - 1
			}
		}
		return lo
	}
	var groups [numGroups][]hashing.Variant
	for i, vl := range sn.vlists {
		for j, u := range vl {
			if g := sn.vgroups[i][j]; !slices.Contains(groups[g], u) {
				groups[g] = append(groups[g], u)
			}
		}
	}
	r := new([numGroups]bounds)
	for g, us := range groups {
		r[g] = noBounds
		for _, u := range us {
			p := largest(hashing.MaxPDistance, func(p int) bool { return reaches(u, hashing.Distances{P: p}) })
			r[g].p = max(r[g].p, int8(p))
			for a := -1; a < p; a++ {
				b := largest(64, func(d int) bool { return reaches(u, hashing.Distances{P: a + 1, D: d}) })
				r[g].b[a+1] = max(r[g].b[a+1], int8(b))
			}
		}
	}
	if memo.n.Add(1) > maxBoundsMemo {
		memo.m.Clear()
		memo.n.Store(0)
	}
	memo.m.Store(k, r)
	return r
}

// nominalCosts is the modelled cost of searching a large index (32Mi hashes, chunked as the
// cost model chooses) at each radius below 64, which bounds.split weighs its choices by.
var nominalCosts = sync.OnceValue(func() (c [64]float64) {
	const views = 1 << 25
	for r := range c {
		c[r] = -1
		for m := 3; m <= 4; m++ {
			tabs := make([]mihTable, m)
			for i, w := range chunkWidths(m) {
				tabs[i].nbits = uint8(w)
			}
			if _, cost := planRadii(tabs, views, r); c[r] < 0 || cost < c[r] {
				c[r] = cost
			}
		}
	}
	return c
})

// linear adds the live works of sg with a view near a query view (near), or every live work
// when all is set.
func (sc *lookupScratch) linear(sn *snapshot, si int, sg *segment, all bool) {
	for w := range uint32(sg.len()) {
		if sn.dead.has(sg.slot[w]) {
			continue
		}
		if all || sc.near(sn, sg, w) {
			sc.cands = append(sc.cands, cand{si, w})
		}
	}
}

// near reports whether a view of work w is within its group's radii of a query view: on P or
// on D.
func (sc *lookupScratch) near(sn *snapshot, sg *segment, w uint32) bool {
	v0, v1 := sg.viewOff[w], sg.viewOff[w+1]
	vg := sn.vgroups[sg.vlist[w]]
	for v := v0; v < v1; v++ {
		p, d, g := sg.p.at(v), sg.d.at(v), vg[v-v0]
		for i := range sc.qps {
			q := &sc.qps[i] // a qview is large: not copied
			if bits.OnesCount64(p^q.p) <= int(q.r[g][keyP]) || bits.OnesCount64(d^q.d) <= int(q.r[g][keyD]) {
				return true
			}
		}
	}
	return false
}

// possible reports whether some view of work w and some query view are as close on P and D
// as a pairing the thresholds accept must be (bounds): a test much cheaper than Compare, which
// most candidates fail (pictures with flat areas have hashes near many others').
func (sc *lookupScratch) possible(sn *snapshot, sg *segment, w uint32) bool {
	v0, v1 := sg.viewOff[w], sg.viewOff[w+1]
	vg := sn.vgroups[sg.vlist[w]]
	for v := v0; v < v1; v++ {
		p, d, g := sg.p.at(v), sg.d.at(v), vg[v-v0]
		for i := range sc.qps {
			q := &sc.qps[i]
			x := bits.OnesCount64(p ^ q.p)
			if x <= int(q.bd[g].p) && bits.OnesCount64(d^q.d) <= int(q.bd[g].b[x]) {
				return true
			}
		}
	}
	return false
}

// nearOne reports whether a hash in col of a view of work w is within r of the hash q.
func nearOne(sg *segment, col *column, w uint32, q uint64, r int) bool {
	for v := sg.viewOff[w]; v < sg.viewOff[w+1]; v++ {
		if bits.OnesCount64(col.at(v)^q) <= r {
			return true
		}
	}
	return false
}

// search adds the live works of sg with a view within its group's radii of a query view,
// through the group's indexes.
func (sc *lookupScratch) search(sn *snapshot, si int, sg *segment) {
	off, st, gen := sn.segOff[si], sc.stamp, sc.gen
	for i := range sc.qps {
		qv := &sc.qps[i]
		for g, ixs := range sg.idx {
			for k, ix := range ixs {
				r := int(qv.r[g][k])
				if ix == nil || r < 0 {
					continue
				}
				q, col := qv.hash(k), sg.col(k)
				radii := &ix.plan(r).radii
				if sg == sn.big && qv.planned[g][k] {
					radii = &qv.tabRadii[g][k]
				}
				for ti := range ix.tabs {
					rt := radii[ti]
					if rt < 0 {
						continue
					}
					t := &ix.tabs[ti]
					sc.spans = t.gatherSpans(q, rt, r, sc.spans[:0])
					sc.hits = scanSpans(t.post, sc.spans, t.partial(q), t.pmask, sc.hits[:0])
					for _, x := range sc.hits {
						w := uint32(x >> sg.partBits)
						if st[off+int(w)] == gen {
							continue
						}
						// An inexact posting is checked against every view of the work:
						// a superset of the group's, so no match is lost.
						if !t.exact && !nearOne(sg, col, w, q, r) {
							continue
						}
						st[off+int(w)] = gen
						if !sn.dead.has(sg.slot[w]) {
							sc.cands = append(sc.cands, cand{si, w})
						}
					}
				}
			}
		}
	}
}

// fingerprint rebuilds work w's fingerprint in the scratch buffer.
func (sc *lookupScratch) fingerprint(sn *snapshot, sg *segment, w uint32) *hashing.Fingerprint {
	vl := sn.vlists[sg.vlist[w]]
	v0, v1 := sg.viewOff[w], sg.viewOff[w+1]
	views := sc.fp.Views[:0]
	for i, v := range vl[:v1-v0] {
		j := v0 + uint32(i)
		views = append(views, hashing.View{Variant: v, Hashes: hashing.Hashes{P: hashing.Hash(sg.p.at(j)), D: hashing.Hash(sg.d.at(j)), A: hashing.Hash(sg.a.at(j))}})
	}
	sc.fp = hashing.Fingerprint{Version: hashing.FormatVersion, LowDetail: sg.flags[w]&flagLowDetail != 0, Views: views}
	return &sc.fp
}

// maxTables bounds a segment's tables.
const maxTables = 8

// plan is how a segment is searched at a radius.
type plan struct {
	radii [maxTables]int
	cost  float64 // modelled, per query view
}

// planCache remembers an index's plan for each radius asked.
type planCache struct{ p [64]atomic.Pointer[plan] }

// plan returns how the index is searched at radius r, 0 <= r < 64.
func (ix *mihIndex) plan(r int) *plan {
	if p := ix.pc.p[r].Load(); p != nil {
		return p
	}
	radii, cost := planRadii(ix.tabs, ix.views, r)
	p := &plan{cost: cost}
	copy(p.radii[:], radii)
	ix.pc.p[r].Store(p)
	return p
}
