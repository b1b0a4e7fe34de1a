package rescan

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/aura-art/aura/fetch"
	"github.com/aura-art/aura/hashing"
	"github.com/aura-art/aura/index"
	"github.com/aura-art/aura/review"
	"github.com/aura-art/aura/verdict"
)

// Checker checks a picture against the registry for a claimed creator ("" for none).
// *index.Registry implements it. It must be safe for concurrent use.
type Checker interface {
	Check(ctx context.Context, data []byte, claimedCreator string) (verdict.Verdict, error)
}

// CaseOpener opens the review case of a flagged picture, idempotently by tenant and
// submission id. *review.Opener implements it. It must be safe for concurrent use.
type CaseOpener interface {
	OpenUpload(ctx context.Context, f review.Flagged) (*review.Case, error)
}

// Fetcher downloads the picture at a URL. *fetch.Fetcher implements it. It must be safe
// for concurrent use.
type Fetcher interface {
	Fetch(ctx context.Context, url string) ([]byte, error)
}

var (
	_ Checker    = (*index.Registry)(nil)
	_ CaseOpener = (*review.Opener)(nil)
	_ Fetcher    = (*fetch.Fetcher)(nil)
)

// ErrNoFetcher is the error of a URL item when the Runner has no Fetcher.
var ErrNoFetcher = errors.New("no fetcher for URLs")

// Config configures a Runner.
type Config struct {
	// Tenant is the tenant of the items whose manifest line names none. Default "archive".
	Tenant string
	// Creator is the claimed creator of the items whose manifest line names none. Default
	// "" (none claimed: a match is a likely forgery or a derivative, never own work).
	Creator string
	// Concurrency is how many items are read and checked at once. Default
	// runtime.NumCPU().
	Concurrency int
	// Rate caps how many items a second are started; items skipped because an earlier
	// run finished them do not count. 0 means no cap. Default 0.
	Rate float64
	// MaxBytes caps how much of a file is read: a larger file is read to MaxBytes+1 bytes,
	// for the checker to refuse. Use the checker's own limit. Default
	// hashing.DefaultConfig().MaxBytes.
	MaxBytes int64
	// Hash makes a file count as unchanged since an earlier run when its content's SHA-256
	// is (every file is read to find out), rather than its size and modification time. A
	// file the journal holds no hash of (finished by a run without Hash) is still compared
	// by size and time. Default false.
	Hash bool
	// Force redoes every item: the journal is emptied first. Default false.
	Force bool
	// RetryErrors redoes the items that failed in an earlier run. Default false: a failed
	// item counts as finished, so a finished rescan run again does nothing.
	RetryErrors bool
	// ShutdownTimeout is how long the items in progress may take to finish once Run's
	// context ends; then their work is cancelled and they are left for the next run.
	// Default 10s.
	ShutdownTimeout time.Duration
}

// DefaultConfig returns the defaults documented on each field.
func DefaultConfig() Config {
	return Config{
		Tenant:          "archive",
		Concurrency:     runtime.NumCPU(),
		MaxBytes:        hashing.DefaultConfig().MaxBytes,
		ShutdownTimeout: 10 * time.Second,
	}
}

// Validate reports the settings that are out of range, by name.
func (c Config) Validate() error {
	var errs []error
	if !index.ValidTenant(c.Tenant) {
		errs = append(errs, fmt.Errorf("tenant %q: want 1 to 64 letters, digits, '-' or '_'", c.Tenant))
	}
	if !validText(c.Creator) || len(c.Creator) > 256 {
		errs = append(errs, errors.New("creator: want at most 256 bytes of text"))
	}
	if c.Concurrency < 1 {
		errs = append(errs, fmt.Errorf("concurrency must be at least 1, got %d", c.Concurrency))
	}
	if c.Rate < 0 {
		errs = append(errs, fmt.Errorf("rate must not be negative, got %v", c.Rate))
	}
	if c.MaxBytes <= 0 {
		errs = append(errs, fmt.Errorf("max_bytes must be positive, got %d", c.MaxBytes))
	}
	if c.ShutdownTimeout < 0 {
		errs = append(errs, fmt.Errorf("shutdown_timeout must not be negative, got %v", c.ShutdownTimeout))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("rescan: config: %w", err)
	}
	return nil
}

