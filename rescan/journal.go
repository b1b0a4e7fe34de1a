package rescan

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// ErrBusy means another process holds the state directory: a rescan of the same source is
// running.
var ErrBusy = errors.New("another rescan of this source is running")

// JournalName is the journal's file name in its state directory.
const JournalName = "journal.jsonl"

// journalSyncEvery is how often appends are synced to disk: a power loss loses at most this
// much; a killed process loses nothing it wrote.
const journalSyncEvery = time.Second

// Journal is the record of a rescan's finished items: a JSONL file (JournalName) in a state
// directory, one Result a line, appended as items finish. Each line is written with a single
// write(2) on a file opened for appending, so a killed process leaves every finished line
// whole, and at most its last line torn by a crash of the machine. The last line for a key
// (tenant and id) wins.
//
// OpenJournal locks the directory, so two processes never share a journal. Its methods are
// safe for concurrent use.
type Journal struct {
	dir    string
	unlock func()

	mu      sync.Mutex
	f       *os.File
	done    map[string]Result
	ignored int
	synced  time.Time
}

// OpenJournal opens (creating it when needed) the journal in the state directory dir and
// loads it. A last line without its newline (torn by a crash) is cut off; any other line
// that is not a Result is ignored and counted (Ignored). It fails with ErrBusy when another
// process has the directory open.
func OpenJournal(dir string) (*Journal, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("rescan: state dir: %w", err)
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, JournalName), os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		unlock()
		return nil, fmt.Errorf("rescan: journal: %w", err)
	}
	j := &Journal{dir: dir, f: f, unlock: unlock, done: map[string]Result{}, synced: time.Now()}
	if err := j.load(); err != nil {
		j.Close()
		return nil, err
	}
	return j, nil
}

// load reads the journal and cuts off a torn last line.
func (j *Journal) load() error {
	r := bufio.NewReaderSize(j.f, 64<<10)
	var whole int64 // bytes up to the end of the last complete line
	for {
		line, err := r.ReadBytes('\n')
		if err == io.EOF {
			if len(line) > 0 { // torn: written without its end
				if err := j.f.Truncate(whole); err != nil {
					return fmt.Errorf("rescan: journal: cut torn line: %w", err)
				}
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("rescan: journal: %w", err)
		}
		whole += int64(len(line))
		var res Result
		if json.Unmarshal(line, &res) != nil || res.Status == "" {
			j.ignored++
			continue
		}
		res.Source, res.At = "", time.Time{} // not needed again; saves memory
		j.done[res.key()] = res
	}
}

// Dir returns the state directory.
func (j *Journal) Dir() string { return j.dir }

// Len returns how many items the journal holds.
func (j *Journal) Len() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.done)
}

// Ignored returns how many lines the journal held that were not results (and were
// ignored), the torn last line not counted.
func (j *Journal) Ignored() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.ignored
}

// Lookup returns the last result recorded for the tenant's id; for a manifest line without
// an id (a bad line), pass id "" and its line number.
func (j *Journal) Lookup(tenant, id string, line int) (Result, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	r, ok := j.done[itemKey(tenant, id, line)]
	return r, ok
}

// Append records a finished item with one write.
func (j *Journal) Append(r Result) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("rescan: journal: %w", err)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, err := j.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("rescan: journal: %w", err)
	}
	r.Source, r.At = "", time.Time{}
	j.done[r.key()] = r
	if time.Since(j.synced) >= journalSyncEvery {
		j.synced = time.Now()
		if err := j.f.Sync(); err != nil {
			return fmt.Errorf("rescan: journal: sync: %w", err)
		}
	}
	return nil
}

// Reset forgets every item: the journal is emptied, so the next run redoes everything.
func (j *Journal) Reset() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := j.f.Truncate(0); err != nil {
		return fmt.Errorf("rescan: journal: reset: %w", err)
	}
	clear(j.done)
	j.ignored = 0
	return nil
}

// Close syncs and closes the journal and unlocks its directory.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	err := j.f.Sync()
	if cerr := j.f.Close(); err == nil {
		err = cerr
	}
	j.unlock()
	if err != nil {
		return fmt.Errorf("rescan: journal: %w", err)
	}
	return nil
}
