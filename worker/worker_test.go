package worker_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/aura-art/aura/hashing"
	"github.com/aura-art/aura/index"
	"github.com/aura-art/aura/internal/redistest"
	"github.com/aura-art/aura/verdict"
	"github.com/aura-art/aura/worker"
)

func TestSubmissionGetsOneVerdict(t *testing.T) {
	t.Parallel()
	e := setup(t, testConfig("w1"))
	img := photo(1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(img) }))
	t.Cleanup(srv.Close)
	e.start(e.cfg, nil, fetcher(t, true, 2*time.Second))
	watch := e.watch("acme")

	e.submit("acme", "inline-1", "alice", img)
	if _, err := e.client.Submit(ctxT(t), &worker.Submission{
		SchemaVersion: 1, ID: "url-1", Tenant: "acme", Creator: "owner", Image: worker.Image{URL: srv.URL + "/a.jpg"},
	}); err != nil {
		t.Fatal(err)
	}
	got := map[string]*worker.VerdictMessage{}
	for range 2 {
		v := next(t, watch, 10*time.Second)
		got[v.SubmissionID] = v
	}
	noMore(t, watch, 300*time.Millisecond)

	in, url := got["inline-1"], got["url-1"]
	if in == nil || url == nil {
		t.Fatalf("verdicts %v, want inline-1 and url-1", got)
	}
	if in.Verdict != verdict.Clear || in.Creator != "alice" || in.Tenant != "acme" || in.WorkerID != "w1" || in.Matches == nil {
		t.Errorf("inline verdict %+v", in)
	}
	if url.Verdict != verdict.OwnWork {
		t.Errorf("url verdict %q, want own_work", url.Verdict)
	}
	for _, stage := range []string{"queue", "fetch", "check", "total"} {
		if _, ok := url.TimingsMS[stage]; !ok {
			t.Errorf("timings %v lack %q", url.TimingsMS, stage)
		}
	}
	for _, id := range []string{"inline-1", "url-1"} {
		if n := e.store.createdOf("acme", id); n != 1 {
			t.Errorf("%s: %d stored verdicts, want 1", id, n)
		}
		rec, err := e.store.GetVerdict(ctxT(t), "acme", id)
		if err != nil || rec.SubmissionID != id {
			t.Errorf("stored verdict of %s: %+v, %v", id, rec, err)
		}
	}
	if n := e.streamMsgs("VERDICTS"); n != 2 {
		t.Errorf("VERDICTS holds %d messages, want 2", n)
	}
	waitFor(t, 5*time.Second, "acked submissions leaving the work queue", func() bool { return e.streamMsgs("SUBMISSIONS") == 0 })
}

func TestRedeliveryIsHarmless(t *testing.T) {
	t.Parallel()
	e := setup(t, testConfig("w1"))
	// The first PutVerdict stores, then reports a failure, as if the worker died before
	// publishing: the redelivery must find the stored verdict, not make another.
	e.store.failAfterPut = 1
	e.start(e.cfg, nil, nil)
	watch := e.watch("acme")
	e.submit("acme", "s1", "alice", photo(2))
	v := next(t, watch, 10*time.Second)
	if v.SubmissionID != "s1" {
		t.Fatalf("verdict of %s", v.SubmissionID)
	}
	first := v.At

	// The same submission again under another message id (past the dedupe window, or
	// replayed from the dead letters): stored once, published once.
	body := fmt.Sprintf(`{"schema_version":1,"id":"s1","tenant":"acme","creator":"alice","image":{"data":%q}}`,
		base64.StdEncoding.EncodeToString(photo(2)))
	e.publish(worker.SubmitSubject("acme"), []byte(body), "replay-1")
	// And under the same message id: dropped by the submissions stream.
	dup, err := e.client.Submit(ctxT(t), &worker.Submission{SchemaVersion: 1, ID: "s1", Tenant: "acme", Image: worker.Image{Data: photo(2)}})
	if err != nil || !dup {
		t.Errorf("resubmission: duplicate %v, err %v; want a duplicate", dup, err)
	}
	waitFor(t, 10*time.Second, "the replay to be acked", func() bool { return e.streamMsgs("SUBMISSIONS") == 0 })
	noMore(t, watch, 500*time.Millisecond)

	if n := e.store.createdOf("acme", "s1"); n != 1 {
		t.Errorf("%d stored verdicts, want 1", n)
	}
	if n := e.streamMsgs("VERDICTS"); n != 1 {
		t.Errorf("VERDICTS holds %d messages, want 1", n)
	}
	if n := e.checker.callsOf("alice"); n != 2 {
		t.Errorf("checker called %d times, want 2 (first delivery and the replay; not the redelivery)", n)
	}
	rec, err := e.store.GetVerdict(ctxT(t), "acme", "s1")
	if err != nil || !rec.At.Equal(first) {
		t.Errorf("stored verdict at %v (%v), want the first, at %v", rec.At, err, first)
	}
}