// RemoteChecker checks items elsewhere: workers over NATS, for "aura rescan --via-nats". It
// gets the item itself, so that URLs are fetched and review cases opened where it runs.
type RemoteChecker interface {
	CheckRemote(ctx context.Context, it RemoteItem) (v *verdict.Verdict, caseID string, err error)
}

// RemoteItem is an item as a RemoteChecker gets it: the bytes of a file, or the URL.
type RemoteItem struct {
	Tenant, ID, Creator, Source, URL string
	Data                             []byte
}

// Deps are what a Runner works with. Checker or Remote is required; the rest may be nil.
type Deps struct {
	// Checker checks each picture in this process.
	Checker Checker
	// Remote, when set, checks each picture elsewhere instead; Cases and Fetcher are then
	// not used.
	Remote RemoteChecker
	// Cases opens the case of each flagged picture; nil opens none.
	Cases CaseOpener
	// Fetcher downloads URL items; nil fails them with ErrNoFetcher.
	Fetcher Fetcher
	// Journal makes the rescan resumable; nil skips nothing and records nothing.
	Journal *Journal
	// Report gets a line an item; the Runner flushes it about once a second and at the
	// end, and does not close it.
	Report *Report
	// Metrics count the items.
	Metrics *Metrics
	// Log gets what goes wrong outside of any one item. Default zap.NewNop().
	Log *zap.Logger
}

// Runner runs one rescan. Create it with New; Run it once. Stats may be called from any
// goroutine.
type Runner struct {
	cfg     Config
	deps    Deps
	limiter *rate.Limiter
	started atomic.Bool
	stats   counters
}

// counters are a run's live counts.
type counters struct {
	start                               atomic.Int64 // Unix nanoseconds
	total                               atomic.Int64 // -1 until known
	ok, errors, skipped, flagged, ended atomic.Int64
}

// New returns a runner, or the error of cfg.Validate.
func New(cfg Config, d Deps) (*Runner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if d.Checker == nil && d.Remote == nil {
		return nil, errors.New("rescan: no checker")
	}
	if d.Log == nil {
		d.Log = zap.NewNop()
	}
	r := &Runner{cfg: cfg, deps: d}
	if cfg.Rate > 0 {
		r.limiter = rate.NewLimiter(rate.Limit(cfg.Rate), 1)
	}
	r.stats.total.Store(-1)
	return r, nil
}

// Stats are a run's counts so far.
type Stats struct {
	// Total is how many items the source holds, -1 until the Runner has counted them.
	Total int
	// OK, Errors and Skipped count the finished items by status; Flagged counts the OK
	// ones whose verdict is flagged.
	OK, Errors, Skipped, Flagged int
	// Elapsed is the time since Run started, or Run's whole time once it returned.
	Elapsed time.Duration
}

// Done is how many items are finished: OK + Errors + Skipped.
func (s Stats) Done() int { return s.OK + s.Errors + s.Skipped }

// Stats returns the counts so far; it is safe to call while Run runs.
func (r *Runner) Stats() Stats {
	s := Stats{
		Total: int(r.stats.total.Load()), OK: int(r.stats.ok.Load()), Errors: int(r.stats.errors.Load()),
		Skipped: int(r.stats.skipped.Load()), Flagged: int(r.stats.flagged.Load()),
	}
	if start := r.stats.start.Load(); start != 0 {
		end := r.stats.ended.Load()
		if end == 0 {
			end = time.Now().UnixNano()
		}
		s.Elapsed = time.Duration(end - start)
	}
	return s
}

// job is an item on its way to a worker.
type job struct {
	it      Item
	res     Result // its result so far: names and source
	creator string
	prev    *Result // the journal's result, when the worker must compare content hashes
}

// outcome is a finished item on its way to the collector.
type outcome struct {
	res       Result  // for the report
	journal   *Result // for the journal; nil records nothing
	flagged   bool
	duplicate bool // skipped: it repeats an earlier manifest line
	dropped   bool // interrupted by cancellation: neither reported nor recorded
}

