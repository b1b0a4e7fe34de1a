package index

import "math"

// SetMatcherLayout sets the tier sizes of m (works in the tail and in the mid segment before
// each is merged on), the size under which a segment is scanned rather than indexed (in views),
// the chunk widths of every index (nil: chosen by the cost model) and a cap on the hash bits a
// posting holds (0: none), so that tests exercise compaction, merges, every chunking and the
// verification of inexact postings with few works. Zero keeps a size. Indexed segments built
// after the call are searched through their index even where a scan would be cheaper.
func SetMatcherLayout(m *Matcher, tailMax, midMax, minIndexedViews int, widths []int, maxPartBits int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if tailMax > 0 {
		m.cfg.tailMax = tailMax
	}
	if midMax > 0 {
		m.cfg.midMax = midMax
	}
	if minIndexedViews > 0 {
		m.cfg.minIndexed = minIndexedViews
	}
	m.cfg.widths, m.cfg.maxPartBits, m.cfg.forceIndex = widths, maxPartBits, true
}

// SetMatcherPlanByHeat sets whether segments built after the call plan their searches by the
// heat of their tables whatever their size (true), or never (false).
func SetMatcherPlanByHeat(m *Matcher, on bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cfg.heatMinViews = math.MaxInt
	if on {
		m.cfg.heatMinViews = 0
	}
}

// MatcherSegments returns the works of each segment of m's current snapshot (dead included)
// and whether it is indexed, base first.
func MatcherSegments(m *Matcher) (works []int, indexed []bool) {
	for _, sg := range m.snap.Load().segs {
		works = append(works, sg.len())
		indexed = append(indexed, sg.indexed())
	}
	return works, indexed
}
