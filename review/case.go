package review

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aura-art/aura/index"
	"github.com/aura-art/aura/verdict"
)

// State is where a case stands.
type State string

// The case states. A case starts Open; a moderator decides it Confirmed, Dismissed or
// Licensed; an admin may reopen a decided case (the decision is reversed, with history).
const (
	// Open: waiting for a moderator.
	Open State = "open"
	// Confirmed: the upload is a forgery or an unlicensed derivative of the work.
	Confirmed State = "confirmed"
	// Dismissed: not a copy. The same upload (by fingerprint) is never flagged against the
	// same work again.
	Dismissed State = "dismissed"
	// Licensed: a permitted derivative. The claimed creator may publish derivatives of the
	// work without a flag.
	Licensed State = "licensed"
)

// States lists every state, in the order the page shows them.
var States = []State{Open, Confirmed, Dismissed, Licensed}

// Valid reports whether s is one of States.
func (s State) Valid() bool { return s == Open || s == Confirmed || s == Dismissed || s == Licensed }

// Decided reports whether s is a decision (not Open).
func (s State) Decided() bool { return s == Confirmed || s == Dismissed || s == Licensed }

// Kind is where a case came from. Every kind shares the one queue.
type Kind string

// The case kinds.
const (
	// Upload: a submission that a worker flagged.
	Upload Kind = "upload"
	// Rescan: an archived upload that a rescan flagged.
	Rescan Kind = "rescan"
	// Retro: a past upload that a newly registered work matched.
	Retro Kind = "retro"
	// Dispute: a registration that matches a work registered earlier to another creator.
	Dispute Kind = "dispute"
)

// Kinds lists every kind.
var Kinds = []Kind{Upload, Rescan, Retro, Dispute}

// Valid reports whether k is one of Kinds.
func (k Kind) Valid() bool { return k == Upload || k == Rescan || k == Retro || k == Dispute }

// Limits of a case's fields, in bytes.
const (
	// MaxNoteLen is the longest decision note; a longer one is refused (ErrInvalid).
	MaxNoteLen = 4 << 10
	// MaxThumbnailSize is the largest thumbnail a case may carry.
	MaxThumbnailSize = 16 << 10
	// MaxFingerprintSize is the largest upload fingerprint (binary form) a case may carry.
	MaxFingerprintSize = 4 << 10
	maxTextLen         = 2048
)

// Case is one picture a moderator must look at, with the registered works it matched.
type Case struct {
	// ID is deterministic (see CaseID), so a redelivered submission finds its case.
	ID string `json:"id"`
	// Kind is where the case came from.
	Kind Kind `json:"kind"`
	// Tenant is the marketplace of the upload; "" for a dispute, which is the registry's.
	Tenant string `json:"tenant,omitempty"`
	// SubjectID is the tenant's submission id (upload, rescan, retro) or, for a dispute,
	// the id of the newer registration.
	SubjectID string `json:"subject_id"`
	// ClaimedCreator is who the uploader (or registrant) says made the picture.
	ClaimedCreator string `json:"claimed_creator,omitempty"`
	// Source says where the picture came from: its URL, "inline", a file path of a rescan,
	// or the registration of a work; at most 2048 bytes (Opener clips it with ClipText).
	Source string `json:"source,omitempty"`
	// Verdict is the verdict that flagged the picture; a dispute has none.
	Verdict verdict.Kind `json:"verdict,omitempty"`
	// Matches are the candidate works with their evidence, best first; at least one.
	Matches []verdict.Match `json:"matches"`
	// Fingerprint is the picture's Query fingerprint in its binary form (hashing); a dismissal
	// keeps it so the same picture is not flagged against the same work again.
	Fingerprint []byte `json:"fingerprint,omitempty"`
	// Thumbnail is a small JPEG of the picture (it must start with the JPEG marker); optional,
	// at most MaxThumbnailSize.
	// GetCase returns it; ListCases does not.
	Thumbnail []byte `json:"thumbnail,omitempty"`

	// State is where the case stands; the store sets it (Open on create).
	State State `json:"state"`
	// Version counts the decisions; it starts at 1. Decide compares it (compare-and-set),
	// so two moderators never both decide one version of a case.
	Version int64 `json:"version"`
	// CreatedAt and UpdatedAt are set by the store (UTC, millisecond precision).
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// History lists every decision, oldest first.
	History []Decision `json:"history,omitempty"`
}

