package review

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Bolt layout (buckets in the registry's file):
//
//	review_cases      id -> Case JSON (thumbnail included)
//	review_queue      state \x00 queueKey -> encoded Summary
//	review_suppress   work id \x00 case id -> suppressEntry JSON
//	review_counts     counter name -> int64, big-endian
//	review_events     big-endian sequence -> Event JSON
//	review_event_ids  event id -> big-endian sequence
//	review_users      name -> User JSON
//	review_meta       "session_key" -> 32 bytes
var (
	bktCases    = []byte("review_cases")
	bktQueue    = []byte("review_queue")
	bktSuppress = []byte("review_suppress")
	bktCounts   = []byte("review_counts")
	bktEvents   = []byte("review_events")
	bktEventIDs = []byte("review_event_ids")
	bktUsers    = []byte("review_users")
	bktMeta     = []byte("review_meta")
	allBuckets  = [][]byte{bktCases, bktQueue, bktSuppress, bktCounts, bktEvents, bktEventIDs, bktUsers, bktMeta}
)

// BoltStore is the embedded Store, in the buckets of a bbolt file that the registry's
// index.BoltStore opened (index.BoltStore.DB). Every write is one transaction.
type BoltStore struct {
	db  *bolt.DB
	now func() time.Time
}

// NewBoltStore returns the case store in db, creating its buckets. The caller keeps
// ownership of db.
func NewBoltStore(db *bolt.DB) (*BoltStore, error) {
	err := db.Update(func(tx *bolt.Tx) error {
		for _, b := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("review: bolt: %w", err)
	}
	return &BoltStore{db: db, now: time.Now}, nil
}

func (s *BoltStore) fail(step string, err error) error {
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		err = ErrClosed
	}
	return fmt.Errorf("review: bolt: %s: %w", step, err)
}

func queueEntryKey(state State, s *Summary) []byte {
	return []byte(string(state) + "\x00" + queueKey(s))
}

func addCounter(b *bolt.Bucket, name string, delta int64) error {
	var v int64
	if old := b.Get([]byte(name)); len(old) == 8 {
		v = int64(binary.BigEndian.Uint64(old))
	}
	v += delta
	if v == 0 {
		return b.Delete([]byte(name))
	}
	return b.Put([]byte(name), binary.BigEndian.AppendUint64(nil, uint64(v)))
}

// CreateCase implements Store.
func (s *BoltStore) CreateCase(ctx context.Context, c *Case) (*Case, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, s.fail("create case", err)
	}
	n, err := newCase(c, s.now())
	if err != nil {
		return nil, false, s.fail("create case", err)
	}
	doc, err := json.Marshal(n)
	if err != nil {
		return nil, false, s.fail("create case", err)
	}
	var existing []byte
	err = s.db.Update(func(tx *bolt.Tx) error {
		cases := tx.Bucket(bktCases)
		if v := cases.Get([]byte(n.ID)); v != nil {
			existing = bytes.Clone(v)
			return nil
		}
		if err := cases.Put([]byte(n.ID), doc); err != nil {
			return err
		}
		sum := Summarize(n)
		if err := tx.Bucket(bktQueue).Put(queueEntryKey(Open, &sum), encodeSummary(&sum)); err != nil {
			return err
		}
		for _, name := range createCounters(n) {
			if err := addCounter(tx.Bucket(bktCounts), name, 1); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, false, s.fail("create case", err)
	}
	if existing != nil {
		old, err := decodeCase(existing)
		if err != nil {
			return nil, false, s.fail("create case", err)
		}
		return old, false, nil
	}
	return n, true, nil
}

// newCase validates c and returns the copy to store: Open, version 1, times set.
func newCase(c *Case, now time.Time) (*Case, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	n := *c
	if n.CreatedAt.IsZero() {
		n.CreatedAt = now
	}
	n.CreatedAt = storeTime(n.CreatedAt)
	n.UpdatedAt = n.CreatedAt
	n.State, n.Version, n.History = Open, 1, nil
	return &n, nil
}

func decodeCase(b []byte) (*Case, error) {
	var c Case
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("decode case: %w", err)
	}
	return &c, nil
}

// GetCase implements Store.
func (s *BoltStore) GetCase(ctx context.Context, id string) (*Case, error) {
	if err := ctx.Err(); err != nil {
		return nil, s.fail("get case", err)
	}
	var v []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		v = bytes.Clone(tx.Bucket(bktCases).Get([]byte(id)))
		return nil
	})
	if err != nil {
		return nil, s.fail("get case", err)
	}
	if v == nil {
		return nil, s.fail("get case", fmt.Errorf("%w: case %q", ErrNotFound, id))
	}
	c, err := decodeCase(v)
	if err != nil {
		return nil, s.fail("get case", err)
	}
	return c, nil
}

