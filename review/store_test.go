package review_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"

	"github.com/aura-art/aura/index"
	"github.com/aura-art/aura/internal/redistest"
	"github.com/aura-art/aura/review"
	"github.com/aura-art/aura/verdict"
)

// The contract suite: every Store implementation runs every test below.

type opener func(t *testing.T) review.Store

func openBolt(t *testing.T) review.Store {
	s, err := index.OpenBolt(filepath.Join(t.TempDir(), "aura.db"), index.BoltOptions{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	rs, err := review.NewBoltStore(s.DB())
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func redisOpener(addr string) opener { return redisUserOpener(addr, "", "") }

func redisUserOpener(addr, user, password string) opener {
	n := 0
	var mu sync.Mutex
	return func(t *testing.T) review.Store {
		rdb := redis.NewClient(&redis.Options{Addr: addr, Username: user, Password: password})
		t.Cleanup(func() { _ = rdb.Close() })
		mu.Lock()
		n++
		prefix := fmt.Sprintf("t%d", n) // a store of its own per test
		mu.Unlock()
		return review.NewRedisStore(rdb, prefix)
	}
}

func TestBoltStore(t *testing.T) { runContract(t, openBolt) }

func TestRedisStore(t *testing.T) { runContract(t, redisOpener(redistest.Start(t))) }

// TestRedisStoreACL runs the suite as the ACL user of deploy/redis-aura.acl (its key
// pattern widened to the suite's prefixes): every command the store sends is allowed.
func TestRedisStoreACL(t *testing.T) {
	srv := redistest.StartACL(t, filepath.Join("..", "deploy", "redis-aura.acl"), map[string]string{">CHANGE-ME": ">acl-secret", "~{aura:*": "~*"})
	runContract(t, redisUserOpener(srv.Addr, "aura", "acl-secret"))
}

func runContract(t *testing.T, open opener) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, review.Store)
	}{
		{"CreateGet", testCreateGet},
		{"Validation", testValidation},
		{"ListPagingFilters", testList},
		{"Decide", testDecide},
		{"DecideRefusals", testDecideRefusals},
		{"ConcurrentDecide", testConcurrentDecide},
		{"Suppressions", testSuppressions},
		{"CountsEvents", testCountsEvents},
		{"Users", testUsers},
		{"SessionKey", testSessionKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// newCase returns a valid upload case n, created n minutes after t0.
func newCase(n int) *review.Case {
	return &review.Case{
		ID: review.CaseID(review.Upload, "shop", fmt.Sprint("sub-", n)), Kind: review.Upload, Tenant: "shop",
		SubjectID: fmt.Sprint("sub-", n), ClaimedCreator: "mallory", Source: "inline", Verdict: verdict.Derivative,
		Matches: []verdict.Match{
			{WorkID: "w_a", CreatorID: "alice", Title: "Harbour", Score: 0.9},
			{WorkID: "w_b", CreatorID: "bob", Score: 0.8},
		},
		Fingerprint: []byte("fp-bytes"), Thumbnail: []byte("\xff\xd8\xff\xe0jpeg"),
		CreatedAt: t0.Add(time.Duration(n) * time.Minute),
	}
}

func mustCreate(t *testing.T, s review.Store, c *review.Case) *review.Case {
	t.Helper()
	got, created, err := s.CreateCase(ctx(t), c)
	if err != nil || !created {
		t.Fatalf("CreateCase(%s) = created %v, %v", c.ID, created, err)
	}
	return got
}

func testCreateGet(t *testing.T, s review.Store) {
	c := newCase(1)
	got := mustCreate(t, s, c)
	if got.State != review.Open || got.Version != 1 || !got.CreatedAt.Equal(c.CreatedAt) || !got.UpdatedAt.Equal(c.CreatedAt) {
		t.Fatalf("created case: state %s version %d times %v %v", got.State, got.Version, got.CreatedAt, got.UpdatedAt)
	}
	read, err := s.GetCase(ctx(t), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(got, read); d != "" {
		t.Fatalf("GetCase differs from the created case (-created +read):\n%s", d)
	}
	// Idempotent: the same id again returns the stored case, even with other content.
	again := newCase(1)
	again.Source = "https://elsewhere.example/x.jpg"
	old, created, err := s.CreateCase(ctx(t), again)
	if err != nil || created || old.Source != "inline" {
		t.Fatalf("CreateCase again = created %v source %q, %v; want the first case", created, old.Source, err)
	}
	if _, err := s.GetCase(ctx(t), "c_missing"); !errors.Is(err, review.ErrNotFound) {
		t.Fatalf("GetCase(missing) = %v, want ErrNotFound", err)
	}
	// CreatedAt defaults to now.
	n := newCase(2)
	n.CreatedAt = time.Time{}
	before := time.Now().Add(-time.Second)
	got = mustCreate(t, s, n)
	if got.CreatedAt.Before(before) || got.CreatedAt.Location() != time.UTC {
		t.Fatalf("CreatedAt = %v, want now in UTC", got.CreatedAt)
	}
}

func testValidation(t *testing.T, s review.Store) {
	for name, mod := range map[string]func(c *review.Case){
		"no id":           func(c *review.Case) { c.ID = "" },
		"bad id":          func(c *review.Case) { c.ID = "c/../x" },
		"bad kind":        func(c *review.Case) { c.Kind = "weird" },
		"no tenant":       func(c *review.Case) { c.Tenant = "" },
		"bad tenant":      func(c *review.Case) { c.Tenant = "a.b" },
		"dispute tenant":  func(c *review.Case) { c.Kind = review.Dispute },
		"no subject":      func(c *review.Case) { c.SubjectID = "" },
		"no matches":      func(c *review.Case) { c.Matches = nil },
		"bad work id":     func(c *review.Case) { c.Matches[0].WorkID = "<script>" },
		"big thumbnail":   func(c *review.Case) { c.Thumbnail = make([]byte, review.MaxThumbnailSize+1) },
		"not a JPEG":      func(c *review.Case) { c.Thumbnail = []byte("<svg onload=alert(1)>") },
		"control in text": func(c *review.Case) { c.ClaimedCreator = "a\x00b" },
	} {
		c := newCase(1)
		mod(c)
		if _, _, err := s.CreateCase(ctx(t), c); !errors.Is(err, review.ErrInvalid) {
			t.Errorf("%s: CreateCase = %v, want ErrInvalid", name, err)
		}
	}
	if page, _, _ := s.ListCases(ctx(t), review.Filter{}); len(page) != 0 {
		t.Fatalf("invalid cases were stored: %d listed", len(page))
	}
	d := newCase(3)
	d.Kind, d.Tenant, d.Verdict = review.Dispute, "", ""
	mustCreate(t, s, d)
}

func testList(t *testing.T, s review.Store) {
	const n = 23
	for i := range n {
		c := newCase(i)
		if i%3 == 0 {
			c.Tenant = "other"
		}
		if i%4 == 0 {
			c.Kind = review.Rescan
		}
		if i%5 == 0 {
			c.Verdict = verdict.LikelyForgery
		}
		c.Matches[0].Score = 0.76 + float64(i)/100
		mustCreate(t, s, c)
	}
	// Paging returns every case once, oldest first.
	var all []review.Summary
	f := review.Filter{Limit: 5}
	for range 10 {
		page, next, err := s.ListCases(ctx(t), f)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page...)
		if next == "" {
			break
		}
		f.After = next
	}
	if len(all) != n {
		t.Fatalf("paged %d cases, want %d", len(all), n)
	}
	for i, s := range all {
		if s.SubjectID != fmt.Sprint("sub-", i) || s.State != review.Open || s.WorkID != "w_a" || s.Matches != 2 {
			t.Fatalf("page entry %d = %+v", i, s)
		}
	}
	now := t0.Add(time.Hour)
	count := func(f review.Filter) int {
		t.Helper()
		f.Now, f.Limit = now, review.MaxPageSize
		page, next, err := s.ListCases(ctx(t), f)
		if err != nil || next != "" {
			t.Fatalf("ListCases(%+v) = next %q, %v", f, next, err)
		}
		return len(page)
	}
	want := func(pred func(i int) bool) int {
		k := 0
		for i := range n {
			if pred(i) {
				k++
			}
		}
		return k
	}
	for name, tc := range map[string]struct {
		f    review.Filter
		pred func(int) bool
	}{
		"tenant":    {review.Filter{Tenant: "other"}, func(i int) bool { return i%3 == 0 }},
		"kind":      {review.Filter{Kind: review.Rescan}, func(i int) bool { return i%4 == 0 }},
		"verdict":   {review.Filter{Verdict: verdict.LikelyForgery}, func(i int) bool { return i%5 == 0 }},
		"score":     {review.Filter{MinScore: 0.90}, func(i int) bool { return 0.76+float64(i)/100 >= 0.90-1e-9 }},
		"older":     {review.Filter{OlderThan: 50 * time.Minute}, func(i int) bool { return i <= 10 }},
		"newer":     {review.Filter{NewerThan: 45 * time.Minute}, func(i int) bool { return i > 15 }},
		"combined":  {review.Filter{Tenant: "shop", Kind: review.Upload}, func(i int) bool { return i%3 != 0 && i%4 != 0 }},
		"decided":   {review.Filter{State: review.Dismissed}, func(int) bool { return false }},
		"no tenant": {review.Filter{Tenant: "nobody"}, func(int) bool { return false }},
	} {
		if got, w := count(tc.f), want(tc.pred); got != w {
			t.Errorf("filter %s: %d cases, want %d", name, got, w)
		}
	}
	// A filtered page stops at the limit and continues from its cursor.
	page, next, err := s.ListCases(ctx(t), review.Filter{Tenant: "other", Limit: 2})
	if err != nil || len(page) != 2 || next == "" {
		t.Fatalf("filtered page = %d, %q, %v", len(page), next, err)
	}
	rest, _, err := s.ListCases(ctx(t), review.Filter{Tenant: "other", After: next, Limit: 100})
	if err != nil || len(rest) != want(func(i int) bool { return i%3 == 0 })-2 || rest[0].SubjectID != "sub-6" {
		t.Fatalf("rest of filtered pages = %d (first %+v), %v", len(rest), rest, err)
	}
	if _, _, err := s.ListCases(ctx(t), review.Filter{State: "bogus"}); !errors.Is(err, review.ErrInvalid) {
		t.Fatalf("ListCases(bogus state) = %v, want ErrInvalid", err)
	}
}

func testDecide(t *testing.T, s review.Store) {
	c := mustCreate(t, s, newCase(1))
	got, err := s.Decide(ctx(t), c.ID, 1, review.Decision{By: "mo", To: review.Confirmed, Note: "same brush strokes"})
	if err != nil {
		t.Fatal(err)
	}
	if got.State != review.Confirmed || got.Version != 2 || len(got.History) != 1 {
		t.Fatalf("decided case: %+v", got)
	}
	h := got.History[0]
	if h.By != "mo" || h.From != review.Open || h.To != review.Confirmed || h.Note != "same brush strokes" || h.At.IsZero() {
		t.Fatalf("history entry %+v", h)
	}
	read, _ := s.GetCase(ctx(t), c.ID)
	if d := cmp.Diff(got, read); d != "" {
		t.Fatalf("GetCase after Decide (-returned +read):\n%s", d)
	}
	// It moved queues.
	open, _, _ := s.ListCases(ctx(t), review.Filter{})
	conf, _, _ := s.ListCases(ctx(t), review.Filter{State: review.Confirmed})
	if len(open) != 0 || len(conf) != 1 || conf[0].State != review.Confirmed {
		t.Fatalf("after confirming: %d open, %d confirmed", len(open), len(conf))
	}
	// Reverse: reopen, then dismiss.
	got, err = s.Decide(ctx(t), c.ID, 2, review.Decision{By: "admin", To: review.Open, Note: "wrong call"})
	if err != nil || got.State != review.Open || got.Version != 3 {
		t.Fatalf("reopen = %+v, %v", got, err)
	}
	got, err = s.Decide(ctx(t), c.ID, 3, review.Decision{By: "mo", To: review.Dismissed})
	if err != nil || got.State != review.Dismissed || len(got.History) != 3 {
		t.Fatalf("dismiss after reopen = %+v, %v", got, err)
	}
	var path []review.State
	for _, h := range got.History {
		path = append(path, h.To)
	}
	if d := cmp.Diff([]review.State{review.Confirmed, review.Open, review.Dismissed}, path); d != "" {
		t.Fatalf("history path:\n%s", d)
	}
}

func testDecideRefusals(t *testing.T, s review.Store) {
	c := mustCreate(t, s, newCase(1))
	anon := newCase(2)
	anon.ClaimedCreator = ""
	anon = mustCreate(t, s, anon)
	for _, tc := range []struct {
		name    string
		id      string
		version int64
		d       review.Decision
		want    error
	}{
		{"stale version", c.ID, 7, review.Decision{By: "mo", To: review.Confirmed}, review.ErrConflict},
		{"unknown case", "c_nope", 1, review.Decision{By: "mo", To: review.Confirmed}, review.ErrNotFound},
		{"reopen an open case", c.ID, 1, review.Decision{By: "mo", To: review.Open}, review.ErrDecided},
		{"bad state", c.ID, 1, review.Decision{By: "mo", To: "maybe"}, review.ErrInvalid},
		{"nobody", c.ID, 1, review.Decision{To: review.Confirmed}, review.ErrInvalid},
		{"huge note", c.ID, 1, review.Decision{By: "mo", To: review.Confirmed, Note: strings.Repeat("x", review.MaxNoteLen+1)}, review.ErrInvalid},
		{"licence for nobody", anon.ID, 1, review.Decision{By: "mo", To: review.Licensed}, review.ErrInvalid},
	} {
		before, _ := s.GetCase(ctx(t), c.ID)
		if _, err := s.Decide(ctx(t), tc.id, tc.version, tc.d); !errors.Is(err, tc.want) {
			t.Errorf("%s: Decide = %v, want %v", tc.name, err, tc.want)
		}
		after, _ := s.GetCase(ctx(t), c.ID)
		if d := cmp.Diff(before, after); d != "" {
			t.Errorf("%s: the case changed:\n%s", tc.name, d)
		}
	}
	if _, err := s.Decide(ctx(t), c.ID, 1, review.Decision{By: "mo", To: review.Confirmed}); err != nil {
		t.Fatal(err)
	}
	// Deciding a decided case (even at its current version) is refused.
	if _, err := s.Decide(ctx(t), c.ID, 2, review.Decision{By: "other", To: review.Dismissed}); !errors.Is(err, review.ErrDecided) {
		t.Fatalf("decide a decided case = %v, want ErrDecided", err)
	}
	if ev, _ := s.PendingEvents(ctx(t), 100); len(ev) != 1 {
		t.Fatalf("%d events after one decision and refusals, want 1", len(ev))
	}
}

func testConcurrentDecide(t *testing.T, s review.Store) {
	c := mustCreate(t, s, newCase(1))
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			to := []review.State{review.Confirmed, review.Dismissed}[i%2]
			_, errs[i] = s.Decide(ctx(t), c.ID, 1, review.Decision{By: fmt.Sprint("mod", i), To: to})
		})
	}
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, review.ErrConflict) && !errors.Is(err, review.ErrDecided):
			t.Errorf("moderator %d: %v", i, err)
		}
	}
	got, _ := s.GetCase(ctx(t), c.ID)
	if won != 1 || len(got.History) != 1 || got.Version != 2 {
		t.Fatalf("%d decisions won, history %d, version %d; want exactly one", won, len(got.History), got.Version)
	}
}