// TestBadSubmissions sends every kind of bad submission: each becomes a dead letter with a
// clear reason, and the worker goes on.
func TestBadSubmissions(t *testing.T) {
	t.Parallel()
	cfg := testConfig("w1")
	cfg.Streams.MaxDeliver = 3
	e := setup(t, cfg)
	e.start(cfg, nil, fetcher(t, false, 2*time.Second)) // the production fetcher
	undecodable := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("<html>not an image</html>")) }))
	t.Cleanup(undecodable.Close)

	inline := func(id, tenant, data string) string {
		return fmt.Sprintf(`{"schema_version":1,"id":%q,"tenant":%q,"image":{"data":%q}}`, id, tenant, data)
	}
	byURL := func(id, url string) string {
		return fmt.Sprintf(`{"schema_version":1,"id":%q,"tenant":"acme","image":{"url":%q}}`, id, url)
	}
	// 20 MB: JetStream's file store takes messages up to 32 MiB (a 50 MB one is refused at
	// publication: TestOversizeSubmission), so this is the largest the worker can be sent.
	huge := inline("huge", "acme", strings.Repeat("A", 20<<20))
	cases := []struct {
		name, subject, body, reason string
	}{
		{"malformed JSON", "aura.submit.acme", `{"schema_version":1,`, "bad message: malformed JSON"},
		{"not an object", "aura.submit.acme", `[1,2]`, "bad message: malformed JSON"},
		{"no schema version", "aura.submit.acme", `{"id":"x"}`, "schema_version is missing"},
		{"unknown schema version", "aura.submit.acme", `{"schema_version":7,"id":"x"}`, "unknown schema_version 7"},
		{"no id", "aura.submit.acme", `{"schema_version":1,"tenant":"acme","image":{"url":"https://example.com/a.jpg"}}`, "id is missing"},
		{"no tenant", "aura.submit.acme", `{"schema_version":1,"id":"x","image":{"url":"https://example.com/a.jpg"}}`, "tenant is missing"},
		{"no image", "aura.submit.acme", `{"schema_version":1,"id":"x","tenant":"acme"}`, "image is missing"},
		{"empty image", "aura.submit.acme", `{"schema_version":1,"id":"x","tenant":"acme","image":{}}`, "neither url nor data"},
		{"unknown field", "aura.submit.acme", `{"schema_version":1,"id":"x","tenant":"acme","imgae":{}}`, `unknown field "imgae"`},
		{"bad base64", "aura.submit.acme", inline("b64", "acme", "!!!not base64"), "image.data is not standard base64"},
		{"tenant mismatch", "aura.submit.other", inline("tm", "acme", "AAAA"), `tenant "acme" does not match the subject aura.submit.other`},
		{"20 MB inline", "aura.submit.acme", huge, "inline images are capped at 5242880 bytes"},
		{"loopback URL", "aura.submit.acme", byURL("lo", "http://127.0.0.1:1/a.jpg"), "forbidden URL: address 127.0.0.1 is not public"},
		{"metadata URL", "aura.submit.acme", byURL("md", "http://169.254.169.254/latest/meta-data/"), "forbidden URL: address 169.254.169.254 is not public"},
		{"IPv6 loopback URL", "aura.submit.acme", byURL("v6", "http://[::1]:1/a.jpg"), "forbidden URL: address ::1 is not public"},
		{"not http", "aura.submit.acme", byURL("ftp", "ftp://example.com/a.jpg"), "image.url is not an http or https URL"},
		// The production fetcher refuses the test server's loopback address too; the undecodable
		// body is fetched by the loopback-allowing worker of TestBadDownloads.
		{"undecodable inline", "aura.submit.acme", inline("undec", "acme", base64.StdEncoding.EncodeToString([]byte("<html>not an image</html>"))), "unsupported image format"},
	}
	seqs := map[uint64]int{}
	for i, c := range cases {
		seqs[e.publish(c.subject, []byte(c.body), "")] = i
	}
	dls := e.deadLetters(len(cases), 30*time.Second)
	for seq, i := range seqs {
		c := cases[i]
		dl := dls[seq]
		if dl == nil {
			t.Errorf("%s: no dead letter", c.name)
			continue
		}
		reason := dl.Header.Get(worker.HeaderReason)
		if !strings.Contains(reason, c.reason) {
			t.Errorf("%s: reason %q, want it to contain %q", c.name, reason, c.reason)
		}
		if got := dl.Header.Get(worker.HeaderOriginalSubject); got != c.subject {
			t.Errorf("%s: original subject %q, want %q", c.name, got, c.subject)
		}
		if c.name != "20 MB inline" && string(dl.Data) != c.body {
			t.Errorf("%s: dead letter body %.80q, want the submission", c.name, dl.Data)
		}
		if c.name == "20 MB inline" && len(dl.Data) != len(huge) {
			t.Errorf("%s: dead letter of %d bytes, want %d", c.name, len(dl.Data), len(huge))
		}
		if got := dl.Header.Get(worker.HeaderDeliveries); got != "1" {
			t.Errorf("%s: dead-lettered after %s deliveries, want 1 (permanent)", c.name, got)
		}
	}
	// The worker is unharmed.
	watch := e.watch("acme")
	e.submit("acme", "good", "alice", photo(3))
	if v := next(t, watch, 10*time.Second); v.SubmissionID != "good" {
		t.Errorf("verdict of %s, want good", v.SubmissionID)
	}
	waitFor(t, 10*time.Second, "an empty work queue", func() bool { return e.streamMsgs("SUBMISSIONS") == 0 })
}