// ListCases implements Store.
func (s *BoltStore) ListCases(ctx context.Context, f Filter) ([]Summary, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", s.fail("list cases", err)
	}
	state, now, limit := listDefaults(&f)
	if !state.Valid() {
		return nil, "", s.fail("list cases", fmt.Errorf("%w: state %q", ErrInvalid, state))
	}
	prefix := []byte(string(state) + "\x00")
	var page []Summary
	var next string
	err := s.db.View(func(tx *bolt.Tx) error {
		cur := tx.Bucket(bktQueue).Cursor()
		k, v := cur.Seek(append(bytes.Clone(prefix), f.After...))
		if f.After != "" && k != nil && string(k[len(prefix):]) == f.After {
			k, v = cur.Next()
		}
		for ; k != nil && bytes.HasPrefix(k, prefix); k, v = cur.Next() {
			qk := string(k[len(prefix):])
			pass, stop := timePasses(&f, qk, now)
			if stop {
				break
			}
			if !pass || !summaryPasses(&f, v) {
				continue
			}
			if len(page) == limit {
				next = page[len(page)-1].cursor
				break
			}
			sum, err := decodeSummary(v)
			if err != nil {
				return err
			}
			sum.cursor = qk
			page = append(page, sum)
		}
		return ctx.Err()
	})
	if err != nil {
		return nil, "", s.fail("list cases", err)
	}
	return page, next, nil
}

// listDefaults applies ListCases' defaults.
func listDefaults(f *Filter) (State, time.Time, int) {
	state := f.State
	if state == "" {
		state = Open
	}
	now := f.Now
	if now.IsZero() {
		now = time.Now()
	}
	return state, now, pageSize(f.Limit)
}

// Decide implements Store.
func (s *BoltStore) Decide(ctx context.Context, id string, version int64, d Decision) (*Case, error) {
	if err := ctx.Err(); err != nil {
		return nil, s.fail("decide", err)
	}
	var out *Case
	err := s.db.Update(func(tx *bolt.Tx) error {
		cases := tx.Bucket(bktCases)
		v := cases.Get([]byte(id))
		if v == nil {
			return fmt.Errorf("%w: case %q", ErrNotFound, id)
		}
		old, err := decodeCase(v)
		if err != nil {
			return err
		}
		n, ev, err := transition(old, version, d, s.now())
		if err != nil {
			return err
		}
		doc, err := json.Marshal(n)
		if err != nil {
			return err
		}
		if err := cases.Put([]byte(id), doc); err != nil {
			return err
		}
		q := tx.Bucket(bktQueue)
		oldSum, newSum := Summarize(old), Summarize(n)
		if err := q.Delete(queueEntryKey(old.State, &oldSum)); err != nil {
			return err
		}
		if err := q.Put(queueEntryKey(n.State, &newSum), encodeSummary(&newSum)); err != nil {
			return err
		}
		sup := tx.Bucket(bktSuppress)
		if works, _ := suppressions(old); works != nil {
			for _, w := range works {
				if err := sup.Delete([]byte(w + "\x00" + id)); err != nil {
					return err
				}
			}
		}
		if works, entry := suppressions(n); works != nil {
			for _, w := range works {
				if err := sup.Put([]byte(w+"\x00"+id), entry); err != nil {
					return err
				}
			}
		}
		inc, dec := decideCounters(old, n)
		for _, c := range inc {
			if err := addCounter(tx.Bucket(bktCounts), c, 1); err != nil {
				return err
			}
		}
		for _, c := range dec {
			if err := addCounter(tx.Bucket(bktCounts), c, -1); err != nil {
				return err
			}
		}
		evs := tx.Bucket(bktEvents)
		seq, err := evs.NextSequence()
		if err != nil {
			return err
		}
		evDoc, err := json.Marshal(ev)
		if err != nil {
			return err
		}
		seqKey := binary.BigEndian.AppendUint64(nil, seq)
		if err := evs.Put(seqKey, evDoc); err != nil {
			return err
		}
		if err := tx.Bucket(bktEventIDs).Put([]byte(ev.ID), seqKey); err != nil {
			return err
		}
		out = n
		return nil
	})
	if err != nil {
		return nil, s.fail("decide", err)
	}
	return out, nil
}

