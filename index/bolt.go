package index

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// BoltOptions configure OpenBolt. The zero value of a field means its default.
type BoltOptions struct {
	// LockTimeout is how long OpenBolt waits for another process to release the file
	// before failing with ErrLocked. Default 1s.
	LockTimeout time.Duration
	// NoSync skips the fsync after each commit: much faster writes, but a machine crash (not
	// a process crash) may lose the latest writes or damage the file. For tests,
	// benchmarks and throwaway stores. Default false.
	NoSync bool
	// FileMode is the permission of a newly created file. Default 0600.
	FileMode os.FileMode
	// BatchDelay sets how verdict and upload-log writes share commits and their fsyncs.
	// Zero, the default, is a group commit: a write commits at once when no commit is
	// running, and the writes that arrive while one runs share the next, so workers writing
	// at once pay for one fsync together and a lone write waits for nothing. Positive: each
	// write waits up to that long for company (bbolt's Batch), which adds the delay to every
	// write at low load. Negative: every write commits alone.
	BatchDelay time.Duration
}

// DefaultBoltOptions returns the defaults of BoltOptions.
func DefaultBoltOptions() BoltOptions {
	return BoltOptions{LockTimeout: time.Second, FileMode: 0o600}
}

// Validate checks the options; messages name the setting.
func (o BoltOptions) Validate() error {
	if o.LockTimeout < 0 {
		return fmt.Errorf("index: bolt: LockTimeout %v must not be negative", o.LockTimeout)
	}
	if o.FileMode&^os.ModePerm != 0 {
		return fmt.Errorf("index: bolt: FileMode %v must hold permission bits only", o.FileMode)
	}
	return nil
}

func (o BoltOptions) withDefaults() BoltOptions {
	d := DefaultBoltOptions()
	if o.LockTimeout == 0 {
		o.LockTimeout = d.LockTimeout
	}
	if o.FileMode == 0 {
		o.FileMode = d.FileMode
	}
	return o
}

// Bucket names of the embedded store.
var (
	bucketMeta       = []byte("meta")        // "version" -> boltVersion
	bucketWorks      = []byte("works")       // id -> workRecord JSON (metadata)
	bucketEntries    = []byte("entries")     // id -> binary matcher entry: creator, disabled, fingerprint
	bucketThumbs     = []byte("thumbs")      // id -> JPEG bytes
	bucketBySHA      = []byte("by_sha")      // sha256 hex -> id
	bucketByCreator  = []byte("by_creator")  // creator \x00 id -> nil
	bucketChanges    = []byte("changes")     // big-endian seq -> changeRecord JSON; its sequence is the last seq
	bucketDisputes   = []byte("disputes")    // big-endian seq -> Dispute JSON
	bucketDisputeIDs = []byte("dispute_ids") // dispute id -> big-endian seq
	boltBuckets      = [][]byte{bucketMeta, bucketWorks, bucketEntries, bucketThumbs, bucketBySHA, bucketByCreator, bucketChanges, bucketDisputes, bucketDisputeIDs}
)

// boltVersion is the layout version kept in the meta bucket.
const boltVersion = "1"

// loadBatch is how many works LoadWorks reads in one transaction, and Redis in one round trip.
const loadBatch = 1000

// BoltStore is the embedded Store: one bbolt file, for one process on one machine. A write
// and its change commit in one transaction; each commit is fsynced unless
// BoltOptions.NoSync. Its methods are safe for concurrent use; writes are serialised.
type BoltStore struct {
	db   *bolt.DB
	path string

	mu     sync.Mutex
	notify chan struct{} // closed, and replaced, when a change commits

	group *groupCommit // nil unless BoltOptions.BatchDelay is zero

	closeOnce sync.Once
	closed    chan struct{}
}

// OpenBolt opens (creating if needed) the embedded store at path. The directory must exist.
// If another process has the file open, OpenBolt fails after opts.LockTimeout with an error
// wrapping ErrLocked.
func OpenBolt(path string, opts BoltOptions) (*BoltStore, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	db, err := bolt.Open(path, opts.FileMode, &bolt.Options{
		Timeout:      opts.LockTimeout,
		NoSync:       opts.NoSync,
		FreelistType: bolt.FreelistMapType,
	})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("index: bolt %s: open: %w (waited %v)", path, ErrLocked, opts.LockTimeout)
	}
	if err != nil {
		return nil, fmt.Errorf("index: bolt %s: open: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range boltBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		switch v := meta.Get([]byte("version")); {
		case v == nil:
			return meta.Put([]byte("version"), []byte(boltVersion))
		case string(v) != boltVersion:
			return fmt.Errorf("layout version %s, want %s", v, boltVersion)
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("index: bolt %s: open: %w", path, err)
	}
	db.MaxBatchDelay = max(opts.BatchDelay, 0)
	s := &BoltStore{db: db, path: path, notify: make(chan struct{}), closed: make(chan struct{})}
	if opts.BatchDelay == 0 {
		s.group = &groupCommit{update: db.Update}
	}
	return s, nil
}

