package index

import (
	"math/bits"
	"runtime"
	"sync"

	"github.com/aura-art/aura/hashing"
)

// Multi-index hashing (Norouzi, Punjani and Fleet, "Fast search in Hamming space with
// multi-index hashing", 2012) over the perception and difference hashes of the matcher's
// views.
//
// A segment keeps a multi-index of the P hashes and one of the D hashes of each group of its
// views (groupOf). A multi-index splits the 64 bits of a hash into m disjoint chunks and keeps
// one table per chunk: the postings of every view, grouped by the value of that chunk. If two
// hashes are at most R bits apart and the tables are searched with radii r_1..r_m whose sum of
// (r_i + 1) is at least R + 1, then some chunk differs by at most its r_i (pigeonhole), so
// probing every chunk value within r_i of the query's chunk, in every table, finds every view
// within R. A table with r_i = -1 is not probed at all. The radii are chosen at each lookup
// from the R that lookup needs (Matcher.bounds), so a segment stays exact whatever R is; only
// its speed depends on how well its chunking suits R.
//
// A table is a dense offset array over all 2^b chunk values (b <= maxChunkBits) and one
// posting array. A posting is a uint64: the work's index in its segment in the high bits and,
// in the low bits, as many of the hash's other bits (rotated so that the chunk comes last) as
// fit. Scanning a bucket therefore needs no other memory: the Hamming distance of the rest
// plus the chunk distance of the probe bounds the full distance from below, and is the full
// distance when every other bit fits (the posting is "exact"). Buckets are scanned eight at a
// time, interleaved, because a lookup is bound by memory latency and eight independent streams
// keep the memory system busier than one.

// maxChunkBits bounds a chunk, so a dense offset array has at most 16 Mi entries (64 MiB).
const maxChunkBits = 22

// Cost model of a lookup, per query view, in nanoseconds; it only chooses between plans, so it
// need not be precise. Measured on the development VM (2 cores, slow random access).
const (
	costProbeSmall = 30.0 // probing a bucket through an offset array of up to 1 MiB (cached)
	costProbeLarge = 80.0 // ... through a larger one (a cache miss more)
	costPosting    = 1.0  // scanning one posting, interleaved
	costLinear     = 0.75 // comparing one view in a linear scan
)

// binom[n][k] is n choose k, for n <= 64.
var binom = func() (t [65][65]float64) {
	for n := range 65 {
		t[n][0] = 1
		for k := 1; k <= n; k++ {
			t[n][k] = t[n-1][k-1] + t[n-1][k]
		}
	}
	return t
}()

// ballSize is the number of b-bit values within r bits of a value: the probes of radius r.
func ballSize(b, r int) float64 {
	s := 0.0
	for j := 0; j <= r && j <= b; j++ {
		s += binom[b][j]
	}
	return s
}

// mihTable is one chunk's table.
type mihTable struct {
	shift uint8  // the chunk is p >> shift & (1<<nbits - 1)
	nbits uint8  // chunk width
	rot   uint8  // the partial is bits.RotateLeft64(p, -rot) & pmask: the bits after the chunk
	exact bool   // the partial holds every bit outside the chunk
	pmask uint64 // mask of the partial
	off   []uint32
	post  []uint64
}

func (t *mihTable) chunk(p uint64) uint64 { return p >> t.shift & (1<<t.nbits - 1) }

func (t *mihTable) partial(p uint64) uint64 { return bits.RotateLeft64(p, -int(t.rot)) & t.pmask }

// segment is an immutable part of the replica: works with their views in flat arrays (struct
// of arrays, with almost no pointers for the garbage collector to follow) and, unless it is
// small, multi-indexes over the P and the D hashes of each group of its views. The tail
// segment grows by appending (see appendWork): readers only look below the lengths of the
// snapshot they hold.
type segment struct {
	// Per work.
	slot    []uint32 // the work's slot; its dead bit is in the snapshot's deadSet
	viewOff []uint32 // n+1 entries: the views of work w are [viewOff[w], viewOff[w+1])
	vlist   []uint32 // the work's variant list (state.vlists)
	creator []uint32 // the work's creator (state.creators)
	flags   []uint8  // flagLowDetail
	idOff   []uint32 // n+1 entries: the id of work w is ids[idOff[w]:idOff[w+1]]
	ids     []byte

	// Per view.
	p, d, a column

	// Multi-indexes of each group of views (groupOf) over their P and their D hashes; all nil
	// for a segment scanned linearly, a group's nil when it has no views.
	idx        [numGroups][numKeys]*mihIndex
	partBits   uint8 // the low partBits bits of a posting are the partial; the work is above
	forceIndex bool  // layout.forceIndex
	planByHeat bool  // views >= layout.heatMinViews
}

