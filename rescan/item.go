package rescan

import (
	"strconv"
	"time"

	"github.com/aura-art/aura/verdict"
)

// Item is one picture to rescan, as a Source yields it.
type Item struct {
	// ID names the item within its tenant: the manifest's id, else the path relative to the
	// source's root (slash-separated) or the URL. It is "" for a manifest line too broken
	// to name anything.
	ID string
	// Tenant and Creator come from a manifest line; "" means Config.Tenant and
	// Config.Creator.
	Tenant, Creator string
	// Path is the file to read (absolute), URL the address to fetch; a good item has
	// exactly one.
	Path, URL string
	// Line is the manifest line the item comes from, counting from 1; 0 for an item of a
	// directory.
	Line int
	// Size and ModTime describe the file when the source looked at it (a directory walk
	// does); a zero ModTime means the Runner stats the file itself.
	Size    int64
	ModTime time.Time
	// Err, when set, is why the item cannot be checked (a bad manifest line, a broken
	// symlink, a directory that cannot be read). The Runner records it as an error.
	Err error
}

// Source returns where the item comes from: its path or its URL.
func (it Item) Source() string {
	if it.URL != "" {
		return it.URL
	}
	return it.Path
}

// Status is the outcome of one item.
type Status string

// The statuses of a Result.
const (
	// OK: the item was checked and has a verdict.
	OK Status = "ok"
	// Error: the item could not be read, fetched, decoded or checked, or its manifest line
	// is bad; Result.Error says why.
	Error Status = "error"
	// Skipped: the item was not checked in this run. Either an earlier run finished it (the
	// Result carries that run's verdict, work, score and error), or an earlier line of the
	// manifest has the same tenant and id.
	Skipped Status = "skipped"
)

// Result is the outcome of one item: one line of the report and of the journal.
type Result struct {
	ID     string `json:"id"`
	Tenant string `json:"tenant"`
	// Line is the manifest line, 0 for a directory's item.
	Line   int    `json:"line,omitempty"`
	Source string `json:"source,omitempty"`
	Status Status `json:"status"`
	// Verdict, WorkID and Score are the verdict and its best match that counts (the first
	// one not suppressed by a moderator's decision); empty without a verdict.
	Verdict verdict.Kind `json:"verdict,omitempty"`
	WorkID  string       `json:"work_id,omitempty"`
	Score   float64      `json:"score,omitempty"`
	// CaseID is the review case a flagged item opened (or found open).
	CaseID string `json:"case_id,omitempty"`
	Error  string `json:"error,omitempty"`
	// Millis is how long the item took, in milliseconds; 0 for a skipped item.
	Millis float64 `json:"ms"`

	// The journal's fields, which the report leaves out: the file's size, modification
	// time (Unix nanoseconds) and content hash (hex SHA-256, with Config.Hash), and when the
	// item finished.
	Size   int64     `json:"size,omitempty"`
	MTime  int64     `json:"mtime_ns,omitempty"`
	SHA256 string    `json:"sha256,omitempty"`
	At     time.Time `json:"at,omitzero"`
}

// key is the journal's key of a result: the tenant and the id, or for a manifest line
// without an id its line number.
func (r *Result) key() string { return itemKey(r.Tenant, r.ID, r.Line) }

func itemKey(tenant, id string, line int) string {
	if id == "" {
		return "\x00line:" + strconv.Itoa(line)
	}
	return tenant + "\x00" + id
}

// setVerdict fills the verdict fields from v.
func (r *Result) setVerdict(v verdict.Verdict) {
	r.Verdict = v.Verdict
	for _, m := range v.Matches {
		if m.Suppressed == "" {
			r.WorkID, r.Score = m.WorkID, m.Score
			break
		}
	}
}