// Run rescans the items of src and returns what it did. Every item's failure is recorded
// in its Result and counted, never returned. Run returns an error when src cannot be read,
// the journal or the report cannot be written (the run stops), or ctx ends: then no new
// item is started, the items in progress get Config.ShutdownTimeout to finish, and Run
// returns ctx's error with the summary of what finished, which the journal holds for the
// next run. Run may be called once.
func (r *Runner) Run(ctx context.Context, src Source) (Summary, error) {
	if !r.started.CompareAndSwap(false, true) {
		return Summary{}, errors.New("rescan: Run called twice")
	}
	r.stats.start.Store(time.Now().UnixNano())
	sum := Summary{Verdicts: map[verdict.Kind]int{}}
	if r.cfg.Force && r.deps.Journal != nil {
		if err := r.deps.Journal.Reset(); err != nil {
			return sum, err
		}
	}

	runCtx, abort := context.WithCancelCause(ctx) // stops the walk
	defer abort(nil)
	workCtx, cancelWork := context.WithCancel(context.WithoutCancel(ctx)) // aborts the items in progress
	defer cancelWork()
	stopGrace := context.AfterFunc(ctx, func() { time.AfterFunc(r.cfg.ShutdownTimeout, cancelWork) })
	defer stopGrace()

	var bg sync.WaitGroup
	defer func() { abort(nil); bg.Wait() }() // the count may still be walking
	if c, ok := src.(Counter); ok {
		bg.Go(func() {
			if n, err := c.Count(runCtx); err == nil {
				r.stats.total.Store(int64(n))
			}
		})
	}

	jobs := make(chan job, r.cfg.Concurrency)
	results := make(chan outcome, 2*r.cfg.Concurrency)
	var walkErr error
	var pipeline sync.WaitGroup
	pipeline.Go(func() {
		defer close(jobs)
		seen := map[string]int{} // manifest items' keys, by first line
		walkErr = src.Walk(runCtx, func(it Item) error { return r.dispatch(runCtx, it, seen, jobs, results) })
	})
	for range r.cfg.Concurrency {
		pipeline.Go(func() {
			for j := range jobs {
				if runCtx.Err() != nil {
					continue // stopping: leave the unstarted items for the next run
				}
				results <- r.process(workCtx, j)
			}
		})
	}
	go func() { pipeline.Wait(); close(results) }()

	fatal := r.collect(results, &sum, func(err error) { abort(err); cancelWork() })
	r.stats.ended.Store(time.Now().UnixNano())
	sum.Elapsed = r.Stats().Elapsed
	switch {
	case fatal != nil:
		return sum, fatal
	case ctx.Err() != nil:
		return sum, ctx.Err()
	case walkErr != nil:
		return sum, walkErr
	}
	return sum, nil
}

// collect hands each outcome to the journal, the report, the metrics and the counts, until
// results is closed. The first error of the journal or the report stops the run (stop) and
// is returned; the rest of the outcomes are drained unrecorded.
func (r *Runner) collect(results <-chan outcome, sum *Summary, stop func(error)) error {
	var fatal error
	flushed := time.Now()
	fail := func(err error) {
		fatal = err
		stop(err)
	}
	for o := range results {
		if o.dropped || fatal != nil {
			continue
		}
		if o.journal != nil && r.deps.Journal != nil {
			if err := r.deps.Journal.Append(*o.journal); err != nil {
				fail(err)
				continue
			}
		}
		if rep := r.deps.Report; rep != nil {
			err := rep.Write(o.res)
			if err == nil && time.Since(flushed) >= time.Second {
				flushed = time.Now()
				err = rep.Flush()
			}
			if err != nil {
				fail(err)
				continue
			}
		}
		if r.deps.Metrics != nil {
			r.deps.Metrics.observe(&o.res)
		}
		sum.add(&o.res, o.flagged, o.duplicate)
		switch o.res.Status {
		case OK:
			r.stats.ok.Add(1)
			if o.flagged {
				r.stats.flagged.Add(1)
			}
		case Error:
			r.stats.errors.Add(1)
		case Skipped:
			r.stats.skipped.Add(1)
		}
	}
	if fatal == nil && r.deps.Report != nil {
		fatal = r.deps.Report.Flush()
	}
	return fatal
}