// TestBadDownloads covers what only a server can do: redirect to a forbidden address, send
// an undecodable body, hang. The worker's fetcher may reach loopback test servers, as the
// redirecting server must be reachable.
func TestBadDownloads(t *testing.T) {
	t.Parallel()
	cfg := testConfig("w1")
	cfg.Streams.MaxDeliver = 3
	e := setup(t, cfg)
	hang := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/to-metadata":
			http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
		case "/to-private":
			http.Redirect(w, r, "http://10.0.0.1/a.jpg", http.StatusFound)
		case "/html":
			_, _ = w.Write([]byte("<html>not an image</html>"))
		case "/hang":
			select {
			case <-hang:
			case <-r.Context().Done():
			}
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(hang) })
	e.start(cfg, nil, fetcher(t, true, 300*time.Millisecond))

	cases := []struct{ path, reason, deliveries string }{
		{"/to-metadata", "forbidden URL: address 169.254.169.254 is not public", "1"},
		{"/to-private", "forbidden URL: address 10.0.0.1 is not public", "1"},
		{"/html", "unsupported image format", "1"},
		{"/missing", "status 404 Not Found", "1"},
		{"/hang", "max deliveries (3)", "3"},
	}
	seqs := map[uint64]int{}
	for i, c := range cases {
		body := fmt.Sprintf(`{"schema_version":1,"id":"d%d","tenant":"acme","image":{"url":%q}}`, i, srv.URL+c.path)
		seqs[e.publish("aura.submit.acme", []byte(body), "")] = i
	}
	dls := e.deadLetters(len(cases), 30*time.Second)
	for seq, i := range seqs {
		c := cases[i]
		dl := dls[seq]
		if dl == nil {
			t.Errorf("%s: no dead letter", c.path)
			continue
		}
		if reason := dl.Header.Get(worker.HeaderReason); !strings.Contains(reason, c.reason) {
			t.Errorf("%s: reason %q, want it to contain %q", c.path, reason, c.reason)
		}
		if got := dl.Header.Get(worker.HeaderDeliveries); got != c.deliveries {
			t.Errorf("%s: dead-lettered after %s deliveries, want %s", c.path, got, c.deliveries)
		}
		if got := dl.Header.Get(worker.HeaderSubmissionID); got != fmt.Sprintf("d%d", i) {
			t.Errorf("%s: submission id header %q", c.path, got)
		}
	}
}

