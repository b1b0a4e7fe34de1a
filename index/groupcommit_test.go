package index

import (
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// gatedDB is a bolt database whose Update is counted and can be held at its start.
type gatedDB struct {
	db      *bolt.DB
	updates atomic.Int32
	gate    chan struct{} // when set, the first Update waits for it to close
	entered chan struct{} // closed when the first Update starts
	once    sync.Once
}

func newGatedDB(t *testing.T) *gatedDB {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "g.db"), 0o600, &bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &gatedDB{db: db, entered: make(chan struct{})}
}

func (g *gatedDB) update(fn func(*bolt.Tx) error) error {
	g.updates.Add(1)
	g.once.Do(func() {
		close(g.entered)
		if g.gate != nil {
			<-g.gate
		}
	})
	return g.db.Update(fn)
}

// put returns a write of key=val into bucket "b", failing with err when err is set.
func put(key string, err error) func(*bolt.Tx) error {
	return func(tx *bolt.Tx) error {
		b, e := tx.CreateBucketIfNotExists([]byte("b"))
		if e != nil {
			return e
		}
		if e := b.Put([]byte(key), []byte("v")); e != nil {
			return e
		}
		return err
	}
}

func (g *gatedDB) keys(t *testing.T) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	_ = g.db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket([]byte("b")); b != nil {
			return b.ForEach(func(k, _ []byte) error { out[string(k)] = true; return nil })
		}
		return nil
	})
	return out
}

// TestGroupCommitAloneCommitsAtOnce: writes one after another each commit on their own.
func TestGroupCommitAloneCommitsAtOnce(t *testing.T) {
	g := newGatedDB(t)
	gc := &groupCommit{update: g.update}
	for i := range 5 {
		if err := gc.run(put(fmt.Sprint(i), nil)); err != nil {
			t.Fatal(err)
		}
	}
	if n := g.updates.Load(); n != 5 {
		t.Errorf("%d commits for 5 writes in turn, want 5", n)
	}
	if len(g.keys(t)) != 5 {
		t.Errorf("stored %v", g.keys(t))
	}
}

// TestGroupCommitShares: the writes that arrive while a commit runs share the next commit;
// one that fails there fails alone, and the others commit again each on its own.
func TestGroupCommitShares(t *testing.T) {
	errBad := errors.New("bad write")
	for _, c := range []struct {
		name    string
		failing int // the write that fails, 0 for none
		commits int32
	}{
		{"all good", 0, 1 + 1},      // the first write, then the eight queued together
		{"one fails", 4, 1 + 1 + 8}, // the first, the shared one that failed, the eight alone
	} {
		t.Run(c.name, func(t *testing.T) {
			g := newGatedDB(t)
			g.gate = make(chan struct{})
			gc := &groupCommit{update: g.update}
			var wg sync.WaitGroup
			errs := make([]error, 9)
			wg.Go(func() { errs[0] = gc.run(put("first", nil)) })
			<-g.entered // the first commit runs (held); the rest queue behind it
			for i := 1; i < 9; i++ {
				var fail error
				if i == c.failing {
					fail = errBad
				}
				wg.Go(func() { errs[i] = gc.run(put(fmt.Sprint(i), fail)) })
			}
			for {
				gc.mu.Lock()
				n := len(gc.queue)
				gc.mu.Unlock()
				if n == 8 {
					break
				}
				runtime.Gosched()
			}
			close(g.gate)
			wg.Wait()
			for i, err := range errs {
				var want error
				if i == c.failing && i != 0 {
					want = errBad
				}
				if !errors.Is(err, want) || (want == nil && err != nil) {
					t.Errorf("write %d: %v, want %v", i, err, want)
				}
			}
			if n := g.updates.Load(); n != c.commits {
				t.Errorf("%d commits, want %d", n, c.commits)
			}
			keys := g.keys(t)
			wantKeys := 9
			if c.failing != 0 {
				wantKeys = 8
			}
			if keys[fmt.Sprint(c.failing)] || len(keys) != wantKeys {
				t.Errorf("stored %v: want every write but a failed one", keys)
			}
			// The goroutine that committed the last batch marks the committer idle just after
			// its writers return.
			for deadline := time.Now().Add(5 * time.Second); ; runtime.Gosched() {
				gc.mu.Lock()
				busy, queued := gc.busy, len(gc.queue)
				gc.mu.Unlock()
				if !busy && queued == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("committer left busy=%v with %d queued", busy, queued)
				}
			}
		})
	}
}

// TestGroupCommitPanic: a write that panics fails with an error, and the committer goes on.
func TestGroupCommitPanic(t *testing.T) {
	g := newGatedDB(t)
	gc := &groupCommit{update: g.update}
	err := gc.run(func(*bolt.Tx) error { panic("damaged page") })
	if err == nil || !strings.Contains(err.Error(), "damaged page") {
		t.Fatalf("panicking write: %v, want an error naming the panic", err)
	}
	if err := gc.run(put("after", nil)); err != nil || !g.keys(t)["after"] {
		t.Fatalf("write after the panic: %v, stored %v", err, g.keys(t))
	}
}
