package worker_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/aura-art/aura/fetch"
	"github.com/aura-art/aura/hashing"
	"github.com/aura-art/aura/index"
	"github.com/aura-art/aura/internal/synth"
	"github.com/aura-art/aura/verdict"
	"github.com/aura-art/aura/worker"
)

func TestMain(m *testing.M) {
	index.SetRedisLogger(nil) // the outage test makes go-redis log every failed call
	goleak.VerifyTestMain(m,
		// go-redis probes a server it failed to reach in the background, for a moment.
		goleak.IgnoreAnyFunction("github.com/redis/go-redis/v9/internal/pool.(*ConnPool).tryDial"),
		// http.Transport keeps idle connections of closed test servers for a moment.
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
	)
}

// startNATS starts a NATS server with JetStream in the test process, on a free port of
// 127.0.0.1, storing in a temporary directory. It is shut down in t.Cleanup.
func startNATS(t testing.TB) *server.Server {
	t.Helper()
	srv, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true, StoreDir: t.TempDir(),
		NoLog: true, NoSigs: true, MaxPayload: 64 << 20, HTTPPort: 0,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	return srv
}

// connect connects to srv; the connection is closed in t.Cleanup.
func connect(t testing.TB, srv *server.Server) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(srv.ClientURL(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// testConfig is a worker configuration with short delays, so that retries and redeliveries
// happen within a test.
func testConfig(id string) worker.Config {
	cfg := worker.DefaultConfig()
	cfg.ID = id
	cfg.Concurrency = 4
	cfg.NakDelays = []time.Duration{50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond}
	cfg.ShutdownTimeout = 5 * time.Second
	cfg.PublishTimeout = 5 * time.Second
	// Generous enough that a loaded CI machine running -race settles every delivery in
	// time: a permanent failure must be dead-lettered on its first delivery.
	cfg.Streams.BackOff = []time.Duration{4 * time.Second}
	cfg.Streams.AckWait = 4 * time.Second
	cfg.Streams.MaxDeliver = 5
	cfg.Fetch.Timeout = 2 * time.Second
	return cfg
}

// fakeChecker decodes the picture with hashing's defaults, so that undecodable bodies fail
// as they do in production, and says clear, or own_work for creator "owner". The claimed
// creator steers it: "panic" panics, "hang" blocks until ctx ends, "slow" takes 20ms, and a
// creator with failures left fails transiently.
type fakeChecker struct {
	mu       sync.Mutex
	failures map[string]int // creator -> transient failures left
	calls    map[string]int // creator -> calls
}

func newFakeChecker() *fakeChecker {
	return &fakeChecker{failures: map[string]int{}, calls: map[string]int{}}
}

var errFlaky = errors.New("flaky checker")

func (c *fakeChecker) CheckImage(ctx context.Context, data []byte, creator string) (*index.CheckResult, error) {
	v, err := c.check(ctx, data, creator)
	if err != nil {
		return nil, err
	}
	return &index.CheckResult{Verdict: v}, nil
}

func (c *fakeChecker) check(ctx context.Context, data []byte, creator string) (verdict.Verdict, error) {
	c.mu.Lock()
	c.calls[creator]++
	fail := c.failures[creator] > 0
	if fail {
		c.failures[creator]--
	}
	c.mu.Unlock()
	switch creator {
	case "panic":
		panic("boom")
	case "hang":
		<-ctx.Done()
		return verdict.Verdict{}, ctx.Err()
	case "slow":
		select {
		case <-time.After(20 * time.Millisecond):
		case <-ctx.Done():
			return verdict.Verdict{}, ctx.Err()
		}
	}
	if fail {
		return verdict.Verdict{}, errFlaky
	}
	if _, err := hashing.DefaultConfig().Decode(data); err != nil {
		return verdict.Verdict{}, fmt.Errorf("fake check: decode: %w", err)
	}
	v := verdict.Classify(creator, nil, hashing.DefaultThresholds)
	if creator == "owner" {
		v.Verdict = verdict.OwnWork
	}
	return v, nil
}

func (c *fakeChecker) callsOf(creator string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[creator]
}

// countingStore is a VerdictStore over a bolt store that counts the verdicts created per
// key, and can fail: every call until failUntil, and the next failAfterPut calls just after
// a successful PutVerdict (a worker that dies after storing).
type countingStore struct {
	inner *index.BoltStore

	mu           sync.Mutex
	created      map[string]int
	failUntil    time.Time
	failAfterPut int
	failedCalls  int
}

var errStoreDown = errors.New("store unavailable")

func (s *countingStore) down() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if time.Now().Before(s.failUntil) {
		s.failedCalls++
		return true
	}
	return false
}

func (s *countingStore) PutVerdict(ctx context.Context, r *index.VerdictRecord) (*index.VerdictRecord, bool, error) {
	if s.down() {
		return nil, false, errStoreDown
	}
	got, created, err := s.inner.PutVerdict(ctx, r)
	if err != nil {
		return nil, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if created {
		s.created[r.Tenant+"/"+r.SubmissionID]++
	}
	if s.failAfterPut > 0 {
		s.failAfterPut--
		return nil, false, errStoreDown
	}
	return got, created, nil
}

func (s *countingStore) GetVerdict(ctx context.Context, tenant, id string) (*index.VerdictRecord, error) {
	if s.down() {
		return nil, errStoreDown
	}
	return s.inner.GetVerdict(ctx, tenant, id)
}

// createdOf returns how many verdicts were created for a submission.
func (s *countingStore) createdOf(tenant, id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.created[tenant+"/"+id]
}

func (s *countingStore) setFailUntil(t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failUntil = t
}

// env is a NATS server, a bolt store and what tests need to drive workers.
type env struct {
	t       *testing.T
	srv     *server.Server
	nc      *nats.Conn
	js      jetstream.JetStream
	store   *countingStore
	checker *fakeChecker
	client  *worker.Client
	cfg     worker.Config
}

// setup starts a server and opens a store, and sets up the streams with cfg's settings.
func setup(t *testing.T, cfg worker.Config) *env {
	t.Helper()
	srv := startNATS(t)
	nc := connect(t, srv)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	bs, err := index.OpenBolt(filepath.Join(t.TempDir(), "aura.db"), index.BoltOptions{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bs.Close() })
	client, err := worker.NewClient(nc, worker.ClientConfig{MaxInlineBytes: cfg.MaxInlineBytes})
	if err != nil {
		t.Fatal(err)
	}
	if err := worker.SetupStreams(ctxT(t), js, cfg.Streams); err != nil {
		t.Fatal(err)
	}
	return &env{
		t: t, srv: srv, nc: nc, js: js, client: client, cfg: cfg, checker: newFakeChecker(),
		store: &countingStore{inner: bs, created: map[string]int{}},
	}
}

// running is a worker running in the background.
type running struct {
	w      *worker.Worker
	cancel context.CancelFunc
	done   chan error
}

// stop cancels the worker's context and waits for Run to return.
func (r *running) stop(t testing.TB) {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
		r.done <- nil
	case <-time.After(30 * time.Second):
		t.Fatal("worker did not stop within 30s")
	}
}

// start runs a worker with the env's store and checker on connection nc (the env's when
// nil), stopped in t.Cleanup.
func (e *env) start(cfg worker.Config, nc *nats.Conn, f worker.Fetcher) *running {
	e.t.Helper()
	if nc == nil {
		nc = e.nc
	}
	w, err := worker.New(nc, worker.Deps{Checker: e.checker, Store: e.store, Fetcher: f}, cfg, zaptest.NewLogger(e.t, zaptest.Level(zap.WarnLevel)))
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{w: w, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- w.Run(ctx) }()
	e.t.Cleanup(func() { r.stop(e.t) })
	waitFor(e.t, 10*time.Second, "worker consuming", w.Consuming)
	return r
}

// fetcher returns a fetch.Fetcher; loopback lets it reach httptest servers.
func fetcher(t testing.TB, loopback bool, timeout time.Duration) *fetch.Fetcher {
	t.Helper()
	cfg := fetch.DefaultConfig()
	cfg.AllowLoopback, cfg.Timeout = loopback, timeout
	f, err := fetch.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.CloseIdleConnections)
	return f
}