func TestPanicFailsOnlyItsSubmission(t *testing.T) {
	t.Parallel()
	cfg := testConfig("w1")
	cfg.Streams.MaxDeliver = 2
	e := setup(t, cfg)
	e.start(cfg, nil, nil)
	watch := e.watch("acme")
	e.submit("acme", "p", "panic", photo(4))
	e.submit("acme", "ok", "alice", photo(5))
	if v := next(t, watch, 10*time.Second); v.SubmissionID != "ok" {
		t.Errorf("verdict of %s, want ok", v.SubmissionID)
	}
	dls := e.deadLetters(1, 10*time.Second)
	for _, dl := range dls {
		if r := dl.Header.Get(worker.HeaderReason); !strings.Contains(r, "max deliveries (2): worker: panic: boom") {
			t.Errorf("reason %q", r)
		}
	}
	if n := e.checker.callsOf("panic"); n != 2 {
		t.Errorf("the panicking submission was tried %d times, want 2", n)
	}
}

func TestTransientFailuresAreRetried(t *testing.T) {
	t.Parallel()
	e := setup(t, testConfig("w1"))
	e.checker.failures["flaky"] = 2
	e.start(e.cfg, nil, nil)
	watch := e.watch("acme")
	e.submit("acme", "f", "flaky", photo(6))
	v := next(t, watch, 10*time.Second)
	if v.SubmissionID != "f" || v.Verdict != verdict.Clear {
		t.Errorf("verdict %+v", v)
	}
	if n := e.checker.callsOf("flaky"); n != 3 {
		t.Errorf("checked %d times, want 3", n)
	}
	if n := e.streamMsgs("DEADLETTER"); n != 0 {
		t.Errorf("%d dead letters, want 0", n)
	}
}

// TestStoreOutage makes the store fail for 3 seconds: submissions wait, with backoff, and
// all complete.
func TestStoreOutage(t *testing.T) {
	t.Parallel()
	cfg := testConfig("w1")
	cfg.NakDelays = []time.Duration{100 * time.Millisecond, 300 * time.Millisecond, 600 * time.Millisecond}
	cfg.Streams.MaxDeliver = 20
	e := setup(t, cfg)
	e.store.setFailUntil(time.Now().Add(3 * time.Second))
	e.start(cfg, nil, nil)
	watch := e.watch("acme")
	const n = 10
	for i := range n {
		e.submit("acme", fmt.Sprintf("s%d", i), "alice", photo(uint64(100+i)))
	}
	got := map[string]bool{}
	for range n {
		got[next(t, watch, 20*time.Second).SubmissionID] = true
	}
	if len(got) != n {
		t.Errorf("verdicts for %d submissions, want %d", len(got), n)
	}
	for i := range n {
		if c := e.store.createdOf("acme", fmt.Sprintf("s%d", i)); c != 1 {
			t.Errorf("s%d: %d stored verdicts, want 1", i, c)
		}
	}
	if e.store.failedCalls < n {
		t.Errorf("only %d store calls failed: the outage was not exercised", e.store.failedCalls)
	}
	if d := e.streamMsgs("DEADLETTER"); d != 0 {
		t.Errorf("%d dead letters, want 0", d)
	}
}

// TestKillWorkerMidBatch stops a worker in the middle of a batch of 50, hard (its
// connection dropped) or gracefully (its context cancelled with no time to finish), and
// starts another: every submission still gets exactly one stored verdict and one published
// verdict.
func TestKillWorkerMidBatch(t *testing.T) {
	t.Parallel()
	for _, hard := range []bool{true, false} {
		name := map[bool]string{true: "connection dropped", false: "shutdown timeout"}[hard]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig("a")
			cfg.ShutdownTimeout = 0
			e := setup(t, cfg)
			ncA := connect(t, e.srv)
			a := e.start(cfg, ncA, nil)
			watch := e.watch("acme")
			const n = 50
			for i := range n {
				e.submit("acme", fmt.Sprintf("k%d", i), "slow", photo(uint64(200+i)))
			}
			seen := map[string]int{}
			for range 10 {
				seen[next(t, watch, 10*time.Second).SubmissionID]++
			}
			if hard {
				ncA.Close()
			}
			a.stop(t)
			cfgB := cfg
			cfgB.ID = "b"
			e.start(cfgB, nil, nil)
			for len(seen) < n {
				seen[next(t, watch, 20*time.Second).SubmissionID]++
			}
			noMore(t, watch, 500*time.Millisecond)
			for id, c := range seen {
				if c != 1 {
					t.Errorf("%s: %d verdicts received, want 1", id, c)
				}
			}
			for i := range n {
				if c := e.store.createdOf("acme", fmt.Sprintf("k%d", i)); c != 1 {
					t.Errorf("k%d: %d stored verdicts, want 1", i, c)
				}
			}
			if v := e.streamMsgs("VERDICTS"); v != n {
				t.Errorf("VERDICTS holds %d messages, want %d", v, n)
			}
			waitFor(t, 10*time.Second, "an empty work queue", func() bool { return e.streamMsgs("SUBMISSIONS") == 0 })
		})
	}
}

