// Package storetest is the contract suite of index.Store: every implementation must pass
// Run. It checks behaviour through the Store interface only, so it also documents the
// contract by example.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/aura-art/aura/hashing"
	"github.com/aura-art/aura/index"
)

// Factory opens the stores the suite runs on.
type Factory struct {
	// Open returns a new, empty, working store, closed in t.Cleanup by the factory or the
	// suite (Close must tolerate being called twice). Required.
	Open func(t *testing.T) index.Store
	// Broken returns a store whose backend has gone away after opening: Redis, a client of
	// a server that was stopped; the embedded store, one whose database was closed under it.
	// Required.
	Broken func(t *testing.T) index.Store
}

// Run runs the contract suite as subtests of t, in parallel where they can be. Each subtest
// opens its own store.
func Run(t *testing.T, f Factory) {
	t.Helper()
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, Factory)
	}{
		{"CreateGet", testCreateGet},
		{"Exists", testExists},
		{"Validation", testValidation},
		{"ListPaging", testListPaging},
		{"DisableEnableDelete", testDisableEnableDelete},
		{"NotFound", testNotFound},
		{"ChangesPaging", testChangesPaging},
		{"WaitChanges", testWaitChanges},
		{"LoadWorks", testLoadWorks},
		{"LoadWorksConcurrent", testLoadWorksConcurrent},
		{"Disputes", testDisputes},
		{"Cursors", testCursors},
		{"ConcurrentSameSHA", testConcurrentSameSHA},
		{"Closed", testClosed},
		{"Broken", testBroken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, f)
		})
	}
}

// ---- helpers ----

var cmpOpts = []cmp.Option{cmpopts.EquateEmpty()}

// ctx returns a context that ends with the test, bounded so nothing waits forever.
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

func open(t *testing.T, f Factory) index.Store {
	t.Helper()
	s := f.Open(t)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Fingerprint returns a random fingerprint shaped like a Reference fingerprint: the whole
// picture and the reference variants.
func Fingerprint() *hashing.Fingerprint {
	h := func() hashing.Hashes {
		return hashing.Hashes{P: hashing.Hash(mrand.Uint64()), D: hashing.Hash(mrand.Uint64()), A: hashing.Hash(mrand.Uint64())}
	}
	fp := &hashing.Fingerprint{Version: hashing.FormatVersion}
	fp.Views = append(fp.Views, hashing.View{Variant: hashing.Variant{Region: hashing.Full}, Hashes: h()})
	for _, v := range hashing.ReferenceVariants {
		fp.Views = append(fp.Views, hashing.View{Variant: v, Hashes: h()})
	}
	return fp
}

// NewWork returns a valid, unregistered work of the creator with a random SHA-256 and
// fingerprint and a small thumbnail.
func NewWork(creator string) *index.Work {
	return &index.Work{
		CreatorID:    creator,
		CreatorName:  "Name of " + creator,
		Title:        "Untitled " + randomHex(3),
		Year:         1990 + mrand.IntN(35),
		SourceURL:    "https://example.org/" + randomHex(4),
		Licence:      "CC-BY-4.0",
		RegisteredBy: "storetest",
		SHA256:       randomHex(32),
		Fingerprint:  Fingerprint(),
		Thumbnail:    append([]byte{0xff, 0xd8, 0xff, 0xe0}, randomHex(50)...),
	}
}

func create(t *testing.T, s index.Store, w *index.Work) *index.Work {
	t.Helper()
	got, err := s.CreateWork(ctx(t), w)
	if err != nil {
		t.Fatalf("CreateWork: %v", err)
	}
	return got
}

// allChanges reads the whole feed after a seq, paging with a small limit.
func allChanges(t *testing.T, s index.Store, after uint64) []index.Change {
	t.Helper()
	var out []index.Change
	for {
		cs, err := s.Changes(ctx(t), after, 7)
		if err != nil {
			t.Fatalf("Changes(%d): %v", after, err)
		}
		if len(cs) == 0 {
			return out
		}
		out = append(out, cs...)
		after = cs[len(cs)-1].Seq
	}
}

func lastSeq(t *testing.T, s index.Store) uint64 {
	t.Helper()
	cs := allChanges(t, s, 0)
	if len(cs) == 0 {
		return 0
	}
	return cs[len(cs)-1].Seq
}

// allWorks lists every work (of a creator, if given), paging with the limit.
func allWorks(t *testing.T, s index.Store, creator string, limit int) []*index.Work {
	t.Helper()
	var out []*index.Work
	after := ""
	for pages := 0; ; pages++ {
		if pages > 10000 {
			t.Fatal("ListWorks never ends")
		}
		ws, next, err := s.ListWorks(ctx(t), index.ListOptions{CreatorID: creator, After: after, Limit: limit})
		if err != nil {
			t.Fatalf("ListWorks: %v", err)
		}
		out = append(out, ws...)
		if next == "" {
			return out
		}
		if len(ws) == 0 {
			t.Fatal("ListWorks returned an empty page with a next cursor")
		}
		after = next
	}
}

func withoutThumb(w *index.Work) *index.Work {
	c := *w
	c.Thumbnail = nil
	return &c
}

// waitOrTimeout waits for a value from ch for at most d.
func waitOrTimeout[T any](t *testing.T, ch <-chan T, d time.Duration, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(d):
		t.Fatalf("%s: nothing after %v", what, d)
		panic("unreachable")
	}
}

var idPattern = regexp.MustCompile(`^w_[0-9a-f]{16}$`)

// ---- tests ----