// batched runs fn in a write transaction that concurrent batched calls may share (see
// BoltOptions.BatchDelay: a group commit, bbolt's Batch, or none). fn may run more than
// once, so it must set what it reports afresh on each run.
func (s *BoltStore) batched(fn func(*bolt.Tx) error) error {
	switch {
	case s.db.MaxBatchDelay > 0:
		return s.db.Batch(fn)
	case s.group != nil:
		return s.group.run(fn)
	default:
		return s.db.Update(fn)
	}
}

// Path returns the file the store was opened at.
func (s *BoltStore) Path() string { return s.path }

// fail wraps an error with the store and the step.
func (s *BoltStore) fail(step string, err error) error {
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		err = ErrClosed
	}
	return fmt.Errorf("index: bolt %s: %s: %w", s.path, step, err)
}

// begin checks the context and that the store is open before a call.
func (s *BoltStore) begin(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case <-s.closed:
		return ErrClosed
	default:
		return nil
	}
}

// changed wakes every WaitChanges.
func (s *BoltStore) changed() {
	s.mu.Lock()
	close(s.notify)
	s.notify = make(chan struct{})
	s.mu.Unlock()
}

func (s *BoltStore) waiter() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.notify
}

func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

func creatorKey(creator, id string) []byte {
	k := make([]byte, 0, len(creator)+1+len(id))
	return append(append(append(k, creator...), 0), id...)
}

// appendChange adds a change to the feed under the next seq.
func appendChange(tx *bolt.Tx, r changeRecord) (uint64, error) {
	b := tx.Bucket(bucketChanges)
	seq, err := b.NextSequence()
	if err != nil {
		return 0, err
	}
	v, err := json.Marshal(r)
	if err != nil {
		return 0, err
	}
	return seq, b.Put(seqKey(seq), v)
}

// getWork reads a work, nil if there is none; thumb includes its thumbnail.
func getWork(tx *bolt.Tx, id string, thumb bool) (*Work, error) {
	v := tx.Bucket(bucketWorks).Get([]byte(id))
	if v == nil {
		return nil, nil
	}
	r, err := decodeWorkRecord(v)
	if err != nil {
		return nil, fmt.Errorf("work %s: %w", id, err)
	}
	e, err := getEntry(tx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("corrupt store: work %s has no matcher entry", id)
	}
	if err != nil {
		return nil, err
	}
	w, err := r.work(e.fp, e.disabled)
	if err != nil {
		return nil, err
	}
	if thumb {
		if t := tx.Bucket(bucketThumbs).Get([]byte(id)); len(t) > 0 {
			w.Thumbnail = bytes.Clone(t)
		}
	}
	return w, nil
}

// getEntry reads the matcher entry of a work, ErrNotFound if there is none.
func getEntry(tx *bolt.Tx, id string) (entry, error) {
	v := tx.Bucket(bucketEntries).Get([]byte(id))
	if v == nil {
		return entry{}, ErrNotFound
	}
	e, err := decodeEntry(v)
	if err != nil {
		return entry{}, fmt.Errorf("work %s: %w", id, err)
	}
	return e, nil
}