// The views of a work are indexed in two groups, because a query view need not search them
// equally far (see Matcher.bounds): its whole picture (upright or trimmed), which every query
// view is compared with, and its crops and rotations, which cost a pairing a penalty, so that
// at the shipped thresholds a mirrored query view needs to search them only to 9 bits, not 12,
// and a crop of the query only finds the same crop of the work.
const (
	groupWhole = iota // the whole picture or its trimmed box: no crop, no rotation
	groupOther        // every other view
	numGroups
)

// Each group is indexed by its perception hashes and by its difference hashes: a pairing the
// threshold accepts is within some a bits on P, or further on P but then close on D (the
// score falls with both), and two small searches cost less than one wide one.
const (
	keyP = iota
	keyD
	numKeys
)

// col returns the column of hashes that key k indexes.
func (sg *segment) col(k int) *column {
	if k == keyD {
		return &sg.d
	}
	return &sg.p
}

// groupOf returns the index group of a reference view.
func groupOf(v hashing.Variant) uint8 {
	if v.Region.IsFull() && v.Angle == 0 {
		return groupWhole
	}
	return groupOther
}

// mihIndex is the multi-index of one hash of one group of a segment's views.
type mihIndex struct {
	tabs  []mihTable
	views int // views in the group
	pc    planCache
	cost  [][66]float64 // cost[t][r+1] is costOf(table t, r) for r in [-1, 64]
}

// setCosts fills ix.cost.
func (ix *mihIndex) setCosts() {
	ix.cost = make([][66]float64, len(ix.tabs))
	for t := range ix.tabs {
		for r := -1; r <= 64; r++ {
			ix.cost[t][r+1] = costOf(&ix.tabs[t], r, ix.views)
		}
	}
}

// heat sets, for each table of ix (tabHeat has a slot for each), how many postings the probes
// of radius 1 around hash q meet, over how many they would meet if the index's hashes were
// uniformly random. Real hashes crowd: on the development corpus the difference hashes'
// probes meet 16–19 times as many postings as uniform ones would, on average, and those of a
// picture with flat areas (runs of equal bits) hundreds of times; the perception hashes' about
// twice. qview.choose weighs the modelled cost of probing each table for a query view by
// them: a table whose buckets near the query are crowded is probed less far and the others
// further, and the split between searching P and D follows.
func (ix *mihIndex) heat(q uint64, tabHeat []float64) {
	for ti := range ix.tabs {
		t := &ix.tabs[ti]
		k, off := t.chunk(q), t.off
		n := off[k+1] - off[k]
		for b := range t.nbits {
			kk := k ^ 1<<b
			n += off[kk+1] - off[kk]
		}
		u := float64(1+t.nbits) * float64(ix.views) / float64(uint64(1)<<t.nbits)
		tabHeat[ti] = max(1, float64(n)/max(u, 1))
	}
}

// indexed reports whether the segment is searched through multi-indexes.
func (sg *segment) indexed() bool {
	for _, g := range sg.idx {
		for _, ix := range g {
			if ix != nil {
				return true
			}
		}
	}
	return false
}

const flagLowDetail = 1

func newSegment() *segment {
	return &segment{viewOff: []uint32{0}, idOff: []uint32{0}}
}

func (sg *segment) len() int { return len(sg.slot) }

func (sg *segment) views() int { return sg.p.n }

func (sg *segment) id(w uint32) string { return string(sg.ids[sg.idOff[w]:sg.idOff[w+1]]) }