// watch subscribes to a tenant's verdicts, closed in t.Cleanup.
func (e *env) watch(tenant string) *worker.Watch {
	e.t.Helper()
	w, err := e.client.WatchVerdicts(ctxT(e.t), tenant)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = w.Close() })
	return w
}

// publish publishes raw bytes as a submission on subject and returns its stream sequence.
func (e *env) publish(subject string, data []byte, msgID string) uint64 {
	e.t.Helper()
	msg := nats.NewMsg(subject)
	msg.Data = data
	var opts []jetstream.PublishOpt
	if msgID != "" {
		opts = append(opts, jetstream.WithMsgID(msgID))
	}
	ack, err := e.js.PublishMsg(ctxT(e.t), msg, opts...)
	if err != nil {
		e.t.Fatalf("publish on %s: %v", subject, err)
	}
	return ack.Sequence
}

// submit submits an inline picture.
func (e *env) submit(tenant, id, creator string, data []byte) {
	e.t.Helper()
	dup, err := e.client.Submit(ctxT(e.t), &worker.Submission{
		SchemaVersion: worker.SchemaVersion, ID: id, Tenant: tenant, Creator: creator, Image: worker.Image{Data: data},
	})
	if err != nil {
		e.t.Fatal(err)
	}
	if dup {
		e.t.Fatalf("submission %s/%s: duplicate", tenant, id)
	}
}