// CreateWork implements Store.
func (s *BoltStore) CreateWork(ctx context.Context, w *Work) (*Work, error) {
	if err := s.begin(ctx); err != nil {
		return nil, s.fail("create work", err)
	}
	nw, err := prepareWork(w)
	if err != nil {
		return nil, s.fail("create work", err)
	}
	rec, err := json.Marshal(recordOf(nw))
	if err != nil {
		return nil, s.fail("create work", err)
	}
	var existing *Work
	var why string
	err = s.db.Update(func(tx *bolt.Tx) error {
		var id []byte
		if id = tx.Bucket(bucketBySHA).Get([]byte(nw.SHA256)); id != nil {
			why = "sha256 " + nw.SHA256 + " is registered as work " + string(id)
		} else if tx.Bucket(bucketWorks).Get([]byte(nw.ID)) != nil {
			id, why = []byte(nw.ID), "id "+nw.ID+" is taken"
		}
		if id != nil {
			var err error
			existing, err = getWork(tx, string(id), true)
			if err == nil && existing == nil {
				err = fmt.Errorf("corrupt index: %s, but the work is missing", why)
			}
			return err
		}
		if _, err := appendChange(tx, changeRecord{
			Op: OpPut, WorkID: nw.ID, CreatorID: nw.CreatorID, Disabled: nw.Disabled,
			Fingerprint: fingerprintBytes(nw.Fingerprint), At: storeTime(time.Time{}),
		}); err != nil {
			return err
		}
		if err := tx.Bucket(bucketWorks).Put([]byte(nw.ID), rec); err != nil {
			return err
		}
		if err := tx.Bucket(bucketEntries).Put([]byte(nw.ID), appendEntry(nil, nw.CreatorID, nw.Disabled, fingerprintBytes(nw.Fingerprint))); err != nil {
			return err
		}
		if len(nw.Thumbnail) > 0 {
			if err := tx.Bucket(bucketThumbs).Put([]byte(nw.ID), nw.Thumbnail); err != nil {
				return err
			}
		}
		if err := tx.Bucket(bucketBySHA).Put([]byte(nw.SHA256), []byte(nw.ID)); err != nil {
			return err
		}
		return tx.Bucket(bucketByCreator).Put(creatorKey(nw.CreatorID, nw.ID), nil)
	})
	switch {
	case err != nil:
		return nil, s.fail("create work", err)
	case existing == nil:
		s.changed()
		return nw, nil
	case existing.ID == nw.ID && existing.SHA256 == nw.SHA256:
		return existing, nil // a replay of this create
	}
	return existing, s.fail("create work", fmt.Errorf("%w: %s", ErrExists, why))
}

// GetWork implements Store.
func (s *BoltStore) GetWork(ctx context.Context, id string) (*Work, error) {
	if err := s.begin(ctx); err != nil {
		return nil, s.fail("get work "+id, err)
	}
	var w *Work
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		w, err = getWork(tx, id, true)
		return err
	})
	if err == nil && w == nil {
		err = ErrNotFound
	}
	if err != nil {
		return nil, s.fail("get work "+id, err)
	}
	return w, nil
}

// WorkBySHA256 implements Store.
func (s *BoltStore) WorkBySHA256(ctx context.Context, sha string) (*Work, error) {
	step := "work by sha256 " + sha
	if err := s.begin(ctx); err != nil {
		return nil, s.fail(step, err)
	}
	if !validSHA256(sha) {
		return nil, s.fail(step, fmt.Errorf("%w: want 64 lowercase hex digits", ErrInvalid))
	}
	var w *Work
	err := s.db.View(func(tx *bolt.Tx) error {
		id := tx.Bucket(bucketBySHA).Get([]byte(sha))
		if id == nil {
			return nil
		}
		var err error
		w, err = getWork(tx, string(id), true)
		return err
	})
	if err == nil && w == nil {
		err = ErrNotFound
	}
	if err != nil {
		return nil, s.fail(step, err)
	}
	return w, nil
}

// ListWorks implements Store.
func (s *BoltStore) ListWorks(ctx context.Context, opt ListOptions) ([]*Work, string, error) {
	if err := s.begin(ctx); err != nil {
		return nil, "", s.fail("list works", err)
	}
	limit := pageSize(opt.Limit)
	var works []*Work
	more := false
	err := s.db.View(func(tx *bolt.Tx) error {
		var prefix []byte // of keys in the bucket iterated; ids follow it
		var c *bolt.Cursor
		if opt.CreatorID == "" {
			c = tx.Bucket(bucketWorks).Cursor()
		} else {
			prefix = creatorKey(opt.CreatorID, "")
			c = tx.Bucket(bucketByCreator).Cursor()
		}
		start := append(bytes.Clone(prefix), opt.After...)
		k, _ := c.Seek(start)
		if opt.After != "" && bytes.Equal(k, start) {
			k, _ = c.Next()
		}
		for ; k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			if len(works) == limit {
				more = true
				break
			}
			w, err := getWork(tx, string(k[len(prefix):]), false)
			if err != nil {
				return err
			}
			if w == nil {
				return fmt.Errorf("corrupt index: creator entry %q without a work", k)
			}
			works = append(works, w)
		}
		return nil
	})
	if err != nil {
		return nil, "", s.fail("list works", err)
	}
	next := ""
	if more {
		next = works[len(works)-1].ID
	}
	return works, next, nil
}

