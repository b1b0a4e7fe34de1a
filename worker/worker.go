package worker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/aura-art/aura/fetch"
	"github.com/aura-art/aura/index"
	"github.com/aura-art/aura/review"
)

// Checker decides the verdict on a picture: *index.Registry. It must be safe for concurrent
// use. An error that errors.Is one of the permanent errors (see Permanent) dead-letters the
// submission; any other is retried.
type Checker interface {
	CheckImage(ctx context.Context, data []byte, claimedCreator string) (*index.CheckResult, error)
}

// VerdictStore keeps the verdict of each submission: *index.BoltStore and *index.RedisStore.
// PutVerdict must be create-if-absent (the first verdict stored for a tenant and submission
// id stands and is returned with created false), GetVerdict must wrap index.ErrNotFound
// when there is none, and both must be safe for concurrent use.
type VerdictStore interface {
	PutVerdict(ctx context.Context, r *index.VerdictRecord) (stored *index.VerdictRecord, created bool, err error)
	GetVerdict(ctx context.Context, tenant, submissionID string) (*index.VerdictRecord, error)
}

// Fetcher downloads the image of a submission by URL: *fetch.Fetcher. It must be safe for
// concurrent use.
type Fetcher interface {
	Fetch(ctx context.Context, url string) ([]byte, error)
}

// CaseOpener opens the review case of a flagged submission: *review.Opener. OpenUpload must
// be idempotent (a second call for the same tenant and submission id returns the first
// case) and safe for concurrent use.
type CaseOpener interface {
	OpenUpload(ctx context.Context, f review.Flagged) (*review.Case, error)
}

var (
	_ CaseOpener   = (*review.Opener)(nil)
	_ Checker      = (*index.Registry)(nil)
	_ VerdictStore = (*index.BoltStore)(nil)
	_ VerdictStore = (*index.RedisStore)(nil)
	_ Fetcher      = (*fetch.Fetcher)(nil)
)

// Deps are what a Worker works with.
type Deps struct {
	// Checker decides verdicts. Required.
	Checker Checker
	// Store keeps verdicts. Required.
	Store VerdictStore
	// Fetcher downloads images by URL. Default: fetch.New(Config.Fetch).
	Fetcher Fetcher
	// Metrics records what the worker does. Default nil: nothing is recorded.
	Metrics *Metrics
	// Cases opens a review case for every flagged verdict. Default nil: no cases.
	Cases CaseOpener
	// Uploads receives the compact fingerprint of every upload checked, for retroactive
	// matching (package retro). Default nil: none is kept.
	Uploads index.UploadLog
}

// Worker takes submissions from the submissions stream, decides their verdicts, stores and
// publishes them, and answers synchronous checks. Run it with Run; several workers, in one
// process or many, share the load through the durable consumer.
//
// Delivery is at least once and nothing is lost: a submission is acked only after its
// verdict is stored and the server has acknowledged the verdict's publication. A
// redelivered submission whose verdict is stored already publishes the stored verdict
// again under the same message id, which the verdicts stream drops as a duplicate.
type Worker struct {
	cfg     Config
	nc      *nats.Conn
	js      jetstream.JetStream
	checker Checker
	store   VerdictStore
	fetcher Fetcher
	metrics *Metrics
	cases   CaseOpener
	uploads index.UploadLog
	log     *zap.Logger

	consuming atomic.Bool
	running   atomic.Bool
	live      atomic.Int64  // submissions in flight: rescans wait while they fill every slot
	checking  chan struct{} // a slot of Concurrency, held by a submission while it is checked
}

// New returns a worker that uses the connection nc, which the caller owns and closes after
// Run returns. log may be nil. It fails if cfg is invalid or a required dependency is
// missing.
func New(nc *nats.Conn, deps Deps, cfg Config, log *zap.Logger) (*Worker, error) {
	if nc == nil || deps.Checker == nil || deps.Store == nil {
		return nil, errors.New("worker: a NATS connection, a Checker and a VerdictStore are required")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = zap.NewNop()
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("worker: jetstream: %w", err)
	}
	f := deps.Fetcher
	if f == nil {
		ff, err := fetch.New(cfg.Fetch)
		if err != nil {
			return nil, err
		}
		f = ff
	}
	return &Worker{
		cfg: cfg, nc: nc, js: js, checker: deps.Checker, store: deps.Store, fetcher: f,
		metrics: deps.Metrics, cases: deps.Cases, uploads: deps.Uploads, log: log.Named("worker").With(zap.String("worker_id", cfg.ID)),
		checking: make(chan struct{}, cfg.Concurrency),
	}, nil
}