// streamMsgs returns how many messages a stream holds.
func (e *env) streamMsgs(name string) uint64 {
	e.t.Helper()
	s, err := e.js.Stream(ctxT(e.t), name)
	if err != nil {
		e.t.Fatal(err)
	}
	info, err := s.Info(ctxT(e.t))
	if err != nil {
		e.t.Fatal(err)
	}
	return info.State.Msgs
}

// deadLetters waits until the dead-letter stream holds n messages and returns them, keyed
// by the original stream sequence.
func (e *env) deadLetters(n int, within time.Duration) map[uint64]*jetstream.RawStreamMsg {
	e.t.Helper()
	waitFor(e.t, within, fmt.Sprintf("%d dead letters", n), func() bool { return e.streamMsgs(e.cfg.Streams.DeadLetter) >= uint64(n) })
	s, err := e.js.Stream(ctxT(e.t), e.cfg.Streams.DeadLetter)
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[uint64]*jetstream.RawStreamMsg{}
	for seq := uint64(1); len(out) < n; seq++ {
		m, err := s.GetMsg(ctxT(e.t), seq)
		if err != nil {
			e.t.Fatalf("dead letter %d: %v", seq, err)
		}
		orig, _ := strconv.ParseUint(m.Header.Get(worker.HeaderStreamSequence), 10, 64)
		out[orig] = m
	}
	return out
}

// next returns the next verdict of a watch, failing the test after a timeout.
func next(t testing.TB, w *worker.Watch, within time.Duration) *worker.VerdictMessage {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	v, err := w.Next(ctx)
	if err != nil {
		t.Fatalf("no verdict within %v: %v", within, err)
	}
	return v
}

// noMore fails the test if the watch yields a verdict within d.
func noMore(t testing.TB, w *worker.Watch, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if v, err := w.Next(ctx); err == nil {
		t.Errorf("unexpected verdict %+v", v)
	}
}

// waitFor polls cond every 10ms until it holds, failing the test after within.
func waitFor(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ctxT returns a context that ends with the test or after a minute.
func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// photo is a small JPEG.
func photo(seed uint64) []byte { return synth.JPEG(64, 48, seed, 90) }