// TestMaxDeliveriesAdvisory lets a submission's only delivery time out, unsettled: the
// worker that hears the server's advisory dead-letters it and removes it from the queue.
func TestMaxDeliveriesAdvisory(t *testing.T) {
	t.Parallel()
	cfg := testConfig("w1")
	cfg.Streams.MaxDeliver = 1
	cfg.Streams.BackOff = nil
	cfg.Streams.AckWait = 2 * time.Second
	e := setup(t, cfg)
	e.submit("acme", "lost", "alice", photo(7))
	// A worker that takes the submission and dies without a word.
	cons, err := e.js.Consumer(ctxT(t), "SUBMISSIONS", "workers")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	e.start(cfg, nil, nil)
	dls := e.deadLetters(1, 10*time.Second)
	for _, dl := range dls {
		if r := dl.Header.Get(worker.HeaderReason); !strings.Contains(r, "max deliveries (1)") {
			t.Errorf("reason %q", r)
		}
		if id := dl.Header.Get(worker.HeaderSubmissionID); id != "lost" {
			t.Errorf("submission id %q", id)
		}
	}
	waitFor(t, 5*time.Second, "the submission to leave the work queue", func() bool { return e.streamMsgs("SUBMISSIONS") == 0 })
	if n := e.checker.callsOf("alice"); n != 0 {
		t.Errorf("checked %d times, want 0", n)
	}
}

// TestMaxDeliveriesWhileNoWorkerRuns lets a submission run out of deliveries while no
// worker is running: the advisory is kept in its stream, and the next worker to start
// dead-letters the submission instead of leaving it in the work queue until it ages out.
func TestMaxDeliveriesWhileNoWorkerRuns(t *testing.T) {
	t.Parallel()
	cfg := testConfig("w1")
	cfg.Streams.MaxDeliver = 1
	cfg.Streams.BackOff = nil
	cfg.Streams.AckWait = time.Second
	e := setup(t, cfg)
	e.submit("acme", "orphan", "alice", photo(8))
	cons, err := e.js.Consumer(ctxT(t), "SUBMISSIONS", "workers")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second)); err != nil { // taken, never settled
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the advisory kept in its stream", func() bool { return e.streamMsgs(cfg.Streams.Advisories) == 1 })
	if n := e.streamMsgs("SUBMISSIONS"); n != 1 {
		t.Fatalf("%d submissions in the work queue before a worker starts, want the 1 stuck", n)
	}
	e.start(cfg, nil, nil)
	dls := e.deadLetters(1, 10*time.Second)
	for _, dl := range dls {
		if id := dl.Header.Get(worker.HeaderSubmissionID); id != "orphan" {
			t.Errorf("dead letter of %q", id)
		}
	}
	waitFor(t, 5*time.Second, "the submission to leave the work queue", func() bool { return e.streamMsgs("SUBMISSIONS") == 0 })
}

func TestSyncCheck(t *testing.T) {
	t.Parallel()
	e := setup(t, testConfig("w1"))
	e.start(e.cfg, nil, nil)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			v, err := e.client.Check(ctxT(t), &worker.Submission{
				SchemaVersion: 1, ID: fmt.Sprintf("c%d", i), Tenant: "acme", Creator: "owner", Image: worker.Image{Data: photo(uint64(i))},
			})
			if err != nil {
				t.Error(err)
				return
			}
			if v.Verdict != verdict.OwnWork || v.SubmissionID != fmt.Sprintf("c%d", i) {
				t.Errorf("check %d: %+v", i, v)
			}
		})
	}
	wg.Wait()
	_, err := e.client.Check(ctxT(t), &worker.Submission{
		SchemaVersion: 1, ID: "bad", Tenant: "acme", Image: worker.Image{Data: []byte("not an image")},
	})
	if cf, ok := err.(*worker.CheckFailure); !ok || !cf.Permanent || !strings.Contains(cf.Error(), "unsupported image format") {
		t.Errorf("check of a non-image: %v, want a permanent CheckFailure", err)
	}
	if n := e.streamMsgs("VERDICTS"); n != 0 {
		t.Errorf("synchronous checks published %d verdicts", n)
	}
}