func testCreateGet(t *testing.T, f Factory) {
	s := open(t, f)
	c := ctx(t)
	in := NewWork("alice")
	inCopy := *in
	before := time.Now().Add(-time.Second)
	got := create(t, s, in)

	if diff := cmp.Diff(&inCopy, in, cmpOpts...); diff != "" {
		t.Errorf("CreateWork modified its argument (-before +after):\n%s", diff)
	}
	if !idPattern.MatchString(got.ID) {
		t.Errorf("ID = %q, want w_ and 16 lowercase hex digits", got.ID)
	}
	if got.RegisteredAt.Location() != time.UTC || got.RegisteredAt.Before(before) || got.RegisteredAt.After(time.Now().Add(time.Second)) ||
		got.RegisteredAt.Nanosecond()%int(time.Millisecond) != 0 {
		t.Errorf("RegisteredAt = %v, want now in UTC with ms precision", got.RegisteredAt)
	}
	want := inCopy
	want.ID, want.RegisteredAt = got.ID, got.RegisteredAt
	if diff := cmp.Diff(&want, got, cmpOpts...); diff != "" {
		t.Errorf("CreateWork result (-want +got):\n%s", diff)
	}

	byID, err := s.GetWork(c, got.ID)
	if err != nil {
		t.Fatalf("GetWork: %v", err)
	}
	if diff := cmp.Diff(got, byID, cmpOpts...); diff != "" {
		t.Errorf("GetWork (-created +got):\n%s", diff)
	}
	bySHA, err := s.WorkBySHA256(c, in.SHA256)
	if err != nil {
		t.Fatalf("WorkBySHA256: %v", err)
	}
	if diff := cmp.Diff(got, bySHA, cmpOpts...); diff != "" {
		t.Errorf("WorkBySHA256 (-created +got):\n%s", diff)
	}

	cs := allChanges(t, s, 0)
	if len(cs) != 1 {
		t.Fatalf("changes after one create: %d, want 1: %+v", len(cs), cs)
	}
	wantChange := index.Change{Seq: cs[0].Seq, Op: index.OpPut, WorkID: got.ID, CreatorID: "alice", Fingerprint: in.Fingerprint, At: cs[0].At}
	if diff := cmp.Diff(wantChange, cs[0]); diff != "" {
		t.Errorf("put change (-want +got):\n%s", diff)
	}
	if cs[0].Seq == 0 || cs[0].At.Location() != time.UTC || time.Since(cs[0].At) > time.Minute {
		t.Errorf("change Seq %d At %v: want Seq > 0 and a recent UTC time", cs[0].Seq, cs[0].At)
	}

	// A caller's id, time and disabled state are kept (the time in UTC, to the ms); no
	// thumbnail is fine.
	w2 := NewWork("bob")
	w2.ID = "import-0001.a"
	w2.RegisteredAt = time.Date(2001, 2, 3, 4, 5, 6, 789_654_321, time.FixedZone("X", 3600))
	w2.Thumbnail = nil
	w2.Disabled = true
	got2 := create(t, s, w2)
	want2 := *w2
	want2.RegisteredAt = time.Date(2001, 2, 3, 3, 5, 6, 789_000_000, time.UTC)
	if diff := cmp.Diff(&want2, got2, cmpOpts...); diff != "" {
		t.Errorf("CreateWork with id and time (-want +got):\n%s", diff)
	}
	byID2, err := s.GetWork(c, "import-0001.a")
	if err != nil {
		t.Fatalf("GetWork: %v", err)
	}
	if diff := cmp.Diff(&want2, byID2, cmpOpts...); diff != "" {
		t.Errorf("GetWork (-want +got):\n%s", diff)
	}
	if !byID2.RegisteredAt.Equal(want2.RegisteredAt) || byID2.RegisteredAt.Location() != time.UTC {
		t.Errorf("RegisteredAt = %v, want %v", byID2.RegisteredAt, want2.RegisteredAt)
	}
	cs = allChanges(t, s, cs[0].Seq)
	if len(cs) != 1 || cs[0].Op != index.OpPut || !cs[0].Disabled || cs[0].WorkID != got2.ID {
		t.Errorf("put change of a disabled work: %+v, want one put with Disabled", cs)
	}

	// A thumbnail of exactly the maximum size is fine.
	w3 := NewWork("carol")
	w3.Thumbnail = append([]byte{0xff, 0xd8, 0xff}, make([]byte, index.MaxThumbnailSize-3)...)
	got3 := create(t, s, w3)
	byID3, err := s.GetWork(c, got3.ID)
	if err != nil || len(byID3.Thumbnail) != index.MaxThumbnailSize {
		t.Errorf("GetWork of a max-size thumbnail: %v, %d bytes", err, len(byID3.Thumbnail))
	}

	if err := s.Ping(c); err != nil {
		t.Errorf("Ping: %v", err)
	}
}

