package index

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aura-art/aura/hashing"
)

// Work is a registered human-made work.
type Work struct {
	// ID is assigned by the store on create when empty: "w_" and 16 random lowercase hex
	// digits. A given id must be 1 to 64 of [A-Za-z0-9_.-].
	ID string `json:"id"`
	// CreatorID identifies the creator; required, at most 256 bytes of UTF-8 without control
	// characters.
	CreatorID    string `json:"creator_id"`
	CreatorName  string `json:"creator_name,omitempty"`
	Title        string `json:"title,omitempty"`
	Year         int    `json:"year,omitempty"`
	SourceURL    string `json:"source_url,omitempty"`
	Licence      string `json:"licence,omitempty"`
	RegisteredBy string `json:"registered_by,omitempty"` // a user or API token name
	// RegisteredAt is set by the store on create when zero; stored in UTC with millisecond
	// precision.
	RegisteredAt time.Time `json:"registered_at"`
	// SHA256 is the hex (64 lowercase digits) SHA-256 of the file's bytes; required. It is
	// unique: the same file registered twice is one work.
	SHA256 string `json:"sha256"`
	// Fingerprint is the work's Reference fingerprint; required.
	Fingerprint *hashing.Fingerprint `json:"fingerprint"`
	// Thumbnail is a small JPEG for the review page, at most MaxThumbnailSize bytes; optional.
	Thumbnail []byte `json:"thumbnail,omitempty"`
	// Disabled works stay registered but are not matched.
	Disabled bool `json:"disabled,omitempty"`
}

// MaxThumbnailSize is the largest thumbnail a work may carry, in bytes.
const MaxThumbnailSize = 16 << 10

// Limits of a work's text fields, in bytes.
const (
	maxCreatorLen = 256
	maxTextLen    = 2048
)

// Validate checks w as CreateWork does, without touching a store. Every failure wraps
// ErrInvalid and names the field.
func (w *Work) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...))
	}
	if w == nil {
		return bad("nil work")
	}
	if w.ID != "" && !ValidID(w.ID) {
		return bad("id %q: want 1 to %d of [A-Za-z0-9_.-]", w.ID, MaxIDLen)
	}
	if w.CreatorID == "" {
		return bad("creator_id is required")
	}
	if err := checkText("creator_id", w.CreatorID, maxCreatorLen); err != nil {
		return err
	}
	for _, f := range []struct{ name, v string }{
		{"creator_name", w.CreatorName}, {"title", w.Title}, {"source_url", w.SourceURL},
		{"licence", w.Licence}, {"registered_by", w.RegisteredBy},
	} {
		if err := checkText(f.name, f.v, maxTextLen); err != nil {
			return err
		}
	}
	if !validSHA256(w.SHA256) {
		return bad("sha256 %q: want 64 lowercase hex digits", w.SHA256)
	}
	if err := checkFingerprint(w.Fingerprint); err != nil {
		return err
	}
	if len(w.Thumbnail) > MaxThumbnailSize {
		return bad("thumbnail is %d bytes, at most %d", len(w.Thumbnail), MaxThumbnailSize)
	}
	if len(w.Thumbnail) > 0 && !bytes.HasPrefix(w.Thumbnail, []byte{0xff, 0xd8, 0xff}) {
		return bad("thumbnail is not a JPEG")
	}
	return nil
}

// checkText rejects an over-long, non-UTF-8 or control-character string field.
func checkText(name, v string, maxLen int) error {
	switch {
	case len(v) > maxLen:
		return fmt.Errorf("%w: %s is %d bytes, at most %d", ErrInvalid, name, len(v), maxLen)
	case !utf8.ValidString(v):
		return fmt.Errorf("%w: %s is not UTF-8", ErrInvalid, name)
	case strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return fmt.Errorf("%w: %s contains a control character", ErrInvalid, name)
	}
	return nil
}

// checkFingerprint requires a fingerprint whose binary form decodes, so that a stored work is
// always readable.
func checkFingerprint(fp *hashing.Fingerprint) error {
	if fp == nil || len(fp.Views) == 0 {
		return fmt.Errorf("%w: fingerprint is required", ErrInvalid)
	}
	b, _ := fp.MarshalBinary()
	if err := new(hashing.Fingerprint).UnmarshalBinary(b); err != nil {
		return fmt.Errorf("%w: fingerprint: %v", ErrInvalid, err)
	}
	return nil
}

// MaxIDLen is the longest id of a work, dispute, review case or moderator, in bytes.
const MaxIDLen = 64

