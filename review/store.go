package review

import (
	"context"
	"errors"
	"time"

	"github.com/aura-art/aura/index"
	"github.com/aura-art/aura/verdict"
)

// Errors of every Store. Methods wrap them, so test them with errors.Is.
var (
	// ErrNotFound: no case, user or event has that id.
	ErrNotFound = errors.New("not found")
	// ErrInvalid: an argument failed validation; nothing was written.
	ErrInvalid = errors.New("invalid argument")
	// ErrConflict: the case changed since the caller read it (its version differs), so the
	// decision was not applied: another moderator decided first.
	ErrConflict = errors.New("the case was changed by someone else")
	// ErrDecided: a decision on a case that is decided already, or a reopen of an open one.
	ErrDecided = errors.New("the case is decided already")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("store closed")
)

// Page sizes of ListCases: a limit of zero or less means DefaultPageSize, and a larger one
// than MaxPageSize is lowered to it.
const (
	DefaultPageSize = 50
	MaxPageSize     = 500
)

func pageSize(limit int) int {
	switch {
	case limit <= 0:
		return DefaultPageSize
	case limit > MaxPageSize:
		return MaxPageSize
	}
	return limit
}

// Store keeps cases, their decisions, the suppressions decisions create, the decision
// events still to publish, and moderator accounts. Implementations: *BoltStore (the embedded
// store, in the registry's bbolt file) and *RedisStore (beside the registry's keys). Both
// pass the one contract suite (RunContract). Methods are safe for concurrent use.
type Store interface {
	// CreateCase stores a new Open case with Version 1 and CreatedAt/UpdatedAt set (now,
	// unless CreatedAt is given), and returns it with created true. If a case with the id
	// exists, nothing changes and that case is returned with created false: creating is
	// idempotent, so a redelivered submission opens one case. Validation failures wrap
	// ErrInvalid.
	CreateCase(ctx context.Context, c *Case) (stored *Case, created bool, err error)

	// GetCase returns the case with its thumbnail, fingerprint and history, or an error
	// wrapping ErrNotFound.
	GetCase(ctx context.Context, id string) (*Case, error)

	// ListCases returns a page of the cases that f selects, oldest first, as summaries, and
	// the cursor of the next page ("" after the last). Pass it back as f.After.
	ListCases(ctx context.Context, f Filter) (page []Summary, next string, err error)

	// Decide applies a decision to the case if its version is still version: an Open case
	// becomes d.To (Confirmed, Dismissed or Licensed); a decided case may only be reopened
	// (d.To Open), which reverses its decision. In one atomic step it appends d to the
	// history, bumps the version, updates the suppressions (a dismissal suppresses the
	// picture against every matched work, a licence the claimed creator's derivatives of
	// them; a reopen lifts what the case had set) and queues an Event. A stale version wraps
	// ErrConflict; deciding a decided case, or reopening an open one, wraps ErrDecided;
	// unknown ids wrap ErrNotFound; in every failure nothing changes.
	Decide(ctx context.Context, id string, version int64, d Decision) (*Case, error)

	// Suppressions returns what decisions set on each of the works (works without any are
	// absent from the map).
	Suppressions(ctx context.Context, workIDs []string) (map[string]*Suppression, error)

	// Counts returns the numbers the queue and dashboard show.
	Counts(ctx context.Context) (*Counts, error)

	// PendingEvents returns up to limit decision events not yet acknowledged, oldest first.
	PendingEvents(ctx context.Context, limit int) ([]Event, error)
	// AckEvent removes a published event; an unknown id is not an error.
	AckEvent(ctx context.Context, id string) error

	// PutUser creates or replaces a moderator account; GetUser returns one or wraps
	// ErrNotFound; ListUsers returns all, by name; DeleteUser removes one (ErrNotFound if
	// absent).
	PutUser(ctx context.Context, u *User) error
	GetUser(ctx context.Context, name string) (*User, error)
	ListUsers(ctx context.Context) ([]*User, error)
	DeleteUser(ctx context.Context, name string) error

	// SessionKey returns the secret that signs session cookies: created (32 random bytes)
	// on first use and shared by every process on the store, so any replica accepts a
	// session another issued.
	SessionKey(ctx context.Context) ([]byte, error)
}

// Filter selects cases for ListCases. Zero fields select everything.
type Filter struct {
	// State is the state to list; default Open.
	State State
	// Tenant, Kind and Verdict, when set, must equal the case's.
	Tenant  string
	Kind    Kind
	Verdict verdict.Kind
	// MinScore, when positive, is the lowest best-match score listed.
	MinScore float64
	// OlderThan, when positive, lists only cases created at least that long ago; NewerThan
	// only those created less than that long ago.
	OlderThan, NewerThan time.Duration
	// After is the cursor of the page (from a previous ListCases); "" for the first page.
	After string
	// Limit is the page size (see DefaultPageSize, MaxPageSize).
	Limit int
	// Now is the time OlderThan and NewerThan count from; default time.Now().
	Now time.Time
}

