package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aura-art/aura/review"
	"github.com/aura-art/aura/verdict"
)

// filterForm is the queue's filter as its query parameters carry it: the canonical strings,
// "" for the default of each.
type filterForm struct {
	State   string // "" means open
	Tenant  string
	Kind    string
	Verdict string
	Min     string // lowest score in percent
	Age     string // one of ageBuckets' values
}

// ageBucket is one choice of the queue's age filter.
type ageBucket struct {
	Value, Label string
	Older, Newer time.Duration
}

var ageBuckets = []ageBucket{
	{Value: "", Label: "any age"},
	{Value: "lt1h", Label: "newer than 1 hour", Newer: time.Hour},
	{Value: "gt1h", Label: "older than 1 hour", Older: time.Hour},
	{Value: "gt1d", Label: "older than 1 day", Older: 24 * time.Hour},
	{Value: "gt7d", Label: "older than 7 days", Older: 7 * 24 * time.Hour},
}

var verdictKinds = []verdict.Kind{verdict.LikelyForgery, verdict.Derivative, verdict.OwnWork, verdict.Clear}

// parseFilter reads the queue's filter from query parameters. A value out of range is an
// error the user sees (400).
func parseFilter(q url.Values, now time.Time) (review.Filter, filterForm, error) {
	var f review.Filter
	var ff filterForm
	bad := func(format string, a ...any) error {
		return &httpError{status: http.StatusBadRequest, title: "Bad filter", msg: fmt.Sprintf(format, a...)}
	}
	if v := q.Get("state"); v != "" && v != string(review.Open) {
		if !review.State(v).Valid() {
			return f, ff, bad("state %q: want one of open, confirmed, dismissed, licensed", v)
		}
		f.State, ff.State = review.State(v), v
	}
	if v := strings.TrimSpace(q.Get("tenant")); v != "" {
		if len(v) > 64 || strings.ContainsFunc(v, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_')
		}) {
			return f, ff, bad("tenant %q: want up to 64 letters, digits, '-' or '_'", v)
		}
		f.Tenant, ff.Tenant = v, v
	}
	if v := q.Get("kind"); v != "" {
		if !review.Kind(v).Valid() {
			return f, ff, bad("kind %q: want one of upload, rescan, retro, dispute", v)
		}
		f.Kind, ff.Kind = review.Kind(v), v
	}
	if v := q.Get("verdict"); v != "" {
		ok := false
		for _, k := range verdictKinds {
			ok = ok || string(k) == v
		}
		if !ok {
			return f, ff, bad("verdict %q: want one of likely_forgery, derivative, own_work, clear", v)
		}
		f.Verdict, ff.Verdict = verdict.Kind(v), v
	}
	if v := strings.TrimSpace(strings.TrimSuffix(q.Get("min"), "%")); v != "" && v != "0" {
		p, err := strconv.ParseFloat(v, 64)
		if err != nil || p < 0 || p > 100 {
			return f, ff, bad("min %q: want a score in percent, 0 to 100", v)
		}
		f.MinScore, ff.Min = p/100, strconv.FormatFloat(p, 'f', -1, 64)
	}
	if v := q.Get("age"); v != "" {
		found := false
		for _, b := range ageBuckets {
			if b.Value == v {
				f.OlderThan, f.NewerThan, ff.Age, found = b.Older, b.Newer, v, true
			}
		}
		if !found {
			return f, ff, bad("age %q: want one of lt1h, gt1h, gt1d, gt7d", v)
		}
	}
	f.Now = now
	return f, ff, nil
}

// values returns the filter's non-default query parameters.
func (ff filterForm) values() url.Values {
	q := url.Values{}
	for _, kv := range [][2]string{{"state", ff.State}, {"tenant", ff.Tenant}, {"kind", ff.Kind}, {"verdict", ff.Verdict}, {"min", ff.Min}, {"age", ff.Age}} {
		if kv[1] != "" {
			q.Set(kv[0], kv[1])
		}
	}
	return q
}

// Encode returns the filter as a query string ("" for the default filter).
func (ff filterForm) Encode() string { return ff.values().Encode() }

// withQuery returns path with the query q appended, when q is not empty.
func withQuery(path string, q url.Values) string {
	if e := q.Encode(); e != "" {
		return path + "?" + e
	}
	return path
}

// caseURL is the address of a case, carrying the queue's filter.
func (s *Server) caseURL(id string, ff filterForm, extra ...string) string {
	q := ff.values()
	for i := 0; i+1 < len(extra); i += 2 {
		if extra[i+1] != "" {
			q.Set(extra[i], extra[i+1])
		}
	}
	return withQuery(s.cfg.Prefix+"cases/"+url.PathEscape(id), q)
}

// queueURL is the queue's address with the filter and, when set, the cursor of a page.
func (s *Server) queueURL(ff filterForm, after string) string {
	q := ff.values()
	if after != "" {
		q.Set("after", after)
	}
	return withQuery(s.cfg.Prefix, q)
}

type queuePage struct {
	base
	F          filterForm
	States     []stateCount
	OpenByKind []kindCount
	OpenTotal  int
	Oldest     time.Time
	Rows       []queueRow
	Next       string
	First      string
	Kinds      []review.Kind
	Verdicts   []verdict.Kind
	Ages       []ageBucket
}

type stateCount struct {
	State  review.State
	Count  int
	Href   string
	Active bool
}

type kindCount struct {
	Kind  review.Kind
	Count int
}

type queueRow struct {
	review.Summary
	Href string
}

func (s *Server) queue(w http.ResponseWriter, r *http.Request, sess *session) error {
	q := r.URL.Query()
	f, ff, err := parseFilter(q, s.now())
	if err != nil {
		return err
	}
	f.After = q.Get("after")
	if len(f.After) > 200 {
		return &httpError{status: http.StatusBadRequest, title: "Bad page", msg: "The page cursor is malformed."}
	}
	f.Limit = s.cfg.PageSize
	rows, next, err := s.cases.ListCases(r.Context(), f)
	if err != nil {
		return err
	}
	counts, err := s.cases.Counts(r.Context())
	if err != nil {
		return err
	}
	p := &queuePage{
		base: s.base(r, sess, "Queue", "queue"), F: ff, OpenTotal: counts.ByState[review.Open], Oldest: counts.OldestOpen,
		Kinds: review.Kinds, Verdicts: verdictKinds, Ages: ageBuckets,
	}
	state := f.State
	if state == "" {
		state = review.Open
	}
	for _, st := range review.States {
		sf := ff
		sf.State = string(st)
		if st == review.Open {
			sf.State = ""
		}
		p.States = append(p.States, stateCount{State: st, Count: counts.ByState[st], Href: s.queueURL(sf, ""), Active: st == state})
	}
	for _, k := range review.Kinds {
		p.OpenByKind = append(p.OpenByKind, kindCount{Kind: k, Count: counts.OpenByKind[k]})
	}
	p.Rows = make([]queueRow, len(rows))
	for i, sum := range rows {
		p.Rows[i] = queueRow{Summary: sum, Href: s.caseURL(sum.ID, ff)}
	}
	if next != "" {
		p.Next = s.queueURL(ff, next)
	}
	if f.After != "" {
		p.First = s.queueURL(ff, "")
	}
	if done := q.Get("done"); done != "" {
		p.Notice = s.doneNotice(r, done)
	}
	s.render(w, r, http.StatusOK, "queue", p)
	return nil
}