// SetDisabled implements Store.
func (s *BoltStore) SetDisabled(ctx context.Context, id string, disabled bool) error {
	step := "enable work " + id
	if disabled {
		step = "disable work " + id
	}
	if err := s.begin(ctx); err != nil {
		return s.fail(step, err)
	}
	changed := false
	err := s.db.Update(func(tx *bolt.Tx) error {
		e, err := getEntry(tx, id)
		if err != nil {
			return err
		}
		if e.disabled == disabled {
			return nil
		}
		b := tx.Bucket(bucketEntries)
		if err := b.Put([]byte(id), setEntryDisabled(b.Get([]byte(id)), disabled)); err != nil {
			return err
		}
		c := changeRecord{Op: OpDisable, WorkID: id, CreatorID: e.creator, Disabled: true, At: storeTime(time.Time{})}
		if !disabled {
			c.Op, c.Disabled, c.Fingerprint = OpEnable, false, e.fp
		}
		_, err = appendChange(tx, c)
		changed = err == nil
		return err
	})
	if err != nil {
		return s.fail(step, err)
	}
	if changed {
		s.changed()
	}
	return nil
}

// DeleteWork implements Store.
func (s *BoltStore) DeleteWork(ctx context.Context, id string) error {
	step := "delete work " + id
	if err := s.begin(ctx); err != nil {
		return s.fail(step, err)
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		w, err := getWork(tx, id, false)
		if err != nil {
			return err
		}
		if w == nil {
			return ErrNotFound
		}
		for _, del := range []struct {
			bucket []byte
			key    []byte
		}{
			{bucketWorks, []byte(id)},
			{bucketEntries, []byte(id)},
			{bucketThumbs, []byte(id)},
			{bucketBySHA, []byte(w.SHA256)},
			{bucketByCreator, creatorKey(w.CreatorID, id)},
		} {
			if err := tx.Bucket(del.bucket).Delete(del.key); err != nil {
				return err
			}
		}
		_, err = appendChange(tx, changeRecord{Op: OpDelete, WorkID: id, CreatorID: w.CreatorID, At: storeTime(time.Time{})})
		return err
	})
	if err != nil {
		return s.fail(step, err)
	}
	s.changed()
	return nil
}

// Changes implements Store.
func (s *BoltStore) Changes(ctx context.Context, after uint64, limit int) ([]Change, error) {
	if err := s.begin(ctx); err != nil {
		return nil, s.fail("changes", err)
	}
	limit = pageSize(limit)
	var out []Change
	err := s.db.View(func(tx *bolt.Tx) error {
		if after == ^uint64(0) {
			return nil
		}
		c := tx.Bucket(bucketChanges).Cursor()
		for k, v := c.Seek(seqKey(after + 1)); k != nil && len(out) < limit; k, v = c.Next() {
			var r changeRecord
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("decode change: %w", err)
			}
			ch, err := r.change(binary.BigEndian.Uint64(k))
			if err != nil {
				return err
			}
			out = append(out, ch)
		}
		return nil
	})
	if err != nil {
		return nil, s.fail("changes", err)
	}
	return out, nil
}

// WaitChanges implements Store. It waits on an in-process notification, so it wakes as soon
// as a write of this BoltStore commits.
func (s *BoltStore) WaitChanges(ctx context.Context, after uint64, limit int) ([]Change, error) {
	for {
		wake := s.waiter() // before reading, so a commit in between is not missed
		out, err := s.Changes(ctx, after, limit)
		if err != nil || len(out) > 0 {
			return out, err
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return nil, s.fail("wait changes", ctx.Err())
		case <-s.closed:
			return nil, s.fail("wait changes", ErrClosed)
		}
	}
}

