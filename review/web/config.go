package web

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aura-art/aura/hashing"
	"github.com/aura-art/aura/review"
)

// Config holds the review UI's settings. Start from DefaultConfig: the zero Config has
// SecureCookies false, and New fills in every other zero field with its default.
type Config struct {
	// Prefix is the path the UI is served under; it starts and ends with "/". Every page,
	// image and form lives below it (Prefix+"login", Prefix+"cases/{id}", ...), and the
	// session cookie is scoped to it. Default "/review/".
	Prefix string
	// SecureCookies sets the Secure flag of the session cookie, so browsers send it over
	// HTTPS only (and to http://localhost). Default true; turn it off only behind a proxy
	// that terminates TLS and talks plain HTTP to a browser, which you should not do.
	SecureCookies bool
	// SessionTTL is how long a login lasts. Default 12h.
	SessionTTL time.Duration
	// MaxNoteBytes is the longest decision note accepted; a longer one is refused with a
	// message and nothing is stored. Default and maximum review.MaxNoteLen.
	MaxNoteBytes int
	// PageSize is how many cases the queue lists a page. Default 50, at most
	// review.MaxPageSize.
	PageSize int
	// Thresholds put scores into words ("very close", "below the match threshold"). Default
	// hashing.DefaultThresholds; pass the thresholds the workers use.
	Thresholds hashing.Thresholds
	// SearchPages is how many pages of works (index.MaxPageSize each) a registry search by
	// title reads before it stops and offers to continue. Default 10.
	SearchPages int
}

// DefaultConfig returns the defaults: prefix "/review/", secure cookies, 12-hour sessions,
// notes up to review.MaxNoteLen, 50 cases a page.
func DefaultConfig() Config {
	return Config{
		Prefix:        "/review/",
		SecureCookies: true,
		SessionTTL:    12 * time.Hour,
		MaxNoteBytes:  review.MaxNoteLen,
		PageSize:      50,
		Thresholds:    hashing.DefaultThresholds,
		SearchPages:   10,
	}
}

// withDefaults returns c with every zero field but SecureCookies set to its default.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Prefix == "" {
		c.Prefix = d.Prefix
	}
	if c.SessionTTL == 0 {
		c.SessionTTL = d.SessionTTL
	}
	if c.MaxNoteBytes == 0 {
		c.MaxNoteBytes = d.MaxNoteBytes
	}
	if c.PageSize == 0 {
		c.PageSize = d.PageSize
	}
	if c.Thresholds == (hashing.Thresholds{}) {
		c.Thresholds = d.Thresholds
	}
	if c.SearchPages == 0 {
		c.SearchPages = d.SearchPages
	}
	return c
}

// Validate reports the settings that are out of range, by name. Zero fields are valid: they
// mean the default.
func (c Config) Validate() error {
	var errs []error
	if c.Prefix != "" && (!strings.HasPrefix(c.Prefix, "/") || !strings.HasSuffix(c.Prefix, "/") ||
		strings.ContainsAny(c.Prefix, "{}?#%\\ \t\r\n") || strings.Contains(c.Prefix, "//")) {
		errs = append(errs, fmt.Errorf("prefix %q: want a path that starts and ends with \"/\", such as \"/review/\"", c.Prefix))
	}
	if c.SessionTTL < 0 || c.SessionTTL > 30*24*time.Hour {
		errs = append(errs, fmt.Errorf("session_ttl %v: want at most 720h (0 means 12h)", c.SessionTTL))
	}
	if c.SessionTTL > 0 && c.SessionTTL < time.Minute {
		errs = append(errs, fmt.Errorf("session_ttl %v: want at least 1m", c.SessionTTL))
	}
	if c.MaxNoteBytes < 0 || c.MaxNoteBytes > review.MaxNoteLen {
		errs = append(errs, fmt.Errorf("max_note_bytes %d: want 0 to %d", c.MaxNoteBytes, review.MaxNoteLen))
	}
	if c.PageSize < 0 || c.PageSize > review.MaxPageSize {
		errs = append(errs, fmt.Errorf("page_size %d: want 0 to %d", c.PageSize, review.MaxPageSize))
	}
	if c.SearchPages < 0 || c.SearchPages > 1000 {
		errs = append(errs, fmt.Errorf("search_pages %d: want 0 to 1000", c.SearchPages))
	}
	if t := c.Thresholds; t != (hashing.Thresholds{}) && (t.Match <= 0 || t.Match > 1 || t.Forgery < t.Match || t.Forgery > 1) {
		errs = append(errs, fmt.Errorf("thresholds: want 0 < match <= forgery <= 1, got match %v, forgery %v", t.Match, t.Forgery))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("review/web: config: %w", err)
	}
	return nil
}