func testSuppressions(t *testing.T, s review.Store) {
	dis := mustCreate(t, s, newCase(1))
	lic := newCase(2)
	lic.ClaimedCreator = "carol"
	lic.Matches = lic.Matches[:1]
	lic = mustCreate(t, s, lic)
	sup, err := s.Suppressions(ctx(t), []string{"w_a", "w_b"})
	if err != nil || len(sup) != 0 {
		t.Fatalf("suppressions before decisions = %v, %v", sup, err)
	}
	if _, err := s.Decide(ctx(t), dis.ID, 1, review.Decision{By: "mo", To: review.Dismissed}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Decide(ctx(t), lic.ID, 1, review.Decision{By: "mo", To: review.Licensed}); err != nil {
		t.Fatal(err)
	}
	sup, err = s.Suppressions(ctx(t), []string{"w_a", "w_b", "w_c"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]*review.Suppression{
		"w_a": {Dismissed: map[string][]byte{dis.ID: []byte("fp-bytes")}, Licensed: map[string]string{lic.ID: "carol"}},
		"w_b": {Dismissed: map[string][]byte{dis.ID: []byte("fp-bytes")}},
	}
	if d := cmp.Diff(want, sup); d != "" {
		t.Fatalf("suppressions (-want +got):\n%s", d)
	}
	if !sup["w_a"].LicensedTo("carol") || sup["w_a"].LicensedTo("mallory") || sup["w_b"].LicensedTo("carol") {
		t.Fatal("LicensedTo disagrees with the licences")
	}
	// Reversing lifts what the case set, and only that.
	if _, err := s.Decide(ctx(t), dis.ID, 2, review.Decision{By: "admin", To: review.Open}); err != nil {
		t.Fatal(err)
	}
	sup, _ = s.Suppressions(ctx(t), []string{"w_a", "w_b"})
	want = map[string]*review.Suppression{"w_a": {Licensed: map[string]string{lic.ID: "carol"}}}
	if d := cmp.Diff(want, sup); d != "" {
		t.Fatalf("suppressions after reopening the dismissal (-want +got):\n%s", d)
	}
}

func testCountsEvents(t *testing.T, s review.Store) {
	a := mustCreate(t, s, newCase(1))
	b := newCase(2)
	b.Kind, b.Verdict = review.Rescan, verdict.LikelyForgery
	b = mustCreate(t, s, b)
	mustCreate(t, s, newCase(3))
	if _, err := s.Decide(ctx(t), a.ID, 1, review.Decision{By: "mo", To: review.Confirmed}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Decide(ctx(t), b.ID, 1, review.Decision{By: "mo", To: review.Dismissed}); err != nil {
		t.Fatal(err)
	}
	c, err := s.Counts(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	today := time.Now().UTC().Format(time.DateOnly)
	want := &review.Counts{
		ByState:      map[review.State]int{review.Open: 1, review.Confirmed: 1, review.Dismissed: 1, review.Licensed: 0},
		OpenByKind:   map[review.Kind]int{review.Upload: 1},
		ByVerdict:    map[verdict.Kind]int{verdict.Derivative: 2, verdict.LikelyForgery: 1},
		OpenedByDay:  map[string]int{t0.Format(time.DateOnly): 3},
		DecidedByDay: map[string]int{today: 2},
		OldestOpen:   t0.Add(3 * time.Minute),
	}
	if d := cmp.Diff(want, c); d != "" {
		t.Fatalf("counts (-want +got):\n%s", d)
	}
	ev, err := s.PendingEvents(ctx(t), 10)
	if err != nil || len(ev) != 2 {
		t.Fatalf("PendingEvents = %d, %v", len(ev), err)
	}
	if ev[0].CaseID != a.ID || ev[0].Decision.To != review.Confirmed || ev[0].ID != a.ID+".2" ||
		ev[0].Tenant != "shop" || len(ev[0].WorkIDs) != 2 || ev[1].CaseID != b.ID {
		t.Fatalf("events %+v", ev)
	}
	if err := s.AckEvent(ctx(t), ev[0].ID); err != nil {
		t.Fatal(err)
	}
	if err := s.AckEvent(ctx(t), "c_unknown.1"); err != nil {
		t.Fatalf("AckEvent(unknown) = %v", err)
	}
	ev, _ = s.PendingEvents(ctx(t), 10)
	if len(ev) != 1 || ev[0].CaseID != b.ID {
		t.Fatalf("after ack: %+v", ev)
	}
}

func testUsers(t *testing.T, s review.Store) {
	for _, u := range []*review.User{
		{Name: "zoe", Role: review.Admin, PasswordHash: []byte("h1")},
		{Name: "ann", Role: review.Moderator, PasswordHash: []byte("h2")},
	} {
		if err := s.PutUser(ctx(t), u); err != nil {
			t.Fatal(err)
		}
	}
	for _, bad := range []*review.User{
		{Name: "", Role: review.Admin, PasswordHash: []byte("h")},
		{Name: "x y", Role: review.Admin, PasswordHash: []byte("h")},
		{Name: "x", Role: "root", PasswordHash: []byte("h")},
		{Name: "x", Role: review.Admin},
	} {
		if err := s.PutUser(ctx(t), bad); !errors.Is(err, review.ErrInvalid) {
			t.Errorf("PutUser(%+v) = %v, want ErrInvalid", bad, err)
		}
	}
	u, err := s.GetUser(ctx(t), "ann")
	if err != nil || u.Role != review.Moderator || string(u.PasswordHash) != "h2" || u.CreatedAt.IsZero() {
		t.Fatalf("GetUser = %+v, %v", u, err)
	}
	list, _ := s.ListUsers(ctx(t))
	if len(list) != 2 || list[0].Name != "ann" || list[1].Name != "zoe" {
		t.Fatalf("ListUsers = %+v", list)
	}
	if err := s.DeleteUser(ctx(t), "ann"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetUser(ctx(t), "ann"); !errors.Is(err, review.ErrNotFound) {
		t.Fatalf("GetUser(deleted) = %v", err)
	}
	if err := s.DeleteUser(ctx(t), "ann"); !errors.Is(err, review.ErrNotFound) {
		t.Fatalf("DeleteUser twice = %v", err)
	}
}

func testSessionKey(t *testing.T, s review.Store) {
	k1, err := s.SessionKey(ctx(t))
	if err != nil || len(k1) != 32 {
		t.Fatalf("SessionKey = %d bytes, %v", len(k1), err)
	}
	k2, _ := s.SessionKey(ctx(t))
	if string(k1) != string(k2) {
		t.Fatal("the session key changed between calls")
	}
}