// dispatch decides what becomes of one item the source yields: it is skipped (an earlier
// run finished it, or it repeats an earlier manifest line), recorded as an error (the
// source could not make it an item), or sent to a worker once the rate limit allows.
func (r *Runner) dispatch(ctx context.Context, it Item, seen map[string]int, jobs chan<- job, results chan<- outcome) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	tenant, creator := it.Tenant, it.Creator
	if tenant == "" {
		tenant = r.cfg.Tenant
	}
	if creator == "" {
		creator = r.cfg.Creator
	}
	res := Result{ID: it.ID, Tenant: tenant, Line: it.Line, Source: it.Source()}
	if it.Line > 0 && it.ID != "" {
		key := itemKey(tenant, it.ID, 0)
		if first, ok := seen[key]; ok {
			res.Status, res.Error = Skipped, fmt.Sprintf("duplicate of line %d", first)
			results <- outcome{res: res, duplicate: true}
			return nil
		}
		seen[key] = it.Line
	}
	if it.Err == nil && it.Path != "" && it.ModTime.IsZero() {
		info, err := os.Stat(it.Path)
		switch {
		case err != nil:
			it.Err = pathCause(err)
		case !info.Mode().IsRegular():
			it.Err = errors.New("not a regular file")
		default:
			it.Size, it.ModTime = info.Size(), info.ModTime()
		}
	}
	if it.Path != "" && it.Err == nil {
		res.Size, res.MTime = it.Size, it.ModTime.UnixNano()
	}
	var prev *Result
	if j := r.deps.Journal; j != nil && !r.cfg.Force {
		if p, ok := j.Lookup(tenant, it.ID, it.Line); ok && !(r.cfg.RetryErrors && p.Status == Error) {
			switch {
			case it.Err != nil && p.Status != Error: // it failed now: record that
			case it.Err != nil || it.URL != "" || (!r.cfg.Hash || p.SHA256 == "") && p.Size == res.Size && p.MTime == res.MTime:
				results <- outcome{res: skippedAs(res, p)}
				return nil
			case r.cfg.Hash && p.SHA256 != "":
				prev = &p
			}
		}
	}
	if it.Err != nil {
		res.Status, res.Error = Error, it.Err.Error()
		if it.Line > 0 && it.ID == "" {
			res.Error = lineError(it.Line, it.Err)
		}
		res.At = time.Now()
		results <- outcome{res: res, journal: &res}
		return nil
	}
	if r.limiter != nil {
		if err := r.limiter.Wait(ctx); err != nil {
			return ctx.Err()
		}
	}
	select {
	case jobs <- job{it: it, res: res, creator: creator, prev: prev}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// skippedAs is the report's line of an item an earlier run finished: that run's verdict,
// work, score, case and error.
func skippedAs(res, prev Result) Result {
	res.Status = Skipped
	res.Verdict, res.WorkID, res.Score, res.CaseID, res.Error = prev.Verdict, prev.WorkID, prev.Score, prev.CaseID, prev.Error
	return res
}

// process reads, checks and, when flagged, opens the case of one item. A panic becomes the
// item's error.
func (r *Runner) process(ctx context.Context, j job) (o outcome) {
	start := time.Now()
	res := j.res
	defer func() {
		if p := recover(); p != nil {
			res.Status, res.Error = Error, fmt.Sprintf("panic: %v", p)
			res.Verdict, res.WorkID, res.Score = "", "", 0
			r.deps.Log.Error("rescan item panicked", zap.String("id", res.ID), zap.Any("panic", p), zap.Stack("stack"))
			o = r.finish(ctx, res, start, false)
		}
	}()
	var data []byte
	var err error
	if r.deps.Remote != nil {
		return r.processRemote(ctx, j, res, start)
	}
	if j.it.URL != "" {
		if r.deps.Fetcher == nil {
			err = ErrNoFetcher
		} else {
			data, err = r.deps.Fetcher.Fetch(ctx, j.it.URL)
		}
	} else {
		data, err = readFile(j.it.Path, j.it.Size, r.cfg.MaxBytes)
	}
	if err == nil && r.cfg.Hash && j.it.Path != "" {
		sum := sha256.Sum256(data)
		res.SHA256 = hex.EncodeToString(sum[:])
		if p := j.prev; p != nil && p.SHA256 == res.SHA256 {
			// Unchanged: keep the earlier result, under the file's new size and time.
			rec := *p
			rec.ID, rec.Tenant, rec.Line, rec.Source, rec.Size, rec.MTime, rec.At = res.ID, res.Tenant, res.Line, res.Source, res.Size, res.MTime, time.Now()
			return outcome{res: skippedAs(res, *p), journal: &rec}
		}
	}
	flagged := false
	if err == nil {
		var v verdict.Verdict
		if v, err = r.deps.Checker.Check(ctx, data, j.creator); err == nil {
			res.setVerdict(v)
			if flagged = v.Flagged(); flagged && r.deps.Cases != nil {
				var c *review.Case
				c, err = r.deps.Cases.OpenUpload(ctx, review.Flagged{
					Kind: review.Rescan, Tenant: res.Tenant, SubmissionID: subjectID(res.ID),
					ClaimedCreator: j.creator, Source: res.Source, Data: data, Verdict: v,
				})
				if err != nil {
					err = fmt.Errorf("open case: %w", err)
				} else {
					res.CaseID = c.ID
				}
			}
		}
	}
	if err != nil {
		res.Status, res.Error = Error, err.Error()
	} else {
		res.Status = OK
	}
	return r.finish(ctx, res, start, flagged)
}

// processRemote reads a file item (a URL item goes as it is) and has the RemoteChecker
// check it.
func (r *Runner) processRemote(ctx context.Context, j job, res Result, start time.Time) outcome {
	it := RemoteItem{Tenant: res.Tenant, ID: res.ID, Creator: j.creator, Source: review.ClipText(res.Source, 2048), URL: j.it.URL}
	var err error
	if j.it.URL == "" {
		it.Data, err = readFile(j.it.Path, j.it.Size, r.cfg.MaxBytes)
	}
	flagged := false
	if err == nil {
		var v *verdict.Verdict
		if v, res.CaseID, err = r.deps.Remote.CheckRemote(ctx, it); err == nil && v != nil {
			res.setVerdict(*v)
			flagged = v.Flagged()
		}
	}
	if err != nil {
		res.Status, res.Error = Error, err.Error()
	} else {
		res.Status = OK
	}
	return r.finish(ctx, res, start, flagged)
}

// finish times an item's result; a failure caused by cancelling ctx drops it.
func (r *Runner) finish(ctx context.Context, res Result, start time.Time, flagged bool) outcome {
	now := time.Now()
	res.Millis = float64(now.Sub(start).Microseconds()) / 1000
	res.At = now
	if res.Status == Error && ctx.Err() != nil {
		return outcome{dropped: true}
	}
	return outcome{res: res, journal: &res, flagged: flagged && res.Status == OK}
}

// readFile reads a file of about size bytes, at most limit+1 of them.
func readFile(path string, size, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read: %w", pathCause(err))
	}
	defer f.Close()
	var b bytes.Buffer
	b.Grow(int(min(max(size, 0), limit) + bytes.MinRead))
	if _, err := b.ReadFrom(io.LimitReader(f, limit+1)); err != nil {
		return nil, fmt.Errorf("read: %w", pathCause(err))
	}
	return b.Bytes(), nil
}

// subjectID is the case's subject id of an item: its id, or when a case cannot take that
// (longer than 128 bytes, or with control characters) its SHA-256 ("sha256:" and 32 hex
// digits).
func subjectID(id string) string {
	if len(id) <= index.MaxSubmissionIDLen && validText(id) {
		return id
	}
	sum := sha256.Sum256([]byte(id))
	return "sha256:" + hex.EncodeToString(sum[:16])
}