// ValidID reports whether id is a valid id of a work, dispute, review case or moderator: 1 to
// MaxIDLen of [A-Za-z0-9_.-].
func ValidID(id string) bool {
	if id == "" || len(id) > MaxIDLen {
		return false
	}
	for i := range len(id) {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// validSHA256 reports whether s is 64 lowercase hex digits.
func validSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := range len(s) {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// newID returns prefix and 16 random lowercase hex digits.
func newID(prefix string) string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand crashes the program instead)
	return prefix + hex.EncodeToString(b[:])
}

// storeTime is t in UTC truncated to the millisecond, or now when t is zero.
func storeTime(t time.Time) time.Time {
	if t.IsZero() {
		t = time.Now()
	}
	return t.UTC().Truncate(time.Millisecond)
}

// prepareWork validates w and returns the copy to store, with ID and RegisteredAt set.
func prepareWork(w *Work) (*Work, error) {
	if err := w.Validate(); err != nil {
		return nil, err
	}
	c := *w
	if c.ID == "" {
		c.ID = newID("w_")
	}
	c.RegisteredAt = storeTime(c.RegisteredAt)
	return &c, nil
}

// ChangeOp is the kind of a Change.
type ChangeOp string

// The change operations.
const (
	OpPut     ChangeOp = "put"     // a work was created
	OpDisable ChangeOp = "disable" // a work was disabled
	OpEnable  ChangeOp = "enable"  // a work was re-enabled
	OpDelete  ChangeOp = "delete"  // a work was deleted
)

// Change is an entry of the registry's change feed: what a matcher replica must apply to stay
// current.
type Change struct {
	// Seq orders the feed; it increases with every change of a store (there may be gaps).
	Seq    uint64   `json:"seq"`
	Op     ChangeOp `json:"op"`
	WorkID string   `json:"work_id"`
	// CreatorID is the work's creator, for every op.
	CreatorID string `json:"creator_id"`
	// Disabled is the work's state after the change: as created for put, true for disable,
	// false for enable and delete.
	Disabled bool `json:"disabled,omitempty"`
	// Fingerprint is the work's fingerprint for put and enable, nil otherwise.
	Fingerprint *hashing.Fingerprint `json:"fingerprint,omitempty"`
	// At is when the change was made (UTC, millisecond precision).
	At time.Time `json:"at"`
}

// Entry returns the matcher data a put or enable change sets.
func (c Change) Entry() MatchEntry {
	return MatchEntry{ID: c.WorkID, CreatorID: c.CreatorID, Disabled: c.Disabled, Fingerprint: c.Fingerprint}
}

// MatchEntry is what the matcher holds of a work: enough to match an upload and to tell
// the creator's own work from someone else's.
type MatchEntry struct {
	ID          string
	CreatorID   string
	Disabled    bool // a disabled work is not matched
	Fingerprint *hashing.Fingerprint
}

// Dispute is a provenance dispute: a picture registered by one creator that is already
// registered to another.
type Dispute struct {
	// ID is assigned by the store when empty: "d_" and 16 random lowercase hex digits.
	ID string `json:"id"`
	// WorkID is the new registration; required.
	WorkID string `json:"work_id"`
	// ExistingWorkID is the earlier registration it matches; required.
	ExistingWorkID string `json:"existing_work_id"`
	// CreatorID and ExistingCreatorID are the creators of the two works; required.
	CreatorID         string `json:"creator_id"`
	ExistingCreatorID string `json:"existing_creator_id"`
	// Score is the match score in [0, 1].
	Score float64 `json:"score"`
	// CreatedAt is set by the store when zero (UTC, millisecond precision).
	CreatedAt time.Time `json:"created_at"`
}

// validate checks d as CreateDispute does.
func (d *Dispute) validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: dispute: %s", ErrInvalid, fmt.Sprintf(format, a...))
	}
	switch {
	case d == nil:
		return bad("nil dispute")
	case d.ID != "" && !ValidID(d.ID):
		return bad("id %q: want 1 to %d of [A-Za-z0-9_.-]", d.ID, MaxIDLen)
	case d.WorkID == "" || d.ExistingWorkID == "":
		return bad("work_id and existing_work_id are required")
	case d.CreatorID == "" || d.ExistingCreatorID == "":
		return bad("creator_id and existing_creator_id are required")
	case !(d.Score >= 0 && d.Score <= 1):
		return bad("score %v not in [0, 1]", d.Score)
	}
	for _, f := range []struct{ name, v string }{
		{"work_id", d.WorkID}, {"existing_work_id", d.ExistingWorkID},
		{"creator_id", d.CreatorID}, {"existing_creator_id", d.ExistingCreatorID},
	} {
		if err := checkText(f.name, f.v, maxCreatorLen); err != nil {
			return err
		}
	}
	return nil
}

// prepareDispute validates d and fills in its ID and CreatedAt.
func prepareDispute(d *Dispute) error {
	if err := d.validate(); err != nil {
		return err
	}
	if d.ID == "" {
		d.ID = newID("d_")
	}
	d.CreatedAt = storeTime(d.CreatedAt)
	return nil
}