// appendWork appends a work; the receiver's arrays are shared, and since it only appends, a
// reader holding the receiver never sees the new elements.
func (sg *segment) appendWork(slot uint32, id string, creator, vlist uint32, lowDetail bool, views []hashing.View) {
	for _, v := range views {
		sg.p.push(uint64(v.P))
		sg.d.push(uint64(v.D))
		sg.a.push(uint64(v.A))
	}
	sg.appendMeta(slot, id, creator, vlist, lowDetail, uint32(sg.p.n))
}

// appendMeta appends a work's own data; its views end at viewEnd.
func (sg *segment) appendMeta(slot uint32, id string, creator, vlist uint32, lowDetail bool, viewEnd uint32) {
	sg.slot = append(sg.slot, slot)
	sg.vlist = append(sg.vlist, vlist)
	sg.creator = append(sg.creator, creator)
	var f uint8
	if lowDetail {
		f |= flagLowDetail
	}
	sg.flags = append(sg.flags, f)
	sg.ids = append(sg.ids, id...)
	sg.idOff = append(sg.idOff, uint32(len(sg.ids)))
	sg.viewOff = append(sg.viewOff, viewEnd)
}

// column is a long array of hashes kept in fixed-size chunks: it grows without copying (a
// load of a million works never copies its 336 MB of hashes, nor touches twice the memory),
// and a snapshot can share it while the writer appends, as neither the chunks a reader can
// see nor the chunk pointers it can see ever change.
type column struct {
	chunks []*colChunk
	n      int
}

const colShift = 14 // 16Ki hashes (128 KiB) a chunk

type colChunk [1 << colShift]uint64

func (c *column) at(i uint32) uint64 { return c.chunks[i>>colShift][i&(1<<colShift-1)] }

func (c *column) push(x uint64) {
	if c.n == len(c.chunks)<<colShift {
		c.chunks = append(c.chunks, new(colChunk))
	}
	c.chunks[c.n>>colShift][c.n&(1<<colShift-1)] = x
	c.n++
}

func (c *column) bytes() int64 { return int64(len(c.chunks))*(1<<colShift)*8 + int64(cap(c.chunks))*8 }

// copyWork appends work w of src.
func (sg *segment) copyWork(src *segment, w uint32) {
	sg.slot = append(sg.slot, src.slot[w])
	sg.vlist = append(sg.vlist, src.vlist[w])
	sg.creator = append(sg.creator, src.creator[w])
	sg.flags = append(sg.flags, src.flags[w])
	sg.ids = append(sg.ids, src.ids[src.idOff[w]:src.idOff[w+1]]...)
	sg.idOff = append(sg.idOff, uint32(len(sg.ids)))
	for v := src.viewOff[w]; v < src.viewOff[w+1]; v++ {
		sg.p.push(src.p.at(v))
		sg.d.push(src.d.at(v))
		sg.a.push(src.a.at(v))
	}
	sg.viewOff = append(sg.viewOff, uint32(sg.p.n))
}

// grow reserves room for n more works.
func (sg *segment) grow(n int) {
	grow := func(s []uint32, n int) []uint32 { return append(make([]uint32, 0, len(s)+n), s...) }
	sg.slot = grow(sg.slot, n)
	sg.vlist = grow(sg.vlist, n)
	sg.creator = grow(sg.creator, n)
	sg.viewOff = grow(sg.viewOff, n)
	sg.idOff = grow(sg.idOff, n)
	sg.flags = append(make([]uint8, 0, len(sg.flags)+n), sg.flags...)
	sg.ids = append(make([]byte, 0, len(sg.ids)+n*20), sg.ids...)
}

// trim drops spare capacity, so the finished segment holds what it needs.
func (sg *segment) trim() {
	sg.slot, sg.vlist, sg.creator = clip32(sg.slot), clip32(sg.vlist), clip32(sg.creator)
	sg.viewOff, sg.idOff = clip32(sg.viewOff), clip32(sg.idOff)
	if cap(sg.flags) > len(sg.flags) {
		sg.flags = append([]uint8(nil), sg.flags...)
	}
	if cap(sg.ids) > len(sg.ids) {
		sg.ids = append([]byte(nil), sg.ids...)
	}
}

func clip32(s []uint32) []uint32 {
	if cap(s)-len(s) > len(s)/16 {
		return append([]uint32(nil), s...)
	}
	return s
}

// bytes is the memory the segment holds, by capacity.
func (sg *segment) bytes() int64 {
	n := int64(cap(sg.slot)+cap(sg.viewOff)+cap(sg.vlist)+cap(sg.creator)+cap(sg.idOff))*4 +
		int64(cap(sg.flags)+cap(sg.ids)) + sg.p.bytes() + sg.d.bytes() + sg.a.bytes()
	for _, g := range sg.idx {
		for _, ix := range g {
			if ix != nil {
				for _, t := range ix.tabs {
					n += int64(cap(t.off))*4 + int64(cap(t.post))*8
				}
			}
		}
	}
	return n
}

// chunkWidths splits 64 bits into m chunks of near-equal width, wider first.
func chunkWidths(m int) []int {
	w := make([]int, m)
	for i := range w {
		w[i] = 64 / m
		if i < 64%m {
			w[i]++
		}
	}
	return w
}

// chooseChunks picks the number of chunks for a segment of nworks works and nviews views that
// the cost model finds fastest at radius r, among those whose offset arrays are not much larger
// than the postings; a segment of 64Ki works or more keeps to 4 chunks or fewer, to hold memory
// at about 8 bytes a view a chunk.
func chooseChunks(nworks, nviews, r int) []int {
	best, bestCost := []int(nil), 0.0
	for m := 3; m <= 6; m++ {
		w := chunkWidths(m)
		if w[0] > maxChunkBits || (m > 4 && nworks >= 1<<16) {
			continue
		}
		if 1<<w[0] > max(1<<16, 2*nviews) {
			continue
		}
		tabs := make([]mihTable, m)
		for i := range tabs {
			tabs[i].nbits = uint8(w[i])
		}
		_, cost := planRadii(tabs, nviews, r)
		if best == nil || cost < bestCost {
			best, bestCost = w, cost
		}
	}
	if best == nil {
		best = chunkWidths(4)
	}
	return best
}

// planRadii chooses the probe radius of each table (-1: not probed) for Hamming radius r,
// with sum(r_i + 1) = r + 1 (or every table probed in full), greedily by the cost model (the
// cost of a table grows convexly with its radius, so greedy is optimal), and returns them with
// their modelled cost per query view.
func planRadii(tabs []mihTable, nviews, r int) ([]int, float64) {
	radii := make([]int, len(tabs))
	return radii, planRadiiInto(tabs, nviews, r, nil, nil, radii)
}

// planRadiiInto is planRadii with each table's cost multiplied by its heat (nil: 1), into
// radii, which has a slot for each table; cost, when not nil, holds the tables' costOf
// (mihIndex.cost).
func planRadiiInto(tabs []mihTable, nviews, r int, cost [][66]float64, heat []float64, radii []int) float64 {
	for i := range tabs {
		radii[i] = -1
	}
	total := 0.0
	for range r + 1 {
		bi, bd := -1, 0.0
		for i := range tabs {
			if radii[i] >= int(tabs[i].nbits) {
				continue
			}
			var d float64
			if cost != nil {
				d = cost[i][radii[i]+2] - cost[i][radii[i]+1]
			} else {
				d = costOf(&tabs[i], radii[i]+1, nviews) - costOf(&tabs[i], radii[i], nviews)
			}
			if heat != nil {
				d *= heat[i]
			}
			if bi < 0 || d < bd {
				bi, bd = i, d
			}
		}
		if bi < 0 { // every table probed in full: r >= 64
			break
		}
		radii[bi]++
		total += bd
	}
	return total
}

// costOf is the modelled cost of probing t at radius r (-1: not at all) for one query view,
// over a segment of nviews views. It depends on t's chunk width only.
func costOf(t *mihTable, r, nviews int) float64 {
	if r < 0 {
		return 0
	}
	probes := ballSize(int(t.nbits), r)
	cp := costProbeSmall
	if 1<<t.nbits > 1<<18 {
		cp = costProbeLarge
	}
	return probes*cp + float64(nviews)*probes/float64(uint64(1)<<t.nbits)*costPosting
}

// buildIndex builds a multi-index of each group of the segment's views, with the chunk
// widths that widths returns for the group's view count, in parallel. vgroups holds the group
// of each view of each variant list (state.vgroups). maxPart, when positive, caps the bits of
// a partial (for tests: it makes postings inexact).
func (sg *segment) buildIndex(widths func(views int) []int, maxPart int, vgroups [][]uint8) {
	n := sg.len()
	workBits := max(1, bits.Len(uint(max(n, 1)-1)))
	sg.partBits = uint8(64 - workBits)
	if maxPart > 0 {
		sg.partBits = uint8(min(int(sg.partBits), maxPart))
	}
	// The views of each group in each variant list, by their index in the list.
	members := make([][numGroups][]uint32, len(vgroups))
	for i, vg := range vgroups {
		for j, g := range vg {
			members[i][g] = append(members[i][g], uint32(j))
		}
	}
	var count [numGroups]int
	for w := range uint32(n) {
		for g, js := range members[sg.vlist[w]] { // a work's variant list is its views'
			count[g] += len(js)
		}
	}
	type job struct {
		t    *mihTable
		g, k int
	}
	var jobs []job
	for g, c := range count {
		if c == 0 {
			continue
		}
		for k := range numKeys {
			ix := &mihIndex{views: c}
			shift := 0
			for _, w := range widths(c) {
				t := mihTable{shift: uint8(shift), nbits: uint8(w), rot: uint8((shift + w) % 64)}
				pb := min(64-w, int(sg.partBits))
				t.exact = pb == 64-w
				t.pmask = 1<<pb - 1
				shift += w
				ix.tabs = append(ix.tabs, t)
			}
			ix.setCosts()
			sg.idx[g][k] = ix
			for i := range ix.tabs {
				jobs = append(jobs, job{&ix.tabs[i], g, k})
			}
		}
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for _, j := range jobs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			sg.buildTable(j.t, sg.col(j.k), uint8(j.g), count[j.g], members)
		})
	}
	wg.Wait()
}

// buildTable fills one table over the hashes in col of group g, which has n views, by a
// counting sort of the group's views on their chunk: the postings sorted by chunk value, and
// within a bucket in view order. (A two-pass radix sort writes more cache-friendly but needs
// scratch arrays as large as the postings; on a cold start, touching fresh memory costs more
// than the cache misses it saves.)
func (sg *segment) buildTable(t *mihTable, col *column, g uint8, n int, members [][numGroups][]uint32) {
	nb := 1 << t.nbits
	t.off = make([]uint32, nb+1)
	for w := range uint32(sg.len()) {
		v0 := sg.viewOff[w]
		for _, j := range members[sg.vlist[w]][g] {
			t.off[t.chunk(col.at(v0+j))+1]++
		}
	}
	for i := 1; i <= nb; i++ {
		t.off[i] += t.off[i-1]
	}
	cur := make([]uint32, nb)
	copy(cur, t.off[:nb])
	t.post = make([]uint64, n)
	pb := sg.partBits
	for w := range uint32(sg.len()) {
		v0, hi := sg.viewOff[w], uint64(w)<<pb
		for _, j := range members[sg.vlist[w]][g] {
			p := col.at(v0 + j)
			k := t.chunk(p)
			t.post[cur[k]] = hi | t.partial(p)
			cur[k]++
		}
	}
}

// span is a bucket to scan: postings [s, e) whose partial may differ by at most lim bits.
type span struct {
	s, e uint32
	lim  int32
}

// gatherSpans appends the non-empty buckets of t within radius r of the chunk of q, each with
// the distance the rest of the hash may have.
func (t *mihTable) gatherSpans(q uint64, r, maxDist int, out []span) []span {
	k := t.chunk(q)
	off := t.off
	if s, e := off[k], off[k+1]; s < e {
		out = append(out, span{s, e, int32(maxDist)})
	}
	lim := uint64(1) << t.nbits
	for j := 1; j <= r && j <= int(t.nbits); j++ {
		// Every nbits-wide mask with j bits set, in increasing order (Gosper's hack).
		for m := uint64(1)<<j - 1; m < lim; {
			kk := k ^ m
			if s, e := off[kk], off[kk+1]; s < e {
				out = append(out, span{s, e, int32(maxDist - j)})
			}
			c := m & -m
			rr := m + c
			m = (rr^m)>>2>>bits.TrailingZeros64(c) | rr
		}
	}
	return out
}

// scanSpans appends to hits the postings of the spans whose partial is within the span's
// limit of qp. It scans eight spans at a time, interleaved.
func scanSpans(post []uint64, spans []span, qp, pm uint64, hits []uint64) []uint64 {
	i := 0
	for ; i+8 <= len(spans); i += 8 {
		g := spans[i : i+8 : i+8]
		b0, b1, b2, b3 := post[g[0].s:g[0].e], post[g[1].s:g[1].e], post[g[2].s:g[2].e], post[g[3].s:g[3].e]
		b4, b5, b6, b7 := post[g[4].s:g[4].e], post[g[5].s:g[5].e], post[g[6].s:g[6].e], post[g[7].s:g[7].e]
		l0, l1, l2, l3 := int(g[0].lim), int(g[1].lim), int(g[2].lim), int(g[3].lim)
		l4, l5, l6, l7 := int(g[4].lim), int(g[5].lim), int(g[6].lim), int(g[7].lim)
		n := min(len(b0), len(b1), len(b2), len(b3), len(b4), len(b5), len(b6), len(b7))
		a0 := b0[:n]
		a1, a2, a3, a4, a5, a6, a7 := b1[:len(a0)], b2[:len(a0)], b3[:len(a0)], b4[:len(a0)], b5[:len(a0)], b6[:len(a0)], b7[:len(a0)]
		for x := range a0 {
			c0 := bits.OnesCount64((a0[x] ^ qp) & pm)
			c1 := bits.OnesCount64((a1[x] ^ qp) & pm)
			c2 := bits.OnesCount64((a2[x] ^ qp) & pm)
			c3 := bits.OnesCount64((a3[x] ^ qp) & pm)
			c4 := bits.OnesCount64((a4[x] ^ qp) & pm)
			c5 := bits.OnesCount64((a5[x] ^ qp) & pm)
			c6 := bits.OnesCount64((a6[x] ^ qp) & pm)
			c7 := bits.OnesCount64((a7[x] ^ qp) & pm)
			if c0 <= l0 || c1 <= l1 || c2 <= l2 || c3 <= l3 || c4 <= l4 || c5 <= l5 || c6 <= l6 || c7 <= l7 {
				hits = appendHits(hits, x, a0, a1, a2, a3, a4, a5, a6, a7, qp, pm, g)
			}
		}
		hits = scanOne(b0[n:], qp, pm, l0, hits)
		hits = scanOne(b1[n:], qp, pm, l1, hits)
		hits = scanOne(b2[n:], qp, pm, l2, hits)
		hits = scanOne(b3[n:], qp, pm, l3, hits)
		hits = scanOne(b4[n:], qp, pm, l4, hits)
		hits = scanOne(b5[n:], qp, pm, l5, hits)
		hits = scanOne(b6[n:], qp, pm, l6, hits)
		hits = scanOne(b7[n:], qp, pm, l7, hits)
	}
	for _, g := range spans[i:] {
		hits = scanOne(post[g.s:g.e], qp, pm, int(g.lim), hits)
	}
	return hits
}

// appendHits appends the postings at x of the eight interleaved spans that are within their
// limits. It is out of the hot loop: hits are rare.
//
//go:noinline
func appendHits(hits []uint64, x int, a0, a1, a2, a3, a4, a5, a6, a7 []uint64, qp, pm uint64, g []span) []uint64 {
	for z, a := range [8][]uint64{a0, a1, a2, a3, a4, a5, a6, a7} {
		if bits.OnesCount64((a[x]^qp)&pm) <= int(g[z].lim) {
			hits = append(hits, a[x])
		}
	}
	return hits
}

func scanOne(b []uint64, qp, pm uint64, lim int, hits []uint64) []uint64 {
	for _, x := range b {
		if bits.OnesCount64((x^qp)&pm) <= lim {
			hits = append(hits, x)
		}
	}
	return hits
}
