package index

import (
	"fmt"
	"testing"

	"github.com/aura-art/aura/hashing"
)

func TestDeadSet(t *testing.T) {
	var d deadWriter
	slots := []uint32{0, 63, 64, 1<<deadPageShift - 1, 1 << deadPageShift, 5<<deadPageShift + 17}
	for _, s := range slots {
		d.set(s, true)
	}
	frozen := d.freeze()
	d.set(63, false)
	d.set(1<<deadPageShift, false)
	d.set(7<<deadPageShift, false) // beyond the pages: nothing to clear
	for _, s := range slots {
		if !frozen.has(s) {
			t.Errorf("frozen set lost slot %d", s)
		}
		if want := s != 63 && s != 1<<deadPageShift; d.has(s) != want {
			t.Errorf("writer has(%d) = %v, want %v", s, d.has(s), want)
		}
	}
	for _, s := range []uint32{1, 62, 65, 2 << deadPageShift, 9 << deadPageShift} {
		if frozen.has(s) || d.has(s) {
			t.Errorf("slot %d is dead but was never set", s)
		}
	}
}

// TestSnapshotIsolation: a snapshot taken before a change does not see it, although the
// tail's arrays are shared, and freed slots are reused.
func TestSnapshotIsolation(t *testing.T) {
	m := NewMatcher()
	m.cfg.tailMax = 4
	fp := func(i int) *hashing.Fingerprint {
		return &hashing.Fingerprint{Views: []hashing.View{{Variant: hashing.Variant{Region: hashing.Full}, Hashes: hashing.Hashes{P: hashing.Hash(i)}}}}
	}
	m.Put(MatchEntry{ID: "a", CreatorID: "c", Fingerprint: fp(1)})
	before := m.snap.Load()
	m.Put(MatchEntry{ID: "b", CreatorID: "c", Fingerprint: fp(2)})
	m.Remove("a")
	if before.live != 1 || before.total != 1 || before.dead.has(0) {
		t.Errorf("old snapshot changed: live %d, total %d, slot 0 dead %v", before.live, before.total, before.dead.has(0))
	}
	for i := range 10 { // compactions drop a and free its slot for reuse
		m.Put(MatchEntry{ID: fmt.Sprint("x", i), CreatorID: "c", Fingerprint: fp(10 + i)})
	}
	m.mu.Lock()
	slots := len(m.st.slotViews)
	m.mu.Unlock()
	if m.Len() != 11 || slots != 11 {
		t.Errorf("Len() = %d with %d slots, want 11 works in 11 slots (12 puts, a's slot freed and reused)", m.Len(), slots)
	}
}