// Suppressions implements Store.
func (s *BoltStore) Suppressions(ctx context.Context, workIDs []string) (map[string]*Suppression, error) {
	if err := ctx.Err(); err != nil {
		return nil, s.fail("suppressions", err)
	}
	out := map[string]*Suppression{}
	err := s.db.View(func(tx *bolt.Tx) error {
		cur := tx.Bucket(bktSuppress).Cursor()
		for _, w := range workIDs {
			prefix := []byte(w + "\x00")
			for k, v := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = cur.Next() {
				sup := out[w]
				if sup == nil {
					sup = &Suppression{}
					out[w] = sup
				}
				if err := addSuppression(sup, string(k[len(prefix):]), v); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, s.fail("suppressions", err)
	}
	return out, nil
}

// Counts implements Store.
func (s *BoltStore) Counts(ctx context.Context) (*Counts, error) {
	if err := ctx.Err(); err != nil {
		return nil, s.fail("counts", err)
	}
	counters := map[string]int64{}
	var oldest time.Time
	err := s.db.View(func(tx *bolt.Tx) error {
		err := tx.Bucket(bktCounts).ForEach(func(k, v []byte) error {
			if len(v) == 8 {
				counters[string(k)] = int64(binary.BigEndian.Uint64(v))
			}
			return nil
		})
		if err != nil {
			return err
		}
		prefix := []byte(string(Open) + "\x00")
		if k, v := tx.Bucket(bktQueue).Cursor().Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) {
			sum, err := decodeSummary(v)
			if err != nil {
				return err
			}
			oldest = sum.CreatedAt
		}
		return nil
	})
	if err != nil {
		return nil, s.fail("counts", err)
	}
	c := countsFrom(counters)
	c.OldestOpen = oldest
	return c, nil
}

// PendingEvents implements Store.
func (s *BoltStore) PendingEvents(ctx context.Context, limit int) ([]Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, s.fail("pending events", err)
	}
	limit = pageSize(limit)
	var out []Event
	err := s.db.View(func(tx *bolt.Tx) error {
		cur := tx.Bucket(bktEvents).Cursor()
		for k, v := cur.First(); k != nil && len(out) < limit; k, v = cur.Next() {
			var e Event
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("decode event: %w", err)
			}
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, s.fail("pending events", err)
	}
	return out, nil
}

// AckEvent implements Store.
func (s *BoltStore) AckEvent(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return s.fail("ack event", err)
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		ids := tx.Bucket(bktEventIDs)
		seq := ids.Get([]byte(id))
		if seq == nil {
			return nil
		}
		if err := tx.Bucket(bktEvents).Delete(seq); err != nil {
			return err
		}
		return ids.Delete([]byte(id))
	})
	if err != nil {
		return s.fail("ack event", err)
	}
	return nil
}

// PutUser implements Store.
func (s *BoltStore) PutUser(ctx context.Context, u *User) error {
	if err := ctx.Err(); err != nil {
		return s.fail("put user", err)
	}
	doc, err := prepareUser(u, s.now())
	if err != nil {
		return s.fail("put user", err)
	}
	err = s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bktUsers).Put([]byte(u.Name), doc) })
	if err != nil {
		return s.fail("put user", err)
	}
	return nil
}

// prepareUser validates u and returns its stored JSON, CreatedAt filled in.
func prepareUser(u *User, now time.Time) ([]byte, error) {
	if err := u.validate(); err != nil {
		return nil, err
	}
	c := *u
	if c.CreatedAt.IsZero() {
		c.CreatedAt = now
	}
	c.CreatedAt = storeTime(c.CreatedAt)
	return json.Marshal(&c)
}

// GetUser implements Store.
func (s *BoltStore) GetUser(ctx context.Context, name string) (*User, error) {
	if err := ctx.Err(); err != nil {
		return nil, s.fail("get user", err)
	}
	var v []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		v = bytes.Clone(tx.Bucket(bktUsers).Get([]byte(name)))
		return nil
	})
	if err != nil {
		return nil, s.fail("get user", err)
	}
	if v == nil {
		return nil, s.fail("get user", fmt.Errorf("%w: user %q", ErrNotFound, name))
	}
	var u User
	if err := json.Unmarshal(v, &u); err != nil {
		return nil, s.fail("get user", err)
	}
	return &u, nil
}

// ListUsers implements Store.
func (s *BoltStore) ListUsers(ctx context.Context) ([]*User, error) {
	if err := ctx.Err(); err != nil {
		return nil, s.fail("list users", err)
	}
	var out []*User
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bktUsers).ForEach(func(_, v []byte) error {
			var u User
			if err := json.Unmarshal(v, &u); err != nil {
				return err
			}
			out = append(out, &u)
			return nil
		})
	})
	if err != nil {
		return nil, s.fail("list users", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// DeleteUser implements Store.
func (s *BoltStore) DeleteUser(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return s.fail("delete user", err)
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bktUsers)
		if b.Get([]byte(name)) == nil {
			return fmt.Errorf("%w: user %q", ErrNotFound, name)
		}
		return b.Delete([]byte(name))
	})
	if err != nil {
		return s.fail("delete user", err)
	}
	return nil
}

// SessionKey implements Store.
func (s *BoltStore) SessionKey(ctx context.Context) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, s.fail("session key", err)
	}
	var key []byte
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bktMeta)
		if v := b.Get([]byte("session_key")); len(v) == 32 {
			key = bytes.Clone(v)
			return nil
		}
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return err
		}
		return b.Put([]byte("session_key"), key)
	})
	if err != nil {
		return nil, s.fail("session key", err)
	}
	return key, nil
}
