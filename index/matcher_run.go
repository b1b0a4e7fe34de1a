package index

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"go.uber.org/zap"
)

// ErrFeedGap is what a store's Changes and WaitChanges should return (wrapped) when they no
// longer hold the changes right after the Seq asked for, because the feed was trimmed past
// them: a replica that far behind must load again. Matcher.Run reloads on it.
var ErrFeedGap = errors.New("change feed no longer holds the changes asked for")

// Retry policy of Run when the store fails.
const (
	retryMin    = 100 * time.Millisecond
	retryMax    = 5 * time.Second
	errLogEvery = 30 * time.Second // at most one failure log line this often
)

// Run loads every work of the store into the matcher, closes Ready, then applies the store's
// change feed until ctx ends, when it returns nil. A new, disabled or deleted work is applied
// as soon as WaitChanges returns it (at once on the embedded store, within a round trip on
// Redis).
//
// A load replaces the matcher's contents in one step; lookups see the previous contents until
// then. When the store fails, Run retries with exponential backoff (100ms to 5s, jittered),
// logging the first failure, then at most one line every 30s, and one line on recovery. When
// the feed no longer holds the changes it needs (ErrFeedGap) it loads again from scratch. It
// returns an error only if the store is closed (ErrClosed) or Run is already running. Before
// returning it waits for the background merges it started.
func (m *Matcher) Run(ctx context.Context, s Store, log *zap.Logger) error {
	if log == nil {
		log = zap.NewNop()
	}
	log = log.Named("matcher")
	m.mu.Lock()
	if m.running {
		m.mu.Unlock()
		return errors.New("index: matcher: Run is already running")
	}
	m.running = true
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		m.running = false
		m.mu.Unlock()
		m.merges.Wait()
	}()

	fails := failLog{log: log}
	delay := retryMin
	backoff := func() bool {
		t := time.NewTimer(time.Duration(float64(delay) * (0.5 + rand.Float64())))
		defer t.Stop()
		delay = min(2*delay, retryMax)
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		}
	}
	var seq uint64
	loaded := false
	for {
		if !loaded {
			start := time.Now()
			last, read, err := m.load(ctx, s)
			switch {
			case ctx.Err() != nil:
				return nil
			case errors.Is(err, ErrClosed):
				return fmt.Errorf("index: matcher: load: %w", err)
			case err != nil:
				fails.failed("load", err)
				if !backoff() {
					return nil
				}
				continue
			}
			fails.recovered()
			delay, seq, loaded = retryMin, last, true
			st := m.Stats()
			log.Info("matcher loaded", zap.Int("works", st.Works), zap.Int("views", st.Views),
				zap.Int64("bytes", st.Bytes), zap.Uint64("seq", last), zap.Duration("read", read),
				zap.Duration("took", time.Since(start)))
			m.readyOnce.Do(func() { close(m.ready) })
		}
		cs, err := s.WaitChanges(ctx, seq, MaxPageSize)
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, ErrClosed):
			return fmt.Errorf("index: matcher: wait changes: %w", err)
		case errors.Is(err, ErrFeedGap):
			log.Warn("matcher fell behind the change feed; loading again", zap.Uint64("seq", seq), zap.Error(err))
			loaded = false
			continue
		case err != nil:
			fails.failed("wait changes", err)
			if !backoff() {
				return nil
			}
			continue
		}
		fails.recovered()
		delay = retryMin
		if len(cs) > 0 {
			m.applyBatch(cs)
			seq = cs[len(cs)-1].Seq
		}
	}
}

// loadBatchSize is how many entries load hands to its builder at a time.
const loadBatchSize = 512

// load reads every work of the store into a new state, builds its base segment and installs
// it, and returns the last Seq the load reflects and how long reading the store took. A
// goroutine builds the state while the store reads and decodes the next works.
func (m *Matcher) load(ctx context.Context, s Store) (uint64, time.Duration, error) {
	start := time.Now()
	st := newState()
	base := newSegment()
	batches := make(chan []MatchEntry, 4)
	built := make(chan struct{})
	go func() {
		defer close(built)
		prev := ""
		for batch := range batches {
			for _, e := range batch {
				if e.ID == prev { // stores list works in id order, each once; if not, the last wins
					st.remove(e.ID)
				}
				prev = e.ID
				if matchable(e) {
					st.loadEntry(base, e)
				}
			}
		}
	}()
	batch := make([]MatchEntry, 0, loadBatchSize)
	last, err := s.LoadWorks(ctx, func(e MatchEntry) error {
		batch = append(batch, e)
		if len(batch) == loadBatchSize {
			batches <- batch
			batch = make([]MatchEntry, 0, loadBatchSize)
		}
		return nil
	})
	batches <- batch
	close(batches)
	<-built
	if err != nil {
		return 0, 0, err
	}
	read := time.Since(start)
	base.trim()
	m.mu.Lock()
	cfg := m.cfg
	m.mu.Unlock()
	base.index(planningRadius(), cfg, st.vgroups)
	m.mu.Lock()
	defer m.mu.Unlock()
	st.base = base
	m.st = st
	m.settleLocked()
	m.seq.Store(last)
	return last, read, nil
}

// failLog logs store failures without flooding: the first one, then at most one line every
// errLogEvery, and the recovery.
type failLog struct {
	log     *zap.Logger
	count   int
	lastLog time.Time
}

func (f *failLog) failed(step string, err error) {
	f.count++
	if f.count == 1 || time.Since(f.lastLog) >= errLogEvery {
		f.log.Warn("matcher store failed; retrying", zap.String("step", step), zap.Int("failures", f.count), zap.Error(err))
		f.lastLog = time.Now()
	}
}

func (f *failLog) recovered() {
	if f.count > 0 {
		f.log.Info("matcher store recovered", zap.Int("failures", f.count))
		f.count = 0
	}
}
