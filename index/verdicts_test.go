package index_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/aura-art/aura/index"
	"github.com/aura-art/aura/internal/redistest"
	"github.com/aura-art/aura/verdict"
)

// verdictStore is what the worker needs of a store's verdicts; both stores implement it.
type verdictStore interface {
	PutVerdict(ctx context.Context, r *index.VerdictRecord) (*index.VerdictRecord, bool, error)
	GetVerdict(ctx context.Context, tenant, submissionID string) (*index.VerdictRecord, error)
}

// TestVerdicts runs the verdict contract on both stores.
func TestVerdicts(t *testing.T) {
	addr := redistest.Start(t)
	stores := map[string]func(t *testing.T) verdictStore{
		"bolt":  func(t *testing.T) verdictStore { return openBolt(t, index.BoltOptions{NoSync: true}) },
		"redis": func(t *testing.T) verdictStore { return openRedis(t, addr) },
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			t.Run("PutGet", func(t *testing.T) { testPutGetVerdict(t, open(t)) })
			t.Run("Concurrent", func(t *testing.T) { testConcurrentVerdicts(t, open(t)) })
			t.Run("Invalid", func(t *testing.T) { testInvalidVerdicts(t, open(t)) })
		})
	}
}

func sampleVerdict(tenant, id string, kind verdict.Kind) *index.VerdictRecord {
	v := verdict.Classify("alice", nil, verdict.Verdict{}.Thresholds)
	v.Verdict = kind
	return &index.VerdictRecord{
		Tenant: tenant, SubmissionID: id, Verdict: v, WorkerID: "w1",
		TimingsMS: map[string]float64{"check": 12.5},
	}
}

func testPutGetVerdict(t *testing.T, s verdictStore) {
	ctx := context.Background()
	if _, err := s.GetVerdict(ctx, "acme", "s1"); !errors.Is(err, index.ErrNotFound) {
		t.Fatalf("GetVerdict before put: %v, want ErrNotFound", err)
	}
	first := sampleVerdict("acme", "s1", verdict.Clear)
	got, created, err := s.PutVerdict(ctx, first)
	if err != nil || !created {
		t.Fatalf("first PutVerdict: created %v, err %v", created, err)
	}
	if got.At.IsZero() || got.At.Location() != time.UTC {
		t.Errorf("At = %v, want set, in UTC", got.At)
	}
	if !first.At.IsZero() {
		t.Error("PutVerdict modified its argument")
	}
	again, created, err := s.PutVerdict(ctx, sampleVerdict("acme", "s1", verdict.Derivative))
	if err != nil || created {
		t.Fatalf("second PutVerdict: created %v, err %v", created, err)
	}
	if diff := cmp.Diff(got, again); diff != "" {
		t.Errorf("second PutVerdict returned (-first +returned):\n%s", diff)
	}
	read, err := s.GetVerdict(ctx, "acme", "s1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got, read); diff != "" {
		t.Errorf("GetVerdict (-stored +read):\n%s", diff)
	}
	// The same id under another tenant is another submission.
	if _, created, err := s.PutVerdict(ctx, sampleVerdict("other", "s1", verdict.Clear)); err != nil || !created {
		t.Errorf("other tenant: created %v, err %v", created, err)
	}
}

func testConcurrentVerdicts(t *testing.T, s verdictStore) {
	ctx := context.Background()
	var created atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Go(func() {
			_, c, err := s.PutVerdict(ctx, sampleVerdict("acme", "race", verdict.Kind(fmt.Sprintf("k%d", i))))
			if err != nil {
				errs <- err
			}
			if c {
				created.Add(1)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := created.Load(); n != 1 {
		t.Errorf("%d concurrent PutVerdict calls created, want exactly 1", n)
	}
}

func testInvalidVerdicts(t *testing.T, s verdictStore) {
	ctx := context.Background()
	for _, r := range []*index.VerdictRecord{
		nil,
		sampleVerdict("", "s1", verdict.Clear),
		sampleVerdict("a.b", "s1", verdict.Clear),
		sampleVerdict("{x}", "s1", verdict.Clear),
		sampleVerdict("acme", "", verdict.Clear),
		sampleVerdict("acme", "has space", verdict.Clear),
		sampleVerdict("acme", string(make([]byte, index.MaxSubmissionIDLen+1)), verdict.Clear),
		sampleVerdict("acme", "s1", ""),
	} {
		if _, _, err := s.PutVerdict(ctx, r); !errors.Is(err, index.ErrInvalid) {
			t.Errorf("PutVerdict(%+v): %v, want ErrInvalid", r, err)
		}
	}
}

func TestVerdictsClosed(t *testing.T) {
	s := openBolt(t, index.BoltOptions{NoSync: true})
	_ = s.Close()
	if _, _, err := s.PutVerdict(context.Background(), sampleVerdict("acme", "s1", verdict.Clear)); !errors.Is(err, index.ErrClosed) {
		t.Errorf("PutVerdict on a closed store: %v, want ErrClosed", err)
	}
}

func TestValidTenantAndSubmissionID(t *testing.T) {
	for s, want := range map[string]bool{"acme": true, "a_b-C9": true, "": false, "a.b": false, "a b": false, "a*": false, "é": false} {
		if got := index.ValidTenant(s); got != want {
			t.Errorf("ValidTenant(%q) = %v, want %v", s, got, want)
		}
	}
	for s, want := range map[string]bool{"s-1/x:y": true, "": false, "a b": false, "a\n": false} {
		if got := index.ValidSubmissionID(s); got != want {
			t.Errorf("ValidSubmissionID(%q) = %v, want %v", s, got, want)
		}
	}
}