// ID returns the worker's id (Config.ID).
func (w *Worker) ID() string { return w.cfg.ID }

// Consuming reports whether Run is taking submissions: its streams are set up and it has not
// begun to stop.
func (w *Worker) Consuming() bool { return w.consuming.Load() }

// Run sets up the streams (unless Config.SkipSetup), consumes the kept max-deliveries
// advisories, subscribes to the synchronous check subject, and takes submissions until ctx ends. Then it
// stops taking work, lets the submissions and checks in flight finish for up to
// Config.ShutdownTimeout, aborts the rest (handing their submissions back to the stream
// at once), and returns nil once every goroutine it started has ended. It returns an error
// only when it cannot start. A Worker runs once.
func (w *Worker) Run(ctx context.Context) error {
	if !w.running.CompareAndSwap(false, true) {
		return errors.New("worker: Run called twice")
	}
	if !w.cfg.SkipSetup {
		if err := SetupStreams(ctx, w.js, w.cfg.Streams); err != nil {
			return err
		}
	}
	sc := w.cfg.Streams
	cons, err := w.js.Consumer(ctx, sc.Submissions, sc.Consumer)
	if err != nil {
		return fmt.Errorf("worker: consumer %s on %s: %w", sc.Consumer, sc.Submissions, err)
	}
	stream, err := w.js.Stream(ctx, sc.Submissions)
	if err != nil {
		return fmt.Errorf("worker: stream %s: %w", sc.Submissions, err)
	}

	// workCtx outlives ctx by up to ShutdownTimeout: "stop fetching" is not "abort work".
	workCtx, abort := context.WithCancel(context.WithoutCancel(ctx))
	defer abort()
	tr := &tracker{}
	advisories, err := w.consumeAdvisories(workCtx, stream, tr)
	if err != nil {
		return err
	}
	subs, err := w.subscribe(workCtx, tr)
	if err != nil {
		advisories.Stop()
		return err
	}
	w.log.Info("consuming", zap.String("stream", sc.Submissions), zap.String("consumer", sc.Consumer),
		zap.Int("concurrency", w.cfg.Concurrency), zap.Int("in_flight", w.cfg.InFlightLimit()))
	var rescans sync.WaitGroup
	if w.cfg.RescanConcurrency > 0 {
		rcons, err := w.js.Consumer(ctx, sc.Rescans, sc.RescanConsumer)
		if err != nil {
			advisories.Stop()
			for _, s := range subs {
				_ = s.Unsubscribe()
			}
			return fmt.Errorf("worker: consumer %s on %s: %w", sc.RescanConsumer, sc.Rescans, err)
		}
		rescans.Go(func() { w.consumeRescans(ctx, workCtx, rcons, tr) })
	}
	w.consuming.Store(true)
	w.consume(ctx, workCtx, cons, tr)
	w.consuming.Store(false)
	rescans.Wait()

	advisories.Stop()
	for _, s := range subs {
		_ = s.Unsubscribe()
	}
	done := make(chan struct{})
	go func() { tr.wait(); close(done) }()
	timer := time.NewTimer(w.cfg.ShutdownTimeout)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		w.log.Warn("shutdown timeout: handing back work in flight", zap.Duration("timeout", w.cfg.ShutdownTimeout))
		abort()
		<-done
	}
	w.log.Info("stopped")
	return nil
}