// Score is the best match's score, 0 when there is none.
func (c *Case) Score() float64 {
	if len(c.Matches) == 0 {
		return 0
	}
	return c.Matches[0].Score
}

// Decision is one change of a case's state.
type Decision struct {
	// At is when it was made (set by the store).
	At time.Time `json:"at"`
	// By is the moderator's user name.
	By string `json:"by"`
	// From and To are the states before and after.
	From State `json:"from"`
	To   State `json:"to"`
	// Note is the moderator's reason; at most MaxNoteLen bytes.
	Note string `json:"note,omitempty"`
}

// CaseID returns the id of the case of a kind's subject: "c_" and 16 hex digits of the
// SHA-256 of the kind, tenant and subject id. Upload and rescan cases of one submission
// are different cases; a redelivered submission finds the case it opened before. A retro
// case also names the work (one case per past upload and new work).
func CaseID(kind Kind, tenant, subjectID string, extra ...string) string {
	h := sha256.New()
	h.Write([]byte(string(kind) + "\x00" + tenant + "\x00" + subjectID))
	for _, e := range extra {
		h.Write([]byte("\x00" + e))
	}
	return "c_" + hex.EncodeToString(h.Sum(nil)[:8])
}

// validate checks a new case as CreateCase does.
func (c *Case) validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: case: %s", ErrInvalid, fmt.Sprintf(format, a...))
	}
	switch {
	case c == nil:
		return bad("nil case")
	case !index.ValidID(c.ID):
		return bad("id %q: want 1 to %d of [A-Za-z0-9_.-]", c.ID, index.MaxIDLen)
	case !c.Kind.Valid():
		return bad("kind %q: want one of %v", c.Kind, Kinds)
	case c.Kind != Dispute && !index.ValidTenant(c.Tenant):
		return bad("tenant %q: want 1 to 64 letters, digits, '-' or '_'", c.Tenant)
	case c.Kind == Dispute && c.Tenant != "":
		return bad("a dispute has no tenant")
	case !validText(c.SubjectID, 128) || c.SubjectID == "":
		return bad("subject_id: want 1 to 128 bytes of text")
	case !validText(c.ClaimedCreator, 256) || !validText(c.Source, maxTextLen):
		return bad("claimed_creator or source: too long or not text")
	case len(c.Matches) == 0:
		return bad("no matches: a case needs at least one candidate work")
	case len(c.Matches) > verdict.MaxMatches:
		return bad("%d matches: at most %d", len(c.Matches), verdict.MaxMatches)
	case len(c.Thumbnail) > MaxThumbnailSize:
		return bad("thumbnail of %d bytes: at most %d", len(c.Thumbnail), MaxThumbnailSize)
	case len(c.Thumbnail) > 0 && !strings.HasPrefix(string(c.Thumbnail[:min(3, len(c.Thumbnail))]), "\xff\xd8\xff"):
		return bad("thumbnail: not a JPEG")
	case len(c.Fingerprint) > MaxFingerprintSize:
		return bad("fingerprint of %d bytes: at most %d", len(c.Fingerprint), MaxFingerprintSize)
	}
	for i, m := range c.Matches {
		if !index.ValidID(m.WorkID) {
			return bad("match %d: work id %q", i, m.WorkID)
		}
	}
	return nil
}

// validDecision checks a decision as Decide does.
func validDecision(d Decision) error {
	switch {
	case !d.To.Valid():
		return fmt.Errorf("%w: decision: state %q: want one of %v", ErrInvalid, d.To, States)
	case d.By == "" || !validText(d.By, 128):
		return fmt.Errorf("%w: decision: who decided is required", ErrInvalid)
	case len(d.Note) > MaxNoteLen:
		return fmt.Errorf("%w: decision: note of %d bytes: at most %d", ErrInvalid, len(d.Note), MaxNoteLen)
	case !utf8.ValidString(d.Note):
		return fmt.Errorf("%w: decision: note is not UTF-8", ErrInvalid)
	}
	return nil
}

// ClipText makes s fit a case's text field (Source, a note, a log line): control characters
// and invalid UTF-8 become '?', and it is cut to at most n bytes (n ≥ 3), on a rune
// boundary, the cut marked with "...".
func ClipText(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
	if len(s) <= n {
		return s
	}
	s = s[:n-3]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s + "..."
}

func validText(s string, max int) bool {
	return len(s) <= max && utf8.ValidString(s) && !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}

// storeTime is t as the store keeps it: UTC, truncated to the millisecond.
func storeTime(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }
