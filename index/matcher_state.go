package index

import (
	"slices"
	"strings"

	"github.com/aura-art/aura/hashing"
)

// The matcher's replica is a few segments, like a small log-structured merge tree:
//
//   - the tail: the latest works, appended in place (copy-on-write by appending) and scanned
//     linearly; at Matcher.tailMax works it is merged into the mid segment;
//   - the mid segment: an indexed segment rebuilt with the tail's works when the tail is full;
//     at Matcher.midMax works it is frozen and merged into the base in the background;
//   - the base: the big indexed segment, built by the load and by those merges;
//   - while a merge runs, the frozen mid segment it is merging.
//
// Every work has a slot, a small integer, and a removed (deleted, disabled or replaced) work
// keeps its place in its segment with its slot marked dead, until a rebuild of its segment
// drops it and frees the slot. Dead marks are kept per slot, not per segment, so a merge that
// runs while works are removed needs no translation when it is installed.
//
// Lookups read an immutable snapshot (segments, dead set, intern tables) through an atomic
// pointer, so they never wait for a writer; writers hold Matcher.mu.

// deadPageShift sets the size of a dead-set page: 1<<15 slots (4 KiB).
const deadPageShift = 15

type deadPage [1 << (deadPageShift - 6)]uint64

// deadSet is an immutable set of dead slots; snapshots share unchanged pages.
type deadSet struct{ pages []*deadPage }

func (d deadSet) has(slot uint32) bool { return hasSlot(d.pages, slot) }

func hasSlot(pages []*deadPage, slot uint32) bool {
	pi := int(slot >> deadPageShift)
	if pi >= len(pages) || pages[pi] == nil {
		return false
	}
	return pages[pi][slot>>6&(1<<(deadPageShift-6)-1)]>>(slot&63)&1 != 0
}

// deadWriter is the writer's copy of the dead set: a page it has copied since the last freeze
// it changes in place, any other it copies first.
type deadWriter struct {
	pages []*deadPage
	owned []bool
}

func (d *deadWriter) has(slot uint32) bool { return hasSlot(d.pages, slot) }

func (d *deadWriter) set(slot uint32, dead bool) {
	pi := int(slot >> deadPageShift)
	if pi >= len(d.pages) {
		if !dead {
			return
		}
		d.pages = append(d.pages, make([]*deadPage, pi+1-len(d.pages))...)
		d.owned = append(d.owned, make([]bool, pi+1-len(d.owned))...)
	}
	pg := d.pages[pi]
	if pg == nil && !dead {
		return
	}
	if !d.owned[pi] {
		np := new(deadPage)
		if pg != nil {
			*np = *pg
		}
		d.pages[pi], d.owned[pi], pg = np, true, np
	}
	i, bit := slot>>6&(1<<(deadPageShift-6)-1), uint64(1)<<(slot&63)
	if dead {
		pg[i] |= bit
	} else {
		pg[i] &^= bit
	}
}

// freeze returns the current set for a snapshot; later changes copy the pages they touch.
func (d *deadWriter) freeze() deadSet {
	clear(d.owned)
	return deadSet{pages: slices.Clone(d.pages)}
}

func (d *deadWriter) bytes() int64 {
	n := int64(cap(d.pages)) * 8
	for _, p := range d.pages {
		if p != nil {
			n += int64(len(p)) * 8
		}
	}
	return n
}

// state is the writer's side of the replica. Matcher.mu guards it.
type state struct {
	ids       map[string]uint32 // enabled work id -> slot
	slotViews []uint32          // views of the work in each slot; 0 when the slot is dead or free
	free      []uint32          // slots in no segment
	dead      deadWriter

	creators   []string // interned creator ids; append-only, shared with snapshots
	creatorIdx map[string]uint32
	vlists     [][]hashing.Variant // interned lists of view variants; append-only, shared
	vgroups    [][]uint8           // the index group of each view of each list (groupOf); likewise
	memo       *boundsMemo         // Matcher.bounds of these lists
	vlistIdx   map[string]uint32
	vkey       []byte // scratch for vlistIdx keys

	base, frozen, mid *segment // immutable; any may be nil
	tail              *segment // appended in place; snapshots hold copies of its header
	merging           bool     // frozen is being merged into base

	live, views int   // enabled works and their views
	idBytes     int64 // bytes of the ids of enabled works
	internBytes int64 // bytes of the intern tables
}

func newState() *state {
	return &state{
		ids:        make(map[string]uint32),
		creatorIdx: make(map[string]uint32),
		vlistIdx:   make(map[string]uint32),
		memo:       new(boundsMemo),
		tail:       newSegment(),
	}
}

// remove kills the enabled work with the id, if any, and reports whether there was one.
func (st *state) remove(id string) bool {
	slot, ok := st.ids[id]
	if !ok {
		return false
	}
	delete(st.ids, id)
	st.dead.set(slot, true)
	st.live--
	st.views -= int(st.slotViews[slot])
	st.idBytes -= int64(len(id))
	st.slotViews[slot] = 0
	return true
}

// add registers an enabled work with n views and returns its slot; the caller stores the
// work in a segment.
func (st *state) add(id string, n int) uint32 {
	var slot uint32
	if k := len(st.free); k > 0 {
		slot, st.free = st.free[k-1], st.free[:k-1]
		st.dead.set(slot, false)
	} else {
		slot = uint32(len(st.slotViews))
		st.slotViews = append(st.slotViews, 0)
	}
	st.slotViews[slot] = uint32(n)
	st.ids[strings.Clone(id)] = slot // not pinning a larger buffer the id may be part of
	st.live++
	st.views += n
	st.idBytes += int64(len(id))
	return slot
}

func (st *state) internCreator(c string) uint32 {
	if i, ok := st.creatorIdx[c]; ok {
		return i
	}
	i := uint32(len(st.creators))
	c = strings.Clone(c)
	st.creators = append(st.creators, c)
	st.creatorIdx[c] = i
	st.internBytes += int64(len(c)) + 16 + 24 // the string, its slice slot and its map entry
	return i
}

func (st *state) internVariants(views []hashing.View) uint32 {
	k := st.vkey[:0]
	for _, v := range views {
		var t byte
		if v.Trimmed {
			t = 1
		}
		if v.Opened {
			t |= 2
		}
		r := v.Region
		k = append(k, t, byte(v.Orientation), byte(v.Angle), r.X, r.Y, r.W, r.H)
	}
	st.vkey = k
	if i, ok := st.vlistIdx[string(k)]; ok {
		return i
	}
	vl := make([]hashing.Variant, len(views))
	for j, v := range views {
		vl[j] = v.Variant
	}
	vg := make([]uint8, len(views))
	for j, v := range views {
		vg[j] = groupOf(v.Variant)
	}
	i := uint32(len(st.vlists))
	st.vlists = append(st.vlists, vl)
	st.vgroups = append(st.vgroups, vg)
	st.vlistIdx[string(k)] = i
	st.internBytes += int64(len(vl))*8 + 24 + int64(len(vg)) + 24 + int64(len(k)) + 24
	return i
}

// appendEntry adds an enabled work to the tail.
func (st *state) appendEntry(e MatchEntry) {
	fp := e.Fingerprint
	slot := st.add(e.ID, len(fp.Views))
	st.tail.appendWork(slot, e.ID, st.internCreator(e.CreatorID), st.internVariants(fp.Views), fp.LowDetail, fp.Views)
}

// loadEntry adds an enabled work to the segment a load builds.
func (st *state) loadEntry(sg *segment, e MatchEntry) {
	fp := e.Fingerprint
	slot := st.add(e.ID, len(fp.Views))
	sg.appendWork(slot, e.ID, st.internCreator(e.CreatorID), st.internVariants(fp.Views), fp.LowDetail, fp.Views)
}

// matchable reports whether an entry is one the matcher holds: enabled, with views.
func matchable(e MatchEntry) bool {
	return !e.Disabled && e.Fingerprint != nil && len(e.Fingerprint.Views) > 0
}

// rebuild returns a segment of the works of srcs that are not dead in dead, indexed for radius
// r when large enough, and the slots of the dead works it dropped. vgroups are the state's
// (state.vgroups) when the sources were frozen.
func rebuild(srcs []*segment, dead func(uint32) bool, r int, cfg layout, vgroups [][]uint8) (*segment, []uint32) {
	nw := 0
	for _, s := range srcs {
		if s != nil {
			nw += s.len()
		}
	}
	out := newSegment()
	out.grow(nw)
	var dropped []uint32
	for _, s := range srcs {
		if s == nil {
			continue
		}
		for w := range uint32(s.len()) {
			if slot := s.slot[w]; dead(slot) {
				dropped = append(dropped, slot)
			} else {
				out.copyWork(s, w)
			}
		}
	}
	out.trim()
	out.index(r, cfg, vgroups)
	return out, dropped
}

// index builds the segment's multi-indexes for radius r, unless it is small enough to scan.
func (sg *segment) index(r int, cfg layout, vgroups [][]uint8) {
	if sg.views() < cfg.minIndexed {
		return
	}
	widths := func(views int) []int {
		if cfg.widths != nil {
			return cfg.widths
		}
		return chooseChunks(sg.len(), views, r)
	}
	sg.buildIndex(widths, cfg.maxPartBits, vgroups)
	sg.forceIndex = cfg.forceIndex
	sg.planByHeat = sg.views() >= cfg.heatMinViews
}

// planningRadius is the radius segments are built for: hashing.MaxPDistance, or 12 while it
// does not gate (the index is then unused, but ready when it is set).
func planningRadius() int {
	r := hashing.MaxPDistance
	if r < 1 || r > 32 {
		return 12
	}
	return r
}

// snapshot is what a lookup reads: immutable once published.
type snapshot struct {
	segs   []*segment
	segOff []int // index of each segment's first work in a lookup's dedup array
	total  int   // works in segs, dead ones included

	dead     deadSet
	creators []string
	vlists   [][]hashing.Variant
	vgroups  [][]uint8
	memo     *boundsMemo

	live, views int
	bytes       int64

	// big is the indexed segment with the most views, nil when none is indexed: the one whose
	// indexes' heat weighs a lookup's choices (Matcher.Lookup).
	big *segment
}

// snapshot makes the snapshot of the current state.
func (st *state) snapshot() *snapshot {
	sn := &snapshot{
		dead:     st.dead.freeze(),
		creators: st.creators,
		vlists:   st.vlists,
		vgroups:  st.vgroups,
		memo:     st.memo,
		live:     st.live,
		views:    st.views,
	}
	add := func(sg *segment) {
		if sg != nil && sg.len() > 0 {
			sn.segs = append(sn.segs, sg)
			sn.segOff = append(sn.segOff, sn.total)
			sn.total += sg.len()
			sn.bytes += sg.bytes()
		}
	}
	add(st.base)
	add(st.frozen)
	add(st.mid)
	for _, sg := range sn.segs {
		if sg.indexed() && (sn.big == nil || sg.views() > sn.big.views()) {
			sn.big = sg
		}
	}
	if st.tail.len() > 0 {
		t := *st.tail // the header as of now; the writer appends beyond it
		add(&t)
	}
	// The id map (Swiss table: about 24 bytes an entry with its control bytes and load
	// factor, plus the key's string), the slot table, the dead set and the intern tables.
	sn.bytes += int64(st.live)*(24+16) + st.idBytes + int64(cap(st.slotViews)+cap(st.free))*4 +
		st.dead.bytes() + st.internBytes
	return sn
}