// LoadWorks implements Store. It reads the works 1000 at a time, each batch in its own read
// transaction, and calls fn between transactions.
func (s *BoltStore) LoadWorks(ctx context.Context, fn func(MatchEntry) error) (uint64, error) {
	var lastSeq uint64
	var after []byte
	first := true
	for {
		if err := s.begin(ctx); err != nil {
			return 0, s.fail("load works", err)
		}
		batch := make([]MatchEntry, 0, loadBatch)
		err := s.db.View(func(tx *bolt.Tx) error {
			if first {
				lastSeq = tx.Bucket(bucketChanges).Sequence()
			}
			c := tx.Bucket(bucketEntries).Cursor()
			k, v := c.First()
			if !first {
				k, v = c.Seek(after)
				if bytes.Equal(k, after) {
					k, v = c.Next()
				}
			}
			for ; k != nil && len(batch) < loadBatch; k, v = c.Next() {
				e, err := decodeEntry(v)
				if err != nil {
					return fmt.Errorf("work %s: %w", k, err)
				}
				fp, err := decodeFingerprint(e.fp)
				if err != nil {
					return fmt.Errorf("work %s: %w", k, err)
				}
				batch = append(batch, MatchEntry{ID: string(k), CreatorID: e.creator, Disabled: e.disabled, Fingerprint: fp})
			}
			if len(batch) > 0 {
				after = []byte(batch[len(batch)-1].ID)
			}
			return nil
		})
		if err != nil {
			return 0, s.fail("load works", err)
		}
		first = false
		for _, e := range batch {
			if err := fn(e); err != nil {
				return 0, err
			}
		}
		if len(batch) < loadBatch {
			return lastSeq, nil
		}
	}
}

// CreateDispute implements Store.
func (s *BoltStore) CreateDispute(ctx context.Context, d *Dispute) error {
	if err := s.begin(ctx); err != nil {
		return s.fail("create dispute", err)
	}
	if err := prepareDispute(d); err != nil {
		return s.fail("create dispute", err)
	}
	v, err := json.Marshal(d)
	if err != nil {
		return s.fail("create dispute", err)
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		ids := tx.Bucket(bucketDisputeIDs)
		if ids.Get([]byte(d.ID)) != nil {
			return fmt.Errorf("%w: dispute %s", ErrExists, d.ID)
		}
		b := tx.Bucket(bucketDisputes)
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		if err := b.Put(seqKey(seq), v); err != nil {
			return err
		}
		return ids.Put([]byte(d.ID), seqKey(seq))
	})
	if err != nil {
		return s.fail("create dispute", err)
	}
	return nil
}

// parseCursor parses a dispute cursor: "" or a decimal sequence number.
func parseCursor(after string) (uint64, error) {
	if after == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(after, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: cursor %q", ErrInvalid, after)
	}
	return n, nil
}

// ListDisputes implements Store.
func (s *BoltStore) ListDisputes(ctx context.Context, after string, limit int) ([]*Dispute, string, error) {
	if err := s.begin(ctx); err != nil {
		return nil, "", s.fail("list disputes", err)
	}
	from, err := parseCursor(after)
	if err != nil {
		return nil, "", s.fail("list disputes", err)
	}
	limit = pageSize(limit)
	var out []*Dispute
	next := ""
	err = s.db.View(func(tx *bolt.Tx) error {
		if from == ^uint64(0) {
			return nil
		}
		c := tx.Bucket(bucketDisputes).Cursor()
		var last []byte
		for k, v := c.Seek(seqKey(from + 1)); k != nil; k, v = c.Next() {
			if len(out) == limit {
				next = strconv.FormatUint(binary.BigEndian.Uint64(last), 10)
				break
			}
			d := new(Dispute)
			if err := json.Unmarshal(v, d); err != nil {
				return fmt.Errorf("decode dispute: %w", err)
			}
			out = append(out, d)
			last = k
		}
		return nil
	})
	if err != nil {
		return nil, "", s.fail("list disputes", err)
	}
	return out, next, nil
}

// Ping implements Store.
func (s *BoltStore) Ping(ctx context.Context) error {
	if err := s.begin(ctx); err != nil {
		return s.fail("ping", err)
	}
	if err := s.db.View(func(*bolt.Tx) error { return nil }); err != nil {
		return s.fail("ping", err)
	}
	return nil
}

// Close closes the file, after transactions in progress finish. Blocked WaitChanges calls
// return an error wrapping ErrClosed.
func (s *BoltStore) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.closed)
		if cerr := s.db.Close(); cerr != nil {
			err = fmt.Errorf("index: bolt %s: close: %w", s.path, cerr)
		}
	})
	return err
}

// DB returns the bbolt database, for stores that keep their own buckets in the same file
// (review.NewBoltStore). They must not use the buckets this store names, and must not close
// it.
func (s *BoltStore) DB() *bolt.DB { return s.db }