// consume pulls submissions while ctx lasts, at most InFlight at once, and hands each to
// its own goroutine tracked by tr.
func (w *Worker) consume(ctx, workCtx context.Context, cons jetstream.Consumer, tr *tracker) {
	inFlight := w.cfg.InFlightLimit()
	sem := make(chan struct{}, inFlight)
	limit := errLogLimiter{log: w.log, every: 30 * time.Second}
	for {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		n := 1
	grab:
		for n < inFlight {
			select {
			case sem <- struct{}{}:
				n++
			default:
				break grab
			}
		}
		// The pull lasts until the batch is full, the server expires it (after 30s), or ctx
		// ends. No client-side deadline: one could drop messages the server sent just before
		// expiring the pull, which would then wait out their ack wait. Messages in flight when
		// ctx ends are redelivered after their ack wait.
		batch, err := cons.Fetch(n, jetstream.FetchContext(ctx))
		got := 0
		if err == nil {
			for m := range batch.Messages() {
				got++
				tr.start()
				go func() {
					defer func() { <-sem; tr.done() }()
					w.handle(workCtx, m)
				}()
			}
			err = batch.Error()
		}
		for range n - got {
			<-sem
		}
		if !pulled(ctx, &limit, "pull failed", err) {
			return
		}
	}
}

// pulled settles a pull's error: a timeout or the end of ctx is fine; another failure is
// logged (rate-limited) and waited out for a second, so a loop does not spin while NATS is
// away. It reports false once ctx has ended during that wait.
func pulled(ctx context.Context, limit *errLogLimiter, msg string, err error) bool {
	if err == nil || ctx.Err() != nil || errors.Is(err, nats.ErrTimeout) {
		limit.ok()
		return true
	}
	limit.failed(msg, err)
	select {
	case <-time.After(time.Second):
		return true
	case <-ctx.Done():
		return false
	}
}

// handle works on one delivered submission and settles it.
func (w *Worker) handle(ctx context.Context, m jetstream.Msg) {
	start := time.Now()
	w.metrics.flight(1)
	defer w.metrics.flight(-1)
	w.live.Add(1)
	defer w.live.Add(-1)
	d := delivery{msg: m, deliveries: 1}
	if meta, err := m.Metadata(); err == nil {
		d.seq, d.deliveries, d.published = meta.Sequence.Stream, meta.NumDelivered, meta.Timestamp
	}
	if d.deliveries > 1 {
		w.metrics.redelivered()
	}
	stop := w.keepAlive(m)
	res := w.process(ctx, d, start)
	stop()
	w.settle(ctx, d, res)
	w.metrics.stage("total", time.Since(start))
}

// delivery is one delivered submission message and its metadata.
type delivery struct {
	msg        jetstream.Msg
	seq        uint64 // stream sequence
	deliveries uint64 // 1 for the first delivery
	published  time.Time
}

// result is what processing a submission produced.
type result struct {
	sub *Submission          // nil when the message could not be decoded
	rec *index.VerdictRecord // the stored verdict, nil on failure
	err error
}

// keepAlive reports progress on m every InProgressEvery until stop is called.
func (w *Worker) keepAlive(m jetstream.Msg) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(w.cfg.inProgressEvery())
		defer t.Stop()
		for {
			select {
			case <-t.C:
				_ = m.InProgress()
			case <-done:
				return
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

// tracker counts the goroutines of work in flight. start after close returns false.
type tracker struct {
	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

func (t *tracker) start() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	t.wg.Add(1)
	return true
}

func (t *tracker) done() { t.wg.Done() }

// wait refuses new work and waits for the work in flight.
func (t *tracker) wait() {
	t.mu.Lock()
	t.closed = true
	t.mu.Unlock()
	t.wg.Wait()
}

// errLogLimiter logs the first of a run of repeated failures at once, then at most one a
// period with the count of those it left out, and the recovery.
type errLogLimiter struct {
	log        *zap.Logger
	every      time.Duration
	last       time.Time
	suppressed int
	failing    bool
}

func (l *errLogLimiter) failed(msg string, err error) {
	if now := time.Now(); !l.failing || now.Sub(l.last) >= l.every {
		l.log.Warn(msg, zap.Error(err), zap.Int("suppressed", l.suppressed))
		l.last, l.suppressed = now, 0
	} else {
		l.suppressed++
	}
	l.failing = true
}

func (l *errLogLimiter) ok() {
	if l.failing {
		l.log.Info("recovered", zap.Int("suppressed", l.suppressed))
		l.failing, l.suppressed = false, 0
	}
}