func TestSetupStreamsIsIdempotent(t *testing.T) {
	t.Parallel()
	cfg := testConfig("w1")
	e := setup(t, cfg) // set up once
	for range 2 {
		if err := worker.SetupStreams(ctxT(t), e.js, cfg.Streams); err != nil {
			t.Fatal(err)
		}
	}
	cfg.Streams.MaxDeliver = 7
	cfg.Streams.BackOff = []time.Duration{time.Second, 2 * time.Second}
	if err := worker.SetupStreams(ctxT(t), e.js, cfg.Streams); err != nil {
		t.Fatalf("update: %v", err)
	}
	cons, err := e.js.Consumer(ctxT(t), "SUBMISSIONS", "workers")
	if err != nil {
		t.Fatal(err)
	}
	info, err := cons.Info(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if c := info.Config; c.MaxDeliver != 7 || len(c.BackOff) != 2 || c.AckPolicy != jetstream.AckExplicitPolicy {
		t.Errorf("consumer config after update: %+v", c)
	}
	s, err := e.js.Stream(ctxT(t), "SUBMISSIONS")
	if err != nil {
		t.Fatal(err)
	}
	si, err := s.Info(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if c := si.Config; c.Retention != jetstream.WorkQueuePolicy || c.Storage != jetstream.FileStorage || c.Duplicates != 2*time.Minute {
		t.Errorf("submissions stream: %+v", c)
	}
}

// TestOversizeSubmission: a 50 MB inline image never reaches a worker, because JetStream
// refuses a message that large (its file store takes up to 32 MiB); the publisher is told.
// Were it to arrive, DecodeSubmission names the cap.
func TestOversizeSubmission(t *testing.T) {
	t.Parallel()
	e := setup(t, testConfig("w1"))
	huge := []byte(`{"schema_version":1,"id":"huge","tenant":"acme","image":{"data":"` + strings.Repeat("A", 50<<20) + `"}}`)
	msg := nats.NewMsg("aura.submit.acme")
	msg.Data = huge
	if _, err := e.js.PublishMsg(ctxT(t), msg); err == nil || !strings.Contains(err.Error(), "message too large") {
		t.Errorf("publishing 50 MB: %v, want message too large", err)
	}
	_, err := worker.DecodeSubmission(huge, 5<<20)
	if !errors.Is(err, worker.ErrBadMessage) || !strings.Contains(err.Error(), "inline images are capped at 5242880 bytes") {
		t.Errorf("DecodeSubmission of 50 MB: %v", err)
	}
	if _, err := e.client.Submit(ctxT(t), &worker.Submission{SchemaVersion: 1, ID: "big", Tenant: "acme", Image: worker.Image{Data: make([]byte, 6<<20)}}); !errors.Is(err, worker.ErrBadMessage) {
		t.Errorf("Submit of a 6 MiB inline image: %v, want ErrBadMessage", err)
	}
}

// TestRedisOutage keeps the Redis store from answering for 3 seconds (CLIENT PAUSE, as in a
// failover): submissions wait, with backoff, and all complete, each with one verdict.
func TestRedisOutage(t *testing.T) {
	t.Parallel()
	addr := redistest.Start(t)
	rs, err := index.OpenRedis(ctxT(t), index.RedisOptions{
		URL: "redis://" + addr, Prefix: "wt", ReadTimeout: 300 * time.Millisecond, WriteTimeout: 300 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rs.Close() })
	cfg := testConfig("w1")
	cfg.NakDelays = []time.Duration{100 * time.Millisecond, 300 * time.Millisecond, 600 * time.Millisecond}
	cfg.Streams.MaxDeliver = 30
	e := setup(t, cfg)
	promReg := prometheus.NewRegistry()
	w, err := worker.New(e.nc, worker.Deps{Checker: e.checker, Store: rs, Metrics: worker.NewMetrics(promReg)}, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	waitFor(t, 10*time.Second, "worker consuming", w.Consuming)
	watch := e.watch("acme")

	if _, err := redistest.Do(addr, "CLIENT", "PAUSE", "3000", "ALL"); err != nil {
		t.Fatal(err)
	}
	paused := time.Now()
	const n = 8
	for i := range n {
		e.submit("acme", fmt.Sprintf("r%d", i), "alice", photo(uint64(300+i)))
	}
	seen := map[string]int{}
	for range n {
		seen[next(t, watch, 30*time.Second).SubmissionID]++
	}
	if d := time.Since(paused); d < 2500*time.Millisecond {
		t.Errorf("all verdicts within %v of the pause: the outage was not exercised", d)
	}
	noMore(t, watch, 300*time.Millisecond)
	for i := range n {
		id := fmt.Sprintf("r%d", i)
		if seen[id] != 1 {
			t.Errorf("%s: %d verdicts", id, seen[id])
		}
		if _, err := rs.GetVerdict(ctxT(t), "acme", id); err != nil {
			t.Errorf("%s: stored verdict: %v", id, err)
		}
	}
	if r := counterValue(t, promReg, "aura_submissions_total", "outcome", "retry"); r == 0 {
		t.Error("no retries counted")
	}
	if d := e.streamMsgs("DEADLETTER"); d != 0 {
		t.Errorf("%d dead letters", d)
	}
}

// counterValue sums the counter's series whose label has the value.
func counterValue(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					sum += m.GetCounter().GetValue()
				}
			}
		}
	}
	return sum
}

