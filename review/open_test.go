package review_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aura-art/aura/index"
	"github.com/aura-art/aura/internal/imgtest"
	"github.com/aura-art/aura/review"
	"github.com/aura-art/aura/verdict"
)

// TestDisputeOpensCase registers the same picture under two creators: the registry records
// a dispute and the Opener turns it into a case in the shared queue, once.
func TestDisputeOpensCase(t *testing.T) {
	t.Parallel()
	bs, err := index.OpenBolt(filepath.Join(t.TempDir(), "aura.db"), index.BoltOptions{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bs.Close() })
	cases, err := review.NewBoltStore(bs.DB())
	if err != nil {
		t.Fatal(err)
	}
	m := index.NewMatcher()
	reg, err := index.NewRegistry(bs, m, index.DefaultRegistryConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	opener := &review.Opener{Store: cases}
	reg.OnDispute(opener.OnDispute)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	first, err := reg.Register(ctx, imgtest.Photo(640, 480, 7), index.WorkMeta{CreatorID: "alice", Title: "Dunes"})
	if err != nil {
		t.Fatal(err)
	}
	copyMeta := index.WorkMeta{CreatorID: "mallory", Title: "My dunes", RegisteredBy: "token-m"}
	res, err := reg.Register(ctx, imgtest.Reencoded(640, 480, 7, 70), copyMeta)
	if err != nil || res.Status != index.StatusDisputed {
		t.Fatalf("second registration = %+v, %v; want disputed", res, err)
	}
	// A retried registration finds the dispute, and the case, it made before.
	if _, err := reg.Register(ctx, imgtest.Reencoded(640, 480, 7, 70), copyMeta); err != nil {
		t.Fatal(err)
	}
	page, _, err := cases.ListCases(ctx, review.Filter{Kind: review.Dispute})
	if err != nil || len(page) != 1 {
		t.Fatalf("dispute cases = %+v, %v; want one", page, err)
	}
	c, err := cases.GetCase(ctx, page[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if c.ID != review.CaseID(review.Dispute, "", res.Dispute.ID) || c.SubjectID != res.Work.ID || c.ClaimedCreator != "mallory" ||
		c.Tenant != "" || c.Source != "registration of work "+res.Work.ID+" by token-m" ||
		len(c.Matches) != 1 || c.Matches[0].WorkID != first.Work.ID || c.Matches[0].Title != "Dunes" ||
		len(c.Thumbnail) == 0 || len(c.Fingerprint) == 0 || c.Verdict != "" {
		t.Fatalf("dispute case %+v", c)
	}
	// Dismissing it clears mallory's picture against alice's work on later checks.
	if _, err := cases.Decide(ctx, c.ID, 1, review.Decision{By: "mo", To: review.Dismissed, Note: "both took it"}); err != nil {
		t.Fatal(err)
	}
	reg.SetSuppressor(review.Suppressor{Store: cases})
	v, err := reg.Check(ctx, imgtest.Reencoded(640, 480, 7, 70), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range v.Matches {
		if m.WorkID == first.Work.ID && m.Suppressed != verdict.SuppressedDismissed {
			t.Fatalf("match of the disputed work after dismissal: %+v", m)
		}
	}
}

// TestOpenUploadClipsSource: a long URL (a signed CDN link) still opens its case, with the
// source clipped to what a case holds.
func TestOpenUploadClipsSource(t *testing.T) {
	t.Parallel()
	s := openBolt(t)
	o := &review.Opener{Store: s}
	long := "https://cdn.example/a.jpg?sig=" + strings.Repeat("x", 5000)
	c, err := o.OpenUpload(context.Background(), review.Flagged{
		Tenant: "shop", SubmissionID: "up-1", Source: long,
		Verdict: verdict.Verdict{Verdict: verdict.Derivative, Matches: []verdict.Match{{WorkID: "w_1", Score: 0.9}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Source) > 2048 || !strings.HasPrefix(c.Source, "https://cdn.example/a.jpg?sig=xxx") || !strings.HasSuffix(c.Source, "...") {
		t.Fatalf("source of %d bytes: %.60q...", len(c.Source), c.Source)
	}
}