// Summary is a case as the queue lists it.
type Summary struct {
	ID             string       `json:"id"`
	Kind           Kind         `json:"kind"`
	Tenant         string       `json:"tenant,omitempty"`
	SubjectID      string       `json:"subject_id"`
	ClaimedCreator string       `json:"claimed_creator,omitempty"`
	Verdict        verdict.Kind `json:"verdict,omitempty"`
	State          State        `json:"state"`
	Score          float64      `json:"score"`
	// WorkID, WorkTitle and WorkCreator are the best match's.
	WorkID      string    `json:"work_id"`
	WorkTitle   string    `json:"work_title,omitempty"`
	WorkCreator string    `json:"work_creator,omitempty"`
	Matches     int       `json:"matches"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`

	cursor string // the queue key: ListCases' next cursor when this is a page's last
}

// CursorAfter returns the ListCases cursor (Filter.After) that lists the cases after the
// case created at created with id id, in its state's queue.
func CursorAfter(created time.Time, id string) string {
	return queueKey(&Summary{ID: id, CreatedAt: created})
}

// Summarize returns the queue's summary of a case.
func Summarize(c *Case) Summary {
	s := Summary{
		ID: c.ID, Kind: c.Kind, Tenant: c.Tenant, SubjectID: c.SubjectID, ClaimedCreator: c.ClaimedCreator,
		Verdict: c.Verdict, State: c.State, Score: c.Score(), Matches: len(c.Matches),
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt,
	}
	if len(c.Matches) > 0 {
		m := c.Matches[0]
		s.WorkID, s.WorkTitle = m.WorkID, m.Title
		s.WorkCreator = m.CreatorName
		if s.WorkCreator == "" {
			s.WorkCreator = m.CreatorID
		}
	}
	return s
}

// Suppression is what decisions set on one work.
type Suppression struct {
	// Dismissed holds the Query fingerprints (binary form) of pictures dismissed against the
	// work, by case id.
	Dismissed map[string][]byte `json:"dismissed,omitempty"`
	// Licensed holds the creators licensed to publish derivatives of the work, by case id.
	Licensed map[string]string `json:"licensed,omitempty"`
}

// LicensedTo reports whether creator holds a licence for the work.
func (s *Suppression) LicensedTo(creator string) bool {
	if s == nil || creator == "" {
		return false
	}
	for _, c := range s.Licensed {
		if c == creator {
			return true
		}
	}
	return false
}

// Counts are the queue's and the dashboard's numbers.
type Counts struct {
	// ByState counts cases by state.
	ByState map[State]int `json:"by_state"`
	// OpenByKind counts open cases by kind.
	OpenByKind map[Kind]int `json:"open_by_kind"`
	// ByVerdict counts every case ever opened by the verdict that flagged it ("" for
	// disputes).
	ByVerdict map[verdict.Kind]int `json:"by_verdict"`
	// OpenedByDay and DecidedByDay count cases opened and decisions made per UTC day
	// ("2006-01-02").
	OpenedByDay  map[string]int `json:"opened_by_day"`
	DecidedByDay map[string]int `json:"decided_by_day"`
	// OldestOpen is when the oldest open case was created (zero when none is open).
	OldestOpen time.Time `json:"oldest_open"`
}

// Event is a decision for the marketplace, published on DecisionSubject(tenant).
type Event struct {
	// ID is "<case id>.<version>": unique per decision, the message id that deduplicates it.
	ID string `json:"id"`
	// SchemaVersion is EventSchemaVersion.
	SchemaVersion  int          `json:"schema_version"`
	CaseID         string       `json:"case_id"`
	Kind           Kind         `json:"kind"`
	Tenant         string       `json:"tenant,omitempty"`
	SubjectID      string       `json:"subject_id"`
	ClaimedCreator string       `json:"claimed_creator,omitempty"`
	Verdict        verdict.Kind `json:"verdict,omitempty"`
	// WorkIDs are the matched works the decision is about.
	WorkIDs []string `json:"work_ids"`
	// Decision is the decision made, with who, when, the states and the note.
	Decision Decision `json:"decision"`
	Version  int64    `json:"version"`
}

// EventSchemaVersion is the version of the Event JSON schema.
const EventSchemaVersion = 1

// DecisionSubject is the NATS subject of a tenant's decision events; disputes, which have no
// tenant, use the tenant "registry".
func DecisionSubject(tenant string) string {
	if tenant == "" {
		tenant = "registry"
	}
	return "aura.decision." + tenant
}

// Role is what a user may do.
type Role string

// The roles.
const (
	// Moderator: review and decide cases.
	Moderator Role = "moderator"
	// Admin: everything a moderator does, and reopen decided cases.
	Admin Role = "admin"
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == Moderator || r == Admin }

// User is a moderator account.
type User struct {
	Name string `json:"name"`
	Role Role   `json:"role"`
	// PasswordHash is the bcrypt hash of the password.
	PasswordHash []byte    `json:"password_hash"`
	CreatedAt    time.Time `json:"created_at"`
	// Disabled users cannot log in, and their sessions end.
	Disabled bool `json:"disabled,omitempty"`
}

func (u *User) validate() error {
	switch {
	case u == nil:
		return errors.Join(ErrInvalid, errors.New("user: nil"))
	case !index.ValidID(u.Name):
		return errors.Join(ErrInvalid, errors.New("user: name: want 1 to 64 of [A-Za-z0-9_.-]"))
	case !u.Role.Valid():
		return errors.Join(ErrInvalid, errors.New("user: role: want moderator or admin"))
	case len(u.PasswordHash) == 0:
		return errors.Join(ErrInvalid, errors.New("user: password hash is required"))
	}
	return nil
}