func testExists(t *testing.T, f Factory) {
	s := open(t, f)
	c := ctx(t)
	first := create(t, s, NewWork("alice"))
	seq := lastSeq(t, s)

	dup := NewWork("mallory") // another creator, same file
	dup.SHA256 = first.SHA256
	got, err := s.CreateWork(c, dup)
	if !errors.Is(err, index.ErrExists) {
		t.Fatalf("CreateWork of the same sha: err = %v, want ErrExists", err)
	}
	if diff := cmp.Diff(first, got, cmpOpts...); diff != "" {
		t.Errorf("CreateWork of the same sha returned (-existing +got):\n%s", diff)
	}

	// Same id, another file: ErrExists with the work holding the id.
	taken := NewWork("mallory")
	taken.ID = first.ID
	got, err = s.CreateWork(c, taken)
	if !errors.Is(err, index.ErrExists) {
		t.Fatalf("CreateWork of a taken id: err = %v, want ErrExists", err)
	}
	if got == nil || got.ID != first.ID || got.SHA256 != first.SHA256 {
		t.Errorf("CreateWork of a taken id returned %+v, want the existing work", got)
	}

	// Same id and file: a replay, no error, nothing changes.
	got, err = s.CreateWork(c, first)
	if err != nil {
		t.Fatalf("CreateWork replay: %v", err)
	}
	if diff := cmp.Diff(first, got, cmpOpts...); diff != "" {
		t.Errorf("CreateWork replay returned (-existing +got):\n%s", diff)
	}

	if cs := allChanges(t, s, seq); len(cs) != 0 {
		t.Errorf("changes after refused creates: %+v, want none", cs)
	}
	all := allWorks(t, s, "", 0)
	if diff := cmp.Diff([]*index.Work{withoutThumb(first)}, all, cmpOpts...); diff != "" {
		t.Errorf("works after refused creates (-want +got):\n%s", diff)
	}
	if ws := allWorks(t, s, "mallory", 0); len(ws) != 0 {
		t.Errorf("mallory has works %v, want none", ws)
	}
	now, err := s.GetWork(c, first.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(first, now, cmpOpts...); diff != "" {
		t.Errorf("existing work changed (-before +after):\n%s", diff)
	}
}

func testValidation(t *testing.T, f Factory) {
	s := open(t, f)
	c := ctx(t)
	for _, tc := range []struct {
		name string
		edit func(*index.Work)
	}{
		{"missing creator", func(w *index.Work) { w.CreatorID = "" }},
		{"creator with NUL", func(w *index.Work) { w.CreatorID = "a\x00b" }},
		{"creator too long", func(w *index.Work) { w.CreatorID = strings.Repeat("c", 257) }},
		{"title not UTF-8", func(w *index.Work) { w.Title = "\xff\xfe" }},
		{"missing fingerprint", func(w *index.Work) { w.Fingerprint = nil }},
		{"fingerprint without views", func(w *index.Work) { w.Fingerprint = &hashing.Fingerprint{Version: hashing.FormatVersion} }},
		{"fingerprint of another version", func(w *index.Work) { w.Fingerprint.Version = hashing.FormatVersion + 1 }},
		{"missing sha", func(w *index.Work) { w.SHA256 = "" }},
		{"short sha", func(w *index.Work) { w.SHA256 = w.SHA256[:63] }},
		{"uppercase sha", func(w *index.Work) { w.SHA256 = strings.ToUpper(w.SHA256) }},
		{"non-hex sha", func(w *index.Work) { w.SHA256 = "g" + w.SHA256[1:] }},
		{"oversize thumbnail", func(w *index.Work) {
			w.Thumbnail = append([]byte{0xff, 0xd8, 0xff}, make([]byte, index.MaxThumbnailSize-2)...)
		}},
		{"thumbnail not a JPEG", func(w *index.Work) { w.Thumbnail = []byte("\x89PNG\r\n\x1a\n") }},
		{"bad id", func(w *index.Work) { w.ID = "has space" }},
		{"id too long", func(w *index.Work) { w.ID = strings.Repeat("i", 65) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := NewWork("alice")
			tc.edit(w)
			got, err := s.CreateWork(c, w)
			if !errors.Is(err, index.ErrInvalid) {
				t.Errorf("err = %v, want ErrInvalid", err)
			}
			if got != nil {
				t.Errorf("returned %+v, want nil", got)
			}
		})
	}
	if _, err := s.CreateWork(c, nil); !errors.Is(err, index.ErrInvalid) {
		t.Errorf("CreateWork(nil): err = %v, want ErrInvalid", err)
	}
	if _, err := s.WorkBySHA256(c, "ABC"); !errors.Is(err, index.ErrInvalid) {
		t.Errorf("WorkBySHA256(malformed): err = %v, want ErrInvalid", err)
	}
	if cs := allChanges(t, s, 0); len(cs) != 0 {
		t.Errorf("changes after invalid creates: %+v", cs)
	}
	if ws := allWorks(t, s, "", 0); len(ws) != 0 {
		t.Errorf("works after invalid creates: %+v", ws)
	}
}

func testListPaging(t *testing.T, f Factory) {
	s := open(t, f)
	c := ctx(t)
	creators := []string{"alice", "bob", "carol"}
	byCreator := map[string][]string{}
	var ids []string
	for i := range 250 {
		cr := creators[i%len(creators)]
		w := create(t, s, NewWork(cr))
		ids = append(ids, w.ID)
		byCreator[cr] = append(byCreator[cr], w.ID)
	}
	slices.Sort(ids)

	idsOf := func(ws []*index.Work) []string {
		out := make([]string, len(ws))
		for i, w := range ws {
			out[i] = w.ID
			if w.Thumbnail != nil {
				t.Errorf("ListWorks returned work %s with a thumbnail", w.ID)
			}
		}
		return out
	}

	// Pages of 100: 100, 100, 50, and the last has no next.
	var got []string
	after := ""
	for i, want := range []int{100, 100, 50} {
		ws, next, err := s.ListWorks(c, index.ListOptions{After: after, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		if len(ws) != want {
			t.Fatalf("page %d: %d works, want %d", i, len(ws), want)
		}
		if (next == "") != (i == 2) {
			t.Fatalf("page %d: next = %q", i, next)
		}
		if next != "" && next != ws[len(ws)-1].ID {
			t.Errorf("page %d: next = %q, want the page's last id %q", i, next, ws[len(ws)-1].ID)
		}
		got = append(got, idsOf(ws)...)
		after = next
	}
	if diff := cmp.Diff(ids, got); diff != "" {
		t.Errorf("ids paged by 100 (-want +got):\n%s", diff)
	}

	// Default and maximum page sizes.
	ws, next, err := s.ListWorks(c, index.ListOptions{})
	if err != nil || len(ws) != index.DefaultPageSize || next == "" {
		t.Errorf("ListWorks with no limit: %d works, next %q, %v; want %d and a next", len(ws), next, err, index.DefaultPageSize)
	}
	ws, next, err = s.ListWorks(c, index.ListOptions{Limit: 5000})
	if err != nil || len(ws) != 250 || next != "" {
		t.Errorf("ListWorks with limit 5000: %d works, next %q, %v; want all 250 and no next", len(ws), next, err)
	}
	// Exactly a page's worth: the last page may end with a next that leads to an empty page,
	// or with none; either way no duplicates and no gaps.
	if diff := cmp.Diff(ids, idsOf(allWorks(t, s, "", 125))); diff != "" {
		t.Errorf("ids paged by 125 (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(ids, idsOf(allWorks(t, s, "", 7))); diff != "" {
		t.Errorf("ids paged by 7 (-want +got):\n%s", diff)
	}
	// A cursor that is not an id continues after it.
	ws, _, err = s.ListWorks(c, index.ListOptions{After: ids[10] + "\x00", Limit: 3})
	if err != nil || len(ws) != 3 || ws[0].ID != ids[11] {
		t.Errorf("ListWorks after a non-id cursor: %v, %v; want from %s", idsOf(ws), err, ids[11])
	}

	for _, cr := range creators {
		want := slices.Sorted(slices.Values(byCreator[cr]))
		ws := allWorks(t, s, cr, 30)
		if diff := cmp.Diff(want, idsOf(ws)); diff != "" {
			t.Errorf("works of %s (-want +got):\n%s", cr, diff)
		}
		for _, w := range ws {
			if w.CreatorID != cr {
				t.Errorf("work %s of %s listed for %s", w.ID, w.CreatorID, cr)
			}
		}
	}
	if ws := allWorks(t, s, "nobody", 0); len(ws) != 0 {
		t.Errorf("works of an unknown creator: %d", len(ws))
	}
	// A creator whose id is a prefix of another's sees only its own works.
	create(t, s, NewWork("al"))
	if ws := allWorks(t, s, "al", 0); len(ws) != 1 || ws[0].CreatorID != "al" {
		t.Errorf("works of creator %q: %v", "al", idsOf(ws))
	}
}

func testDisableEnableDelete(t *testing.T, f Factory) {
	s := open(t, f)
	c := ctx(t)
	w := create(t, s, NewWork("alice"))
	other := create(t, s, NewWork("alice"))
	seq := lastSeq(t, s)

	step := func(name string, fn func() error, wantOp index.ChangeOp) {
		t.Helper()
		if err := fn(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		cs := allChanges(t, s, seq)
		if wantOp == "" {
			if len(cs) != 0 {
				t.Errorf("%s: changes %+v, want none", name, cs)
			}
			return
		}
		if len(cs) != 1 {
			t.Fatalf("%s: %d changes, want 1: %+v", name, len(cs), cs)
		}
		ch := cs[0]
		if ch.Seq <= seq || ch.Op != wantOp || ch.WorkID != w.ID || ch.CreatorID != "alice" {
			t.Errorf("%s: change %+v, want op %s of %s after seq %d", name, ch, wantOp, w.ID, seq)
		}
		wantFP := wantOp == index.OpEnable
		if wantFP {
			if diff := cmp.Diff(w.Fingerprint, ch.Fingerprint); diff != "" {
				t.Errorf("%s: fingerprint (-want +got):\n%s", name, diff)
			}
		} else if ch.Fingerprint != nil {
			t.Errorf("%s: change carries a fingerprint", name)
		}
		if ch.Disabled != (wantOp == index.OpDisable) {
			t.Errorf("%s: change Disabled = %v", name, ch.Disabled)
		}
		seq = ch.Seq
	}
	isDisabled := func(want bool) {
		t.Helper()
		got, err := s.GetWork(c, w.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Disabled != want {
			t.Errorf("Disabled = %v, want %v", got.Disabled, want)
		}
		ws := allWorks(t, s, "alice", 0)
		i := slices.IndexFunc(ws, func(x *index.Work) bool { return x.ID == w.ID })
		if i < 0 || ws[i].Disabled != want {
			t.Errorf("ListWorks: work missing or Disabled != %v", want)
		}
	}

	step("disable", func() error { return s.SetDisabled(c, w.ID, true) }, index.OpDisable)
	isDisabled(true)
	step("disable again", func() error { return s.SetDisabled(c, w.ID, true) }, "")
	isDisabled(true)
	step("enable", func() error { return s.SetDisabled(c, w.ID, false) }, index.OpEnable)
	isDisabled(false)
	step("enable again", func() error { return s.SetDisabled(c, w.ID, false) }, "")
	step("disable before delete", func() error { return s.SetDisabled(c, w.ID, true) }, index.OpDisable)
	step("delete", func() error { return s.DeleteWork(c, w.ID) }, index.OpDelete)

	if _, err := s.GetWork(c, w.ID); !errors.Is(err, index.ErrNotFound) {
		t.Errorf("GetWork after delete: %v, want ErrNotFound", err)
	}
	if _, err := s.WorkBySHA256(c, w.SHA256); !errors.Is(err, index.ErrNotFound) {
		t.Errorf("WorkBySHA256 after delete: %v, want ErrNotFound", err)
	}
	if ws := allWorks(t, s, "", 0); len(ws) != 1 || ws[0].ID != other.ID {
		t.Errorf("works after delete: %v, want only %s", ws, other.ID)
	}
	if ws := allWorks(t, s, "alice", 0); len(ws) != 1 || ws[0].ID != other.ID {
		t.Errorf("alice's works after delete: %v, want only %s", ws, other.ID)
	}
	if err := s.DeleteWork(c, w.ID); !errors.Is(err, index.ErrNotFound) {
		t.Errorf("DeleteWork again: %v, want ErrNotFound", err)
	}
	if err := s.SetDisabled(c, w.ID, false); !errors.Is(err, index.ErrNotFound) {
		t.Errorf("SetDisabled after delete: %v, want ErrNotFound", err)
	}
	if cs := allChanges(t, s, seq); len(cs) != 0 {
		t.Errorf("changes after failed calls: %+v", cs)
	}

	// The file can be registered again, as a new work.
	again := NewWork("bob")
	again.SHA256 = w.SHA256
	got := create(t, s, again)
	if got.ID == w.ID {
		t.Errorf("re-registered work reuses id %s", w.ID)
	}
	if bySHA, err := s.WorkBySHA256(c, w.SHA256); err != nil || bySHA.ID != got.ID {
		t.Errorf("WorkBySHA256 after re-registering: %v, %v", bySHA, err)
	}
	// Seqs increase over the whole feed.
	cs := allChanges(t, s, 0)
	for i := 1; i < len(cs); i++ {
		if cs[i].Seq <= cs[i-1].Seq {
			t.Errorf("seq %d after %d", cs[i].Seq, cs[i-1].Seq)
		}
	}
}

func testNotFound(t *testing.T, f Factory) {
	s := open(t, f)
	c := ctx(t)
	create(t, s, NewWork("alice"))
	seq := lastSeq(t, s)
	for _, id := range []string{"w_0000000000000000", "", "nonsense id", "w_\x00"} {
		if _, err := s.GetWork(c, id); !errors.Is(err, index.ErrNotFound) {
			t.Errorf("GetWork(%q): %v, want ErrNotFound", id, err)
		}
		for _, d := range []bool{true, false} {
			if err := s.SetDisabled(c, id, d); !errors.Is(err, index.ErrNotFound) {
				t.Errorf("SetDisabled(%q, %v): %v, want ErrNotFound", id, d, err)
			}
		}
		if err := s.DeleteWork(c, id); !errors.Is(err, index.ErrNotFound) {
			t.Errorf("DeleteWork(%q): %v, want ErrNotFound", id, err)
		}
	}
	if _, err := s.WorkBySHA256(c, randomHex(32)); !errors.Is(err, index.ErrNotFound) {
		t.Errorf("WorkBySHA256(unknown): %v, want ErrNotFound", err)
	}
	if cs := allChanges(t, s, seq); len(cs) != 0 {
		t.Errorf("changes after not-found calls: %+v", cs)
	}
}

func testChangesPaging(t *testing.T, f Factory) {
	s := open(t, f)
	c := ctx(t)
	if cs, err := s.Changes(c, 0, 10); err != nil || len(cs) != 0 {
		t.Fatalf("Changes of an empty store: %v, %v", cs, err)
	}
	var ids []string
	for range 5 {
		ids = append(ids, create(t, s, NewWork("alice")).ID)
	}
	first, err := s.Changes(c, 0, 2)
	if err != nil || len(first) != 2 {
		t.Fatalf("Changes(0, 2): %d, %v", len(first), err)
	}
	rest, err := s.Changes(c, first[1].Seq, 10)
	if err != nil || len(rest) != 3 {
		t.Fatalf("Changes(after, 10): %d, %v", len(rest), err)
	}
	var got []string
	for _, ch := range append(first, rest...) {
		got = append(got, ch.WorkID)
	}
	if diff := cmp.Diff(ids, got); diff != "" {
		t.Errorf("changes in order (-created +got):\n%s", diff)
	}
	last := rest[2].Seq
	for _, after := range []uint64{last, last + 1, ^uint64(0)} {
		if cs, err := s.Changes(c, after, 10); err != nil || len(cs) != 0 {
			t.Errorf("Changes(%d): %v, %v; want none", after, cs, err)
		}
	}
	if cs, err := s.Changes(c, 0, 0); err != nil || len(cs) != 5 {
		t.Errorf("Changes with limit 0 (default): %d, %v", len(cs), err)
	}
	if cs, err := s.Changes(c, 0, -1); err != nil || len(cs) != 5 {
		t.Errorf("Changes with limit -1 (default): %d, %v", len(cs), err)
	}
}

func testWaitChanges(t *testing.T, f Factory) {
	s := open(t, f)
	first := create(t, s, NewWork("alice"))
	seq := lastSeq(t, s)

	t.Run("immediate", func(t *testing.T) {
		c, cancel := context.WithTimeout(ctx(t), 2*time.Second)
		defer cancel()
		cs, err := s.WaitChanges(c, 0, 10)
		if err != nil || len(cs) != 1 || cs[0].WorkID != first.ID {
			t.Errorf("WaitChanges with a change pending: %+v, %v", cs, err)
		}
	})

	t.Run("wakes on write", func(t *testing.T) {
		type result struct {
			cs  []index.Change
			err error
			at  time.Time
		}
		done := make(chan result, 1)
		c := ctx(t)
		go func() {
			cs, err := s.WaitChanges(c, seq, 10)
			done <- result{cs, err, time.Now()}
		}()
		time.Sleep(200 * time.Millisecond) // let it block
		select {
		case r := <-done:
			t.Fatalf("WaitChanges returned before any write: %+v", r)
		default:
		}
		w := create(t, s, NewWork("bob"))
		wrote := time.Now()
		r := waitOrTimeout(t, done, 5*time.Second, "WaitChanges after a write")
		if r.err != nil || len(r.cs) != 1 || r.cs[0].WorkID != w.ID || r.cs[0].Seq <= seq {
			t.Fatalf("WaitChanges: %+v, %v; want the put of %s", r.cs, r.err, w.ID)
		}
		if d := r.at.Sub(wrote); d > time.Second {
			t.Errorf("WaitChanges woke %v after the write, want within 1s", d)
		}
		seq = r.cs[0].Seq
	})

	t.Run("cancel", func(t *testing.T) {
		c, cancel := context.WithCancel(ctx(t))
		done := make(chan error, 1)
		go func() {
			_, err := s.WaitChanges(c, seq, 10)
			done <- err
		}()
		time.Sleep(100 * time.Millisecond)
		cancel()
		cancelled := time.Now()
		err := waitOrTimeout(t, done, 5*time.Second, "WaitChanges after cancel")
		if !errors.Is(err, context.Canceled) {
			t.Errorf("WaitChanges after cancel: %v, want context.Canceled", err)
		}
		if d := time.Since(cancelled); d > time.Second {
			t.Errorf("WaitChanges returned %v after cancel, want within 1s", d)
		}
	})

	t.Run("deadline", func(t *testing.T) {
		c, cancel := context.WithTimeout(ctx(t), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := s.WaitChanges(c, seq, 10)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("WaitChanges past its deadline: %v, want DeadlineExceeded", err)
		}
		if d := time.Since(start); d > 1300*time.Millisecond {
			t.Errorf("WaitChanges returned %v after start, deadline 300ms", d)
		}
	})
}

// entryState is what a replica holds of a work.
type entryState struct {
	Creator     string
	Disabled    bool
	Fingerprint string
}

func stateOf(e index.MatchEntry) entryState {
	return entryState{e.CreatorID, e.Disabled, e.Fingerprint.String()}
}

// apply applies a change to a replica as a matcher would.
func apply(t *testing.T, replica map[string]entryState, ch index.Change) {
	t.Helper()
	switch ch.Op {
	case index.OpPut, index.OpEnable:
		if ch.Fingerprint == nil {
			t.Fatalf("%s change of %s without fingerprint", ch.Op, ch.WorkID)
		}
		replica[ch.WorkID] = stateOf(ch.Entry())
	case index.OpDisable:
		e, ok := replica[ch.WorkID]
		if !ok {
			return // deleted later in the feed; its put was before the load and it was gone by then
		}
		e.Disabled = true
		replica[ch.WorkID] = e
	case index.OpDelete:
		delete(replica, ch.WorkID)
	default:
		t.Fatalf("unknown op %q", ch.Op)
	}
}

// storeState is the replica a store should produce now, from ListWorks.
func storeState(t *testing.T, s index.Store) map[string]entryState {
	t.Helper()
	out := map[string]entryState{}
	for _, w := range allWorks(t, s, "", index.MaxPageSize) {
		out[w.ID] = entryState{w.CreatorID, w.Disabled, w.Fingerprint.String()}
	}
	return out
}

func testLoadWorks(t *testing.T, f Factory) {
	s := open(t, f)
	c := ctx(t)
	n, err := s.LoadWorks(c, func(index.MatchEntry) error { t.Error("fn called on an empty store"); return nil })
	if err != nil || n != 0 {
		t.Errorf("LoadWorks of an empty store: %d, %v", n, err)
	}
	for i := range 30 {
		w := create(t, s, NewWork(fmt.Sprintf("c%d", i%4)))
		if i%5 == 0 {
			if err := s.SetDisabled(c, w.ID, true); err != nil {
				t.Fatal(err)
			}
		}
		if i%7 == 0 {
			if err := s.DeleteWork(c, w.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	replica := map[string]entryState{}
	var order []string
	last, err := s.LoadWorks(c, func(e index.MatchEntry) error {
		replica[e.ID] = stateOf(e)
		order = append(order, e.ID)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := lastSeq(t, s); last != want {
		t.Errorf("lastSeq = %d, want the feed's last %d", last, want)
	}
	if !slices.IsSorted(order) {
		t.Errorf("LoadWorks not in id order")
	}
	if diff := cmp.Diff(storeState(t, s), replica); diff != "" {
		t.Errorf("loaded (-store +loaded):\n%s", diff)
	}

	// fn's error stops the load and is returned.
	stop := errors.New("stop")
	calls := 0
	if _, err := s.LoadWorks(c, func(index.MatchEntry) error { calls++; return stop }); !errors.Is(err, stop) || calls != 1 {
		t.Errorf("LoadWorks with failing fn: %v after %d calls, want %v after 1", err, calls, stop)
	}
	// fn may call the store.
	if _, err := s.LoadWorks(c, func(e index.MatchEntry) error {
		_, err := s.GetWork(c, e.ID)
		return err
	}); err != nil {
		t.Errorf("LoadWorks calling the store from fn: %v", err)
	}
}

func testLoadWorksConcurrent(t *testing.T, f Factory) {
	s := open(t, f)
	c := ctx(t)
	var ids []string
	for i := range 1200 { // more than one load batch
		ids = append(ids, create(t, s, NewWork(fmt.Sprintf("c%d", i%5))).ID)
	}

	// A writer creates, disables, enables and deletes while the load runs.
	started := make(chan struct{})
	writerDone := make(chan error, 1)
	go func() {
		defer close(writerDone)
		r := mrand.New(mrand.NewPCG(1, 2))
		for i := range 300 {
			if i == 10 {
				close(started)
			}
			var err error
			switch k := r.IntN(10); {
			case k < 4:
				_, err = s.CreateWork(c, NewWork(fmt.Sprintf("c%d", i%5)))
			case k < 6:
				err = s.SetDisabled(c, ids[r.IntN(len(ids))], true)
			case k < 8:
				err = s.SetDisabled(c, ids[r.IntN(len(ids))], false)
			default:
				err = s.DeleteWork(c, ids[r.IntN(len(ids))])
			}
			if err != nil && !errors.Is(err, index.ErrNotFound) {
				writerDone <- err
				return
			}
		}
	}()
	<-started
	replica := map[string]entryState{}
	loaded := 0
	last, err := s.LoadWorks(c, func(e index.MatchEntry) error {
		if _, dup := replica[e.ID]; dup {
			t.Errorf("work %s loaded twice", e.ID)
		}
		replica[e.ID] = stateOf(e)
		if loaded++; loaded%50 == 0 {
			time.Sleep(time.Millisecond) // let the writer interleave
		}
		return nil
	})
	if err != nil {
		t.Fatalf("LoadWorks: %v", err)
	}
	if err := <-writerDone; err != nil {
		t.Fatalf("writer: %v", err)
	}
	for _, ch := range allChanges(t, s, last) {
		apply(t, replica, ch)
	}
	if diff := cmp.Diff(storeState(t, s), replica); diff != "" {
		t.Errorf("load + changes after lastSeq %d differ from the store (-store +replica):\n%s", last, diff)
	}
}

func testDisputes(t *testing.T, f Factory) {
	s := open(t, f)
	c := ctx(t)
	if ds, next, err := s.ListDisputes(c, "", 10); err != nil || len(ds) != 0 || next != "" {
		t.Errorf("ListDisputes of an empty store: %v, %q, %v", ds, next, err)
	}
	var want []*index.Dispute
	for i := range 5 {
		d := &index.Dispute{
			WorkID: fmt.Sprintf("w_new%d", i), ExistingWorkID: fmt.Sprintf("w_old%d", i),
			CreatorID: "mallory", ExistingCreatorID: "alice", Score: 0.9 + float64(i)/100,
		}
		if i == 3 {
			d.ID = "d_given"
			d.CreatedAt = time.Date(2020, 1, 2, 3, 4, 5, 6_000_000, time.UTC)
		}
		if err := s.CreateDispute(c, d); err != nil {
			t.Fatalf("CreateDispute: %v", err)
		}
		if d.ID == "" || (i != 3 && !regexp.MustCompile(`^d_[0-9a-f]{16}$`).MatchString(d.ID)) {
			t.Errorf("dispute ID = %q", d.ID)
		}
		if d.CreatedAt.IsZero() || d.CreatedAt.Location() != time.UTC {
			t.Errorf("dispute CreatedAt = %v", d.CreatedAt)
		}
		c := *d
		want = append(want, &c)
	}
	var got []*index.Dispute
	after := ""
	for range 10 {
		ds, next, err := s.ListDisputes(c, after, 2)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ds...)
		if next == "" {
			break
		}
		after = next
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("disputes in recording order (-want +got):\n%s", diff)
	}
	if ds, _, err := s.ListDisputes(c, "", 0); err != nil || len(ds) != 5 {
		t.Errorf("ListDisputes with limit 0: %d, %v", len(ds), err)
	}

	dup := *want[0]
	if err := s.CreateDispute(c, &dup); !errors.Is(err, index.ErrExists) {
		t.Errorf("CreateDispute of a recorded id: %v, want ErrExists", err)
	}
	for _, bad := range []*index.Dispute{
		nil,
		{ExistingWorkID: "w_b", CreatorID: "x", ExistingCreatorID: "y"},
		{WorkID: "w_a", CreatorID: "x", ExistingCreatorID: "y"},
		{WorkID: "w_a", ExistingWorkID: "w_b", ExistingCreatorID: "y"},
		{WorkID: "w_a", ExistingWorkID: "w_b", CreatorID: "x", ExistingCreatorID: "y", Score: 1.5},
		{ID: "bad id", WorkID: "w_a", ExistingWorkID: "w_b", CreatorID: "x", ExistingCreatorID: "y"},
	} {
		if err := s.CreateDispute(c, bad); !errors.Is(err, index.ErrInvalid) {
			t.Errorf("CreateDispute(%+v): %v, want ErrInvalid", bad, err)
		}
	}
	if _, _, err := s.ListDisputes(c, "not a cursor", 2); !errors.Is(err, index.ErrInvalid) {
		t.Errorf("ListDisputes with a bad cursor: %v, want ErrInvalid", err)
	}
	if ds, _, err := s.ListDisputes(c, "", 100); err != nil || len(ds) != 5 {
		t.Errorf("disputes after refused creates: %d, %v; want 5", len(ds), err)
	}
}

func testConcurrentSameSHA(t *testing.T, f Factory) {
	s := open(t, f)
	c := ctx(t)
	sha := randomHex(32)
	const n = 8
	type result struct {
		w   *index.Work
		err error
	}
	results := make(chan result, n)
	var ready, wg sync.WaitGroup
	gate := make(chan struct{})
	for i := range n {
		ready.Add(1)
		wg.Go(func() {
			w := NewWork(fmt.Sprintf("creator%d", i))
			w.SHA256 = sha
			ready.Done()
			<-gate
			got, err := s.CreateWork(c, w)
			results <- result{got, err}
		})
	}
	ready.Wait()
	close(gate)
	wg.Wait()
	close(results)
	created, exists := 0, 0
	ids := map[string]bool{}
	for r := range results {
		switch {
		case r.err == nil:
			created++
		case errors.Is(r.err, index.ErrExists):
			exists++
		default:
			t.Errorf("CreateWork: %v", r.err)
			continue
		}
		if r.w == nil {
			t.Errorf("CreateWork returned no work (err %v)", r.err)
			continue
		}
		ids[r.w.ID] = true
	}
	if created != 1 || exists != n-1 || len(ids) != 1 {
		t.Errorf("%d created, %d exists, %d distinct ids; want 1, %d, 1", created, exists, len(ids), n-1)
	}
	if cs := allChanges(t, s, 0); len(cs) != 1 {
		t.Errorf("%d changes, want 1", len(cs))
	}
	if ws := allWorks(t, s, "", 0); len(ws) != 1 {
		t.Errorf("%d works, want 1", len(ws))
	}
}

// calls lists a call of every Store method (but Close), for the failure tests.
func calls() []struct {
	name string
	fn   func(context.Context, index.Store) error
} {
	w := NewWork("alice")
	return []struct {
		name string
		fn   func(context.Context, index.Store) error
	}{
		{"CreateWork", func(c context.Context, s index.Store) error { _, err := s.CreateWork(c, w); return err }},
		{"GetWork", func(c context.Context, s index.Store) error { _, err := s.GetWork(c, "w_0000000000000001"); return err }},
		{"WorkBySHA256", func(c context.Context, s index.Store) error { _, err := s.WorkBySHA256(c, w.SHA256); return err }},
		{"ListWorks", func(c context.Context, s index.Store) error {
			_, _, err := s.ListWorks(c, index.ListOptions{})
			return err
		}},
		{"ListWorks/creator", func(c context.Context, s index.Store) error {
			_, _, err := s.ListWorks(c, index.ListOptions{CreatorID: "alice"})
			return err
		}},
		{"SetDisabled", func(c context.Context, s index.Store) error { return s.SetDisabled(c, "w_0000000000000001", true) }},
		{"DeleteWork", func(c context.Context, s index.Store) error { return s.DeleteWork(c, "w_0000000000000001") }},
		{"Changes", func(c context.Context, s index.Store) error { _, err := s.Changes(c, 0, 10); return err }},
		{"WaitChanges", func(c context.Context, s index.Store) error { _, err := s.WaitChanges(c, 0, 10); return err }},
		{"LoadWorks", func(c context.Context, s index.Store) error {
			_, err := s.LoadWorks(c, func(index.MatchEntry) error { return nil })
			return err
		}},
		{"CreateDispute", func(c context.Context, s index.Store) error {
			return s.CreateDispute(c, &index.Dispute{WorkID: "w_a", ExistingWorkID: "w_b", CreatorID: "x", ExistingCreatorID: "y"})
		}},
		{"ListDisputes", func(c context.Context, s index.Store) error { _, _, err := s.ListDisputes(c, "", 10); return err }},
		{"Ping", func(c context.Context, s index.Store) error { return s.Ping(c) }},
	}
}

// callSafely runs one call with a generous deadline and reports a panic as an error.
func callSafely(fn func(context.Context, index.Store) error, s index.Store) (took time.Duration, err error) {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	defer func() {
		took = time.Since(start)
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return 0, fn(c, s)
}

func testClosed(t *testing.T, f Factory) {
	s := f.Open(t)
	create(t, s, NewWork("alice"))
	seq := lastSeq(t, s)

	// A wait in progress ends when the store closes.
	waitErr := make(chan error, 1)
	c := ctx(t)
	go func() {
		_, err := s.WaitChanges(c, seq, 10)
		waitErr <- err
	}()
	time.Sleep(100 * time.Millisecond)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := waitOrTimeout(t, waitErr, 3*time.Second, "WaitChanges after Close"); err == nil {
		t.Error("WaitChanges ended by Close returned no error")
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v, want nil", err)
	}
	for _, call := range calls() {
		took, err := callSafely(call.fn, s)
		if !errors.Is(err, index.ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", call.name, err)
		}
		if took > time.Second {
			t.Errorf("%s after Close took %v", call.name, took)
		}
	}
}

func testBroken(t *testing.T, f Factory) {
	s := f.Broken(t)
	t.Cleanup(func() { _ = s.Close() })
	for _, call := range calls() {
		took, err := callSafely(call.fn, s)
		if err == nil {
			t.Errorf("%s on a broken store: no error", call.name)
		} else if strings.HasPrefix(err.Error(), "panic:") {
			t.Errorf("%s on a broken store: %v", call.name, err)
		} else if errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s on a broken store hung until its deadline: %v", call.name, err)
		}
		if took > 3*time.Second {
			t.Errorf("%s on a broken store took %v, want under 3s", call.name, took)
		}
		t.Logf("%s: %v (%v)", call.name, err, took.Round(time.Millisecond))
	}
}

// testCursors: a store keeps named feed positions (index.Cursors), apart from each other
// and from other stores' prefixes.
func testCursors(t *testing.T, f Factory) {
	s := open(t, f)
	c := ctx(t)
	cs, ok := s.(index.Cursors)
	if !ok {
		t.Fatalf("%T keeps no cursors", s)
	}
	if seq, ok, err := cs.Cursor(c, "retro"); err != nil || ok || seq != 0 {
		t.Fatalf("cursor of a new store: %d, %v, %v; want none", seq, ok, err)
	}
	for _, want := range []uint64{7, 3, 1 << 40} {
		if err := cs.SetCursor(c, "retro", want); err != nil {
			t.Fatal(err)
		}
		if seq, ok, err := cs.Cursor(c, "retro"); err != nil || !ok || seq != want {
			t.Fatalf("cursor after setting %d: %d, %v, %v", want, seq, ok, err)
		}
	}
	if _, ok, err := cs.Cursor(c, "other"); err != nil || ok {
		t.Fatalf("another name's cursor: %v, %v; want none", ok, err)
	}
}
