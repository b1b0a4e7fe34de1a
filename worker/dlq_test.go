package worker_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aura-art/aura/verdict"
	"github.com/aura-art/aura/worker"
)

// TestReplayDeadLetter exhausts a submission's deliveries with transient failures, lists
// the dead letters, fixes the cause, replays it and gets its verdict; the dead letter is gone.
func TestReplayDeadLetter(t *testing.T) {
	t.Parallel()
	cfg := testConfig("w1")
	cfg.Streams.MaxDeliver = 2
	cfg.NakDelays = []time.Duration{10 * time.Millisecond}
	e := setup(t, cfg)
	e.checker.failures["flaky"] = 1000
	e.start(e.cfg, nil, nil)
	watch := e.watch("acme")
	e.submit("acme", "f1", "flaky", photo(6))
	e.publish(worker.SubmitSubject("other"), []byte("not json"), "")
	e.deadLetters(2, 30*time.Second)

	var all, acme []worker.StoredDeadLetter
	if err := e.client.DeadLetters(ctxT(t), "", func(d worker.StoredDeadLetter) error { all = append(all, d); return nil }); err != nil {
		t.Fatal(err)
	}
	if err := e.client.DeadLetters(ctxT(t), "acme", func(d worker.StoredDeadLetter) error { acme = append(acme, d); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || len(acme) != 1 {
		t.Fatalf("dead letters: %d in all, %d of acme; want 2 and 1", len(all), len(acme))
	}
	d := acme[0]
	if d.SubmissionID != "f1" || d.Tenant != "acme" || d.Seq == 0 || d.FailedAt.IsZero() || !strings.Contains(d.Reason, "flaky") {
		t.Fatalf("acme's dead letter: %+v", d)
	}
	stop := errors.New("stop")
	n := 0
	if err := e.client.DeadLetters(ctxT(t), "", func(worker.StoredDeadLetter) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
		t.Fatalf("DeadLetters did not stop at fn's error: %v after %d", err, n)
	}

	e.checker.mu.Lock()
	e.checker.failures["flaky"] = 0 // the cause is fixed
	e.checker.mu.Unlock()
	if _, err := e.client.ReplayDeadLetter(ctxT(t), d.Seq); err != nil {
		t.Fatal(err)
	}
	v := next(t, watch, 20*time.Second)
	if v.SubmissionID != "f1" || v.Verdict != verdict.Clear {
		t.Fatalf("verdict after replay: %+v", v)
	}
	if _, err := e.client.ReplayDeadLetter(ctxT(t), d.Seq); err == nil {
		t.Fatal("a dead letter was replayed twice")
	}
	left := 0
	_ = e.client.DeadLetters(ctxT(t), "", func(worker.StoredDeadLetter) error { left++; return nil })
	if left != 1 {
		t.Fatalf("%d dead letters after the replay, want 1 (the other tenant's)", left)
	}
	// The unreadable one cannot go back: its subject is a submission subject, but it fails
	// again and is dead-lettered anew rather than lost.
	var other worker.StoredDeadLetter
	_ = e.client.DeadLetters(ctxT(t), "other", func(d worker.StoredDeadLetter) error { other = d; return nil })
	if _, err := e.client.ReplayDeadLetter(ctxT(t), other.Seq); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the replayed unreadable submission dead-lettered again", func() bool {
		var again []worker.StoredDeadLetter
		_ = e.client.DeadLetters(ctxT(t), "other", func(d worker.StoredDeadLetter) error { again = append(again, d); return nil })
		return len(again) == 1 && again[0].Seq != other.Seq
	})
}
