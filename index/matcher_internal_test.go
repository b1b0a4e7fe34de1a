package index

import (
	"context"
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

// entriesStore serves LoadWorks from a list of entries.
type entriesStore struct {
	Store // nil: only LoadWorks is called
	es    []MatchEntry
}

func (s entriesStore) LoadWorks(ctx context.Context, fn func(MatchEntry) error) (uint64, error) {
	for _, e := range s.es {
		if err := fn(e); err != nil {
			return 0, err
		}
	}
	return 1, nil
}

// TestMatcherReloadForgetsBounds checks that the bounds a lookup worked out for the variant
// lists of one load are not used after a reload, whose lists may differ with the same count:
// here the first registry holds only whole pictures, so a crop of a query needs no search
// of crops, and the reloaded one holds only that crop.
func TestMatcherReloadForgetsBounds(t *testing.T) {
	crop := hashing.Variant{Region: hashing.Region{X: 10, Y: 10, W: 80, H: 80}}
	h := hashing.Hashes{P: 0x1234, D: 0x5678, A: 0x9abc}
	m := NewMatcher()
	m.Put(MatchEntry{ID: "a", CreatorID: "c", Fingerprint: &hashing.Fingerprint{Views: []hashing.View{{Variant: hashing.Variant{Region: hashing.Full}, Hashes: hashing.Hashes{P: ^h.P, D: ^h.D, A: ^h.A}}}}})
	q := &hashing.Fingerprint{Views: []hashing.View{{Variant: crop, Hashes: h}}}
	th := hashing.DefaultThresholds
	if got := m.Lookup(q, th, 0); len(got) != 0 {
		t.Fatalf("before the reload: %+v, want nothing", got)
	}
	b := MatchEntry{ID: "b", CreatorID: "c", Fingerprint: &hashing.Fingerprint{Views: []hashing.View{{Variant: crop, Hashes: h}}}}
	if _, _, err := m.load(context.Background(), entriesStore{es: []MatchEntry{b}}); err != nil {
		t.Fatal(err)
	}
	if !th.Accept(hashing.Compare(q, b.Fingerprint), false) {
		t.Fatal("the reloaded work does not match: the test does not test")
	}
	if got := m.Lookup(q, th, 0); len(got) != 1 || got[0].WorkID != "b" {
		t.Errorf("after the reload: %+v, want work b", got)
	}
}

// TestInternVariantsOpened checks that two works whose views differ only in being opened do
// not share a variant list: a shared one would rebuild one work's fingerprint with the
// other's flags.
func TestInternVariantsOpened(t *testing.T) {
	st := newState()
	plain := []hashing.View{{Variant: hashing.Variant{Region: hashing.Full}}, {Variant: hashing.Variant{Region: hashing.Full}}}
	opened := []hashing.View{{Variant: hashing.Variant{Region: hashing.Full}}, {Variant: hashing.Variant{Opened: true, Region: hashing.Full}}}
	a, b := st.internVariants(plain), st.internVariants(opened)
	if a == b {
		t.Fatalf("views differing only in Opened share variant list %d", a)
	}
	if got := st.vlists[b][1]; !got.Opened {
		t.Errorf("interned opened view lost its flag: %+v", got)
	}
}
