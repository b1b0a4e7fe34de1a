package index

import (
	"fmt"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// groupCommit runs bbolt write transactions so that writes arriving while one commits share
// the next commit: an idle store commits a write at once, and a busy one commits everything
// that queued during the last fsync in one transaction. Unlike bbolt's Batch, which waits
// MaxBatchDelay for company, it never delays a write that has none.
//
// The caller that finds the committer idle commits the queue, its own write included, then
// hands on to a new goroutine when more queued meanwhile, so no caller waits for commits
// after its own.
type groupCommit struct {
	update func(func(*bolt.Tx) error) error // bolt.DB.Update; tests count and fail it

	mu    sync.Mutex
	queue []*groupCall
	busy  bool // a commit runs or is about to
}

type groupCall struct {
	fn   func(*bolt.Tx) error
	done chan error
}

// run runs fn in a write transaction, possibly shared with concurrent calls, and returns its
// error. fn may run more than once (again alone when the shared transaction fails), so it
// must set what it reports afresh on each run.
func (g *groupCommit) run(fn func(*bolt.Tx) error) error {
	c := &groupCall{fn: fn, done: make(chan error, 1)}
	g.mu.Lock()
	g.queue = append(g.queue, c)
	lead := !g.busy
	g.busy = true
	g.mu.Unlock()
	if lead {
		g.drain()
	}
	return <-c.done
}

// drain commits the queue in one transaction, then hands on to a new goroutine when more
// queued meanwhile, or marks the committer idle.
func (g *groupCommit) drain() {
	g.mu.Lock()
	batch := g.queue
	g.queue = nil
	g.mu.Unlock()
	g.commit(batch)
	g.mu.Lock()
	more := len(g.queue) > 0
	g.busy = more
	g.mu.Unlock()
	if more {
		go g.drain()
	}
}

// commit runs the calls in one transaction. When it fails, each runs again in a transaction
// of its own, so one failing write (or a failed commit) fails only the writes it must. A
// panic (bbolt panics on a damaged file) fails the writes not yet answered instead of
// leaving them, and every later write, waiting.
func (g *groupCommit) commit(batch []*groupCall) {
	answered := 0
	defer func() {
		if p := recover(); p != nil {
			for _, c := range batch[answered:] {
				c.done <- fmt.Errorf("index: bolt write panicked: %v", p)
			}
		}
	}()
	if len(batch) > 1 {
		err := g.update(func(tx *bolt.Tx) error {
			for _, c := range batch {
				if err := c.fn(tx); err != nil {
					return err
				}
			}
			return nil
		})
		if err == nil {
			for _, c := range batch {
				c.done <- nil
			}
			return
		}
	}
	for _, c := range batch {
		err := g.update(c.fn)
		answered++
		c.done <- err
	}
}
