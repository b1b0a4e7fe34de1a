package index

import (
	"context"
	"errors"
)

// Errors of every Store. Methods wrap them with the store, the step and the subject, so test
// them with errors.Is.
var (
	// ErrNotFound: no work has that id or SHA-256.
	ErrNotFound = errors.New("not found")
	// ErrExists: a work with the same SHA-256 (or id) is already registered, or a dispute
	// with the same id is already recorded.
	ErrExists = errors.New("already exists")
	// ErrInvalid: an argument failed validation (missing creator, missing or malformed
	// fingerprint, malformed SHA-256 or id, oversize thumbnail, bad cursor, ...). Nothing was
	// written.
	ErrInvalid = errors.New("invalid argument")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("store closed")
	// ErrLocked: OpenBolt could not lock the file because another process has it open.
	ErrLocked = errors.New("store is locked by another process")
)

// Page sizes of ListWorks, Changes and ListDisputes: a limit of zero or less means
// DefaultPageSize, and a larger limit than MaxPageSize is lowered to it.
const (
	DefaultPageSize = 100
	MaxPageSize     = 1000
)

// pageSize applies DefaultPageSize and MaxPageSize to a requested limit.
func pageSize(limit int) int {
	switch {
	case limit <= 0:
		return DefaultPageSize
	case limit > MaxPageSize:
		return MaxPageSize
	}
	return limit
}

// Store is the durable registry: works, the change feed and disputes. Every method takes a
// context first and honours its cancellation and deadline as far as the backend allows (the
// embedded store checks it before each call; Redis bounds every round trip by it and by its
// own timeouts). All methods are safe for concurrent use. After Close every method returns
// ErrClosed.
//
// Implementations: *BoltStore and *RedisStore. Both pass storetest.Run.
type Store interface {
	// CreateWork validates w, stores it and appends its "put" change in one atomic step, and
	// returns the stored work: a copy of w with ID (when empty: "w_" and 16 random lowercase
	// hex digits) and RegisteredAt (when zero: now) filled in, RegisteredAt in UTC and
	// truncated to the millisecond. w itself is not modified; the result may share its
	// Fingerprint and Thumbnail.
	//
	// If a work with the same SHA256 exists, CreateWork changes nothing and returns that work
	// and an error wrapping ErrExists, so the caller can report the existing registration. The
	// same holds when w.ID is given and already taken. If the existing work has both w's SHA256
	// and w's ID, the call is a replay of an earlier successful create (a client retry) and
	// returns that work with a nil error, again changing nothing.
	// Validation failures wrap ErrInvalid; see Work.Validate.
	CreateWork(ctx context.Context, w *Work) (*Work, error)

	// GetWork returns the work with the id, thumbnail included, or an error wrapping
	// ErrNotFound.
	GetWork(ctx context.Context, id string) (*Work, error)

	// WorkBySHA256 returns the work of the file with that SHA-256 (64 lowercase hex digits),
	// or an error wrapping ErrNotFound. A malformed SHA-256 wraps ErrInvalid.
	WorkBySHA256(ctx context.Context, sha string) (*Work, error)

	// ListWorks returns a page of works in ascending id order (byte order), without
	// thumbnails (use GetWork for one), and the cursor of the next page: pass it as
	// opt.After to continue; it is "" after the last page. Works created or deleted while
	// paging may or may not appear, but a work that exists throughout is returned exactly
	// once.
	ListWorks(ctx context.Context, opt ListOptions) (works []*Work, next string, err error)

	// SetDisabled disables (true) or re-enables (false) a work and appends a "disable" or
	// "enable" change in one atomic step. It does nothing and appends no change if the work
	// is already in that state. An unknown id wraps ErrNotFound.
	SetDisabled(ctx context.Context, id string, disabled bool) error

	// DeleteWork removes a work and its indexes and appends a "delete" change in one atomic
	// step. Its SHA-256 can then be registered again. An unknown id wraps ErrNotFound.
	DeleteWork(ctx context.Context, id string) error

	// Changes returns up to limit changes (see DefaultPageSize, MaxPageSize) with Seq > after,
	// oldest first; none when the caller is up to date.
	Changes(ctx context.Context, after uint64, limit int) ([]Change, error)

	// WaitChanges is Changes that, when there is no change with Seq > after yet, blocks until
	// there is one or ctx ends; then it returns an error wrapping ctx.Err(). A cancelled
	// context is noticed within RedisOptions.WaitSlice on Redis and at once on the embedded
	// store. Closing the store ends a wait with an error.
	WaitChanges(ctx context.Context, after uint64, limit int) ([]Change, error)

	// LoadWorks calls fn with the matcher data of every work (thumbnails and metadata are not
	// read), in id order, and returns lastSeq: every change with Seq <= lastSeq is reflected
	// in what fn saw. The load is not one snapshot: it may also reflect some later changes.
	// A replica that applies Changes(lastSeq, ...) in order on top of the load ends in the
	// store's state, because each change carries the whole matcher state it sets. If fn
	// returns an error, LoadWorks stops and returns that error unwrapped. fn is called from
	// the calling goroutine, outside any transaction, so it may call the store.
	LoadWorks(ctx context.Context, fn func(MatchEntry) error) (lastSeq uint64, err error)

	// CreateDispute validates d and records it, filling in d.ID (when empty: "d_" and 16
	// random lowercase hex digits) and d.CreatedAt (when zero: now; always UTC, truncated to
	// the millisecond). An id already recorded wraps ErrExists; validation failures wrap
	// ErrInvalid.
	CreateDispute(ctx context.Context, d *Dispute) error

	// ListDisputes returns up to limit disputes in the order they were recorded, after the
	// cursor after ("" for the first page), and the cursor of the next page, "" after the
	// last. Cursors are opaque; a malformed one wraps ErrInvalid.
	ListDisputes(ctx context.Context, after string, limit int) ([]*Dispute, string, error)

	// Ping checks that the store is reachable and open.
	Ping(ctx context.Context) error

	// Close releases the store. A blocked WaitChanges returns with an error. Calling Close
	// again returns nil.
	Close() error
}

// ListOptions select a page of ListWorks.
type ListOptions struct {
	// CreatorID, when set, lists only that creator's works.
	CreatorID string
	// After is the cursor: list works with ids after it ("" for the first page). It is the
	// next value a previous call returned (the last id of its page).
	After string
	// Limit is the page size; default DefaultPageSize, at most MaxPageSize.
	Limit int
}

var (
	_ Store = (*BoltStore)(nil)
	_ Store = (*RedisStore)(nil)
)
