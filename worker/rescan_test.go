package worker_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aura-art/aura/verdict"
	"github.com/aura-art/aura/worker"
)

// TestDistributedRescan sends rescan jobs through NATS: every job gets its result, a bad
// picture gets its error, and a client opened again for the same run gets the results it
// missed without the jobs being checked again.
func TestDistributedRescan(t *testing.T) {
	t.Parallel()
	e := setup(t, testConfig("w1"))
	e.start(e.cfg, nil, nil)
	c, err := worker.NewRescanClient(ctxT(t), e.nc, e.cfg.Streams, "run-1", e.cfg.MaxInlineBytes)
	if err != nil {
		t.Fatal(err)
	}
	const n = 12
	var wg sync.WaitGroup
	results := make([]*worker.RescanResult, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			data := photo(uint64(100 + i))
			if i == 0 {
				data = []byte("not an image")
			}
			results[i], errs[i] = c.Check(ctxT(t), worker.RescanJob{Tenant: "archive", ID: fmt.Sprint("p", i), Creator: "rescan", Source: fmt.Sprintf("/old/p%d.jpg", i), Data: data})
		})
	}
	wg.Wait()
	for i, r := range results {
		switch {
		case errs[i] != nil:
			t.Fatalf("job %d: %v", i, errs[i])
		case r.SubmissionID != fmt.Sprint("p", i) || r.Tenant != "archive" || r.Run != "run-1" || r.WorkerID != "w1":
			t.Errorf("job %d: result %+v", i, r)
		case i == 0 && (r.Error == "" || r.Verdict != nil || !strings.Contains(r.Error, "unsupported image format")):
			t.Errorf("bad picture: %+v", r)
		case i > 0 && (r.Error != "" || r.Verdict == nil || r.Verdict.Verdict != verdict.Clear):
			t.Errorf("job %d: %+v", i, r)
		}
	}
	c.Close()
	calls := e.checker.callsOf("rescan")
	if calls != n { // the bad picture fails in the checker's decode, once: it is permanent
		t.Fatalf("checked %d times, want %d", calls, n)
	}
	// Resume: the same run again answers from the results stream.
	again, err := worker.NewRescanClient(ctxT(t), e.nc, e.cfg.Streams, "run-1", e.cfg.MaxInlineBytes)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	for i := range n {
		r, err := again.Check(ctxT(t), worker.RescanJob{Tenant: "archive", ID: fmt.Sprint("p", i), Data: photo(uint64(100 + i))})
		if err != nil || r.SubmissionID != fmt.Sprint("p", i) {
			t.Fatalf("resumed job %d: %+v, %v", i, r, err)
		}
	}
	if got := e.checker.callsOf("rescan"); got != calls {
		t.Fatalf("the resumed run checked %d jobs again", got-calls)
	}
	// A job the worker cannot read (over its inline cap) still gets a result the client
	// matches, by the job's headers.
	big, err := worker.NewRescanClient(ctxT(t), e.nc, e.cfg.Streams, "run-big", 4*e.cfg.MaxInlineBytes)
	if err != nil {
		t.Fatal(err)
	}
	defer big.Close()
	r, err := big.Check(ctxT(t), worker.RescanJob{Tenant: "archive", ID: "huge", Data: make([]byte, e.cfg.MaxInlineBytes+1)})
	if err != nil || r.SubmissionID != "huge" || r.Error == "" {
		t.Fatalf("unreadable job: %+v, %v", r, err)
	}
	if _, err := worker.NewRescanClient(ctxT(t), e.nc, e.cfg.Streams, "bad run", 1<<20); err == nil {
		t.Fatal("a run id with a space was accepted")
	}
}

// TestRescansWaitWithoutCapacity runs a worker that takes no rescan jobs: a job waits,
// while submissions still get their verdicts.
func TestRescansWaitWithoutCapacity(t *testing.T) {
	t.Parallel()
	cfg := testConfig("w1")
	cfg.RescanConcurrency = 0
	e := setup(t, cfg)
	e.start(cfg, nil, nil)
	watch := e.watch("acme")
	c, err := worker.NewRescanClient(ctxT(t), e.nc, cfg.Streams, "run-2", cfg.MaxInlineBytes)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctxT(t), 2*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := c.Check(ctx, worker.RescanJob{Tenant: "archive", ID: "x", Data: photo(1)})
		done <- err
	}()
	e.submit("acme", "live", "alice", photo(2))
	if v := next(t, watch, 10*time.Second); v.SubmissionID != "live" {
		t.Fatalf("verdict %+v", v)
	}
	if err := <-done; err == nil {
		t.Fatal("a rescan job was checked by a worker that takes none")
	}
	if n := e.streamMsgs(cfg.Streams.Rescans); n != 1 {
		t.Fatalf("%d rescan jobs queued, want the 1 waiting", n)
	}
}