// gatedChecker blocks every check until release is closed and records how many run at
// once; the creator "panic" panics at once.
type gatedChecker struct {
	release      chan struct{}
	mu           sync.Mutex
	active, peak int
}

func (g *gatedChecker) CheckImage(ctx context.Context, data []byte, creator string) (*index.CheckResult, error) {
	if creator == "panic" {
		panic("boom")
	}
	g.mu.Lock()
	g.active++
	g.peak = max(g.peak, g.active)
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.active--
		g.mu.Unlock()
	}()
	select {
	case <-g.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return &index.CheckResult{Verdict: verdict.Classify(creator, nil, hashing.DefaultThresholds)}, nil
}

func (g *gatedChecker) counts() (active, peak int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.active, g.peak
}

// TestInFlightBoundsChecks: a worker holds InFlight submissions at once but checks at most
// Concurrency of them, and a check that panics gives its slot back.
func TestInFlightBoundsChecks(t *testing.T) {
	t.Parallel()
	cfg := testConfig("w1")
	cfg.Concurrency, cfg.InFlight = 2, 5
	cfg.Streams.MaxDeliver = 3
	e := setup(t, cfg)
	g := &gatedChecker{release: make(chan struct{})}
	w, err := worker.New(e.nc, worker.Deps{Checker: g, Store: e.store}, cfg, zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	waitFor(t, 10*time.Second, "worker consuming", w.Consuming)
	cons, err := e.js.Consumer(ctxT(t), cfg.Streams.Submissions, cfg.Streams.Consumer)
	if err != nil {
		t.Fatal(err)
	}
	held := func() int {
		info, err := cons.Info(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		return info.NumAckPending
	}
	watch := e.watch("acme")
	for i := range 8 {
		e.submit("acme", fmt.Sprintf("s%d", i), "alice", photo(uint64(100+i)))
	}
	waitFor(t, 10*time.Second, "five submissions held, two checked", func() bool {
		active, _ := g.counts()
		return active == 2 && held() == 5
	})
	time.Sleep(200 * time.Millisecond) // room for a third check to start, if one could
	if active, peak := g.counts(); active != 2 || peak != 2 {
		t.Errorf("%d checks running (peak %d) with 5 submissions held, want 2 (the concurrency)", active, peak)
	}
	close(g.release)
	for range 8 {
		next(t, watch, 10*time.Second)
	}

	// Three panicking deliveries would hold every slot if a panic kept its slot.
	e.submit("acme", "p", "panic", photo(200))
	e.deadLetters(1, 10*time.Second)
	e.submit("acme", "after", "alice", photo(201))
	if v := next(t, watch, 10*time.Second); v.SubmissionID != "after" {
		t.Errorf("verdict of %s, want after", v.SubmissionID)
	}
	if _, peak := g.counts(); peak > 2 {
		t.Errorf("peak of %d checks at once, want at most 2", peak)
	}
}
