package web

import (
	"bytes"
	"errors"
	"fmt"
	"image/jpeg"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/aura-art/aura/index"
	"github.com/aura-art/aura/review"
	"github.com/aura-art/aura/verdict"
)

// queueCursor is the ListCases cursor that lists the cases after one.
func queueCursor(created time.Time, id string) string { return review.CursorAfter(created, id) }

type casePage struct {
	base
	Case *review.Case
	// M is the index of the candidate shown; Match is that candidate.
	M       int
	Match   verdict.Match
	Matches []matchRow
	// Work is the candidate's registered work; nil when it is no longer registered.
	Work     *index.Work
	View     *workView
	Evidence evidence
	// Q is the queue's filter, which the decision form carries so the next case follows it.
	Q                      string
	Next, Prev, Queue      string
	ThumbURL, DiffURL      string
	WorkThumbURL, Decide   string
	RegistryURL            string
	Note                   string
	From                   string
	MaxNote                int
	CanLicense             bool
	Last                   *review.Decision
	HasThumb, HasWorkThumb bool
}

type matchRow struct {
	Index    int
	Match    verdict.Match
	Href     string
	Selected bool
}

// workView places the work's thumbnail in a square SVG view box centred on the origin, so
// the variant's transform turns it about its centre and the region box turns with it.
type workView struct {
	ViewBox    string
	X, Y, W, H string
	Transform  string
	Box        *box
}

type box struct{ X, Y, W, H string }

func f1(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// newWorkView returns the geometry of a work thumbnail with the match's variant, or nil
// when the thumbnail is not a readable JPEG.
func newWorkView(thumb []byte, m verdict.Match) *workView {
	if len(thumb) == 0 {
		return nil
	}
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(thumb))
	if err != nil || cfg.Width <= 0 || cfg.Height <= 0 {
		return nil
	}
	w, h := float64(cfg.Width), float64(cfg.Height)
	side := max(w, h)
	v := &workView{
		ViewBox: fmt.Sprintf("%s %s %s %s", f1(-side/2), f1(-side/2), f1(side), f1(side)),
		X:       f1(-w / 2), Y: f1(-h / 2), W: f1(w), H: f1(h),
		Transform: variantTransform(m),
	}
	if r := m.Region; !r.IsFull() {
		v.Box = &box{
			X: f1(-w/2 + float64(r.X)*w/100), Y: f1(-h/2 + float64(r.Y)*h/100),
			W: f1(float64(r.W) * w / 100), H: f1(float64(r.H) * h / 100),
		}
	}
	return v
}

// caseOptions are what a re-rendered case page shows beside the case.
type caseOptions struct {
	status         int
	notice, errMsg string
	note           string
	m              int
	ff             filterForm
	from           string
}

func (s *Server) casePage(w http.ResponseWriter, r *http.Request, sess *session) error {
	q := r.URL.Query()
	_, ff, err := parseFilter(q, s.now())
	if err != nil {
		return err
	}
	opt := caseOptions{status: http.StatusOK, ff: ff, from: q.Get("from")}
	if v := q.Get("m"); v != "" {
		if opt.m, err = strconv.Atoi(v); err != nil || opt.m < 0 || opt.m >= verdict.MaxMatches {
			return &httpError{status: http.StatusBadRequest, title: "Bad candidate", msg: fmt.Sprintf("m %q: want a candidate number, 0 to %d", v, verdict.MaxMatches-1)}
		}
	}
	if done := q.Get("done"); done != "" {
		opt.notice = s.doneNotice(r, done)
	}
	c, err := s.cases.GetCase(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return s.renderCase(w, r, sess, c, opt)
}

// renderCase writes the page of case c.
func (s *Server) renderCase(w http.ResponseWriter, r *http.Request, sess *session, c *review.Case, opt caseOptions) error {
	ctx := r.Context()
	if opt.m >= len(c.Matches) {
		return &httpError{status: http.StatusNotFound, title: "No such candidate", msg: fmt.Sprintf("Case %s has %d candidate works.", c.ID, len(c.Matches))}
	}
	m := c.Matches[opt.m]
	p := &casePage{
		base: s.base(r, sess, "Case "+c.ID, "case"), Case: c, M: opt.m, Match: m,
		Evidence: describe(m, s.cfg.Thresholds), Q: opt.ff.Encode(), Note: opt.note, MaxNote: s.cfg.MaxNoteBytes,
		Queue:        s.queueURL(opt.ff, ""),
		ThumbURL:     s.cfg.Prefix + "cases/" + url.PathEscape(c.ID) + "/thumb.jpg",
		DiffURL:      s.cfg.Prefix + "cases/" + url.PathEscape(c.ID) + "/diff.png?m=" + strconv.Itoa(opt.m),
		WorkThumbURL: s.cfg.Prefix + "works/" + url.PathEscape(m.WorkID) + "/thumb.jpg",
		Decide:       s.cfg.Prefix + "cases/" + url.PathEscape(c.ID) + "/decide",
		RegistryURL:  withQuery(s.cfg.Prefix+"registry", url.Values{"creator": {m.CreatorID}}),
		CanLicense:   c.ClaimedCreator != "",
		HasThumb:     len(c.Thumbnail) > 0,
	}
	p.Notice, p.Error = opt.notice, opt.errMsg
	for i, cm := range c.Matches {
		p.Matches = append(p.Matches, matchRow{Index: i, Match: cm, Selected: i == opt.m,
			Href: s.caseURL(c.ID, opt.ff, "m", strconv.Itoa(i), "from", opt.from)})
	}
	if n := len(c.History); n > 0 {
		p.Last = &c.History[n-1]
	}
	work, err := s.works.GetWork(ctx, m.WorkID)
	switch {
	case err == nil:
		p.Work = work
		p.View = newWorkView(work.Thumbnail, m)
		p.HasWorkThumb = p.View != nil
	case errors.Is(err, index.ErrNotFound):
		// The work was deleted since; the case still names it.
	default:
		return err
	}
	next, err := s.nextCase(r, opt.ff, c)
	if err != nil {
		return err
	}
	if next != "" {
		p.Next = s.caseURL(next, opt.ff, "from", c.ID)
	}
	if validCaseID(opt.from) && opt.from != c.ID {
		p.Prev, p.From = s.caseURL(opt.from, opt.ff), opt.from
	}
	s.render(w, r, opt.status, "case", p)
	return nil
}

// nextCase returns the id of the case after c in the queue that ff selects, "" at its end.
func (s *Server) nextCase(r *http.Request, ff filterForm, c *review.Case) (string, error) {
	f, _, err := parseFilter(ff.values(), s.now())
	if err != nil {
		return "", err
	}
	f.After, f.Limit = queueCursor(c.CreatedAt, c.ID), 1
	page, _, err := s.cases.ListCases(r.Context(), f)
	if err != nil || len(page) == 0 {
		return "", err
	}
	return page[0].ID, nil
}

func validCaseID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	return !strings.ContainsFunc(id, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-')
	})
}

// doneNotice is the banner after a decision: the state of the decided case as the store has
// it (so a crafted link cannot make the page claim anything).
func (s *Server) doneNotice(r *http.Request, id string) string {
	if !validCaseID(id) {
		return ""
	}
	c, err := s.cases.GetCase(r.Context(), id)
	if err != nil || len(c.History) == 0 {
		return ""
	}
	d := c.History[len(c.History)-1]
	return fmt.Sprintf("Case %s is now %s (by %s, %s).", c.ID, c.State, d.By, when(d.At))
}

// maxFormBytes caps a decision form: the note, percent-encoded at worst, and the rest.
func (s *Server) maxFormBytes() int64 { return int64(3*s.cfg.MaxNoteBytes + 4<<10) }

func (s *Server) decide(w http.ResponseWriter, r *http.Request, sess *session) error {
	id := r.PathValue("id")
	r.Body = http.MaxBytesReader(w, r.Body, s.maxFormBytes())
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &httpError{status: http.StatusRequestEntityTooLarge, title: "Note too long",
				msg: fmt.Sprintf("A note may have at most %d bytes; this form was larger than %d bytes. Nothing was saved.", s.cfg.MaxNoteBytes, mbe.Limit)}
		}
		return &httpError{status: http.StatusBadRequest, title: "Bad form", msg: "The form could not be read. Nothing was saved."}
	}
	if !s.checkCSRF(r, sess) {
		s.log.Warn("csrf check failed", zap.String("user", sess.Name), zap.String("case_id", id))
		return errCSRF
	}
	carried, err := url.ParseQuery(r.PostForm.Get("q"))
	if err != nil {
		carried = url.Values{}
	}
	_, ff, err := parseFilter(carried, s.now())
	if err != nil {
		ff = filterForm{}
	}
	opt := caseOptions{ff: ff, note: strings.ReplaceAll(r.PostForm.Get("note"), "\r\n", "\n"), from: r.PostForm.Get("from")}
	if m, err := strconv.Atoi(r.PostForm.Get("m")); err == nil && m >= 0 && m < verdict.MaxMatches {
		opt.m = m
	}
	version, err := strconv.ParseInt(r.PostForm.Get("version"), 10, 64)
	if err != nil || version < 1 {
		return &httpError{status: http.StatusBadRequest, title: "Bad form", msg: "The form did not say which version of the case it decides. Nothing was saved."}
	}
	to := review.State(r.PostForm.Get("to"))
	switch {
	case to == review.Open && !sess.Admin():
		return &httpError{status: http.StatusForbidden, title: "Not allowed", msg: "Only an admin may reopen a decided case. Nothing was saved."}
	case !to.Valid():
		return &httpError{status: http.StatusBadRequest, title: "Bad decision", msg: "Decide confirmed, dismissed or licensed. Nothing was saved."}
	}
	// Errors shown on the case page itself, so the moderator keeps the note.
	again := func(status int, msg string) error {
		c, err := s.cases.GetCase(r.Context(), id)
		if err != nil {
			return err
		}
		opt.status, opt.errMsg = status, msg
		if opt.m >= len(c.Matches) {
			opt.m = 0
		}
		return s.renderCase(w, r, sess, c, opt)
	}
	if len(opt.note) > s.cfg.MaxNoteBytes {
		return again(http.StatusRequestEntityTooLarge, fmt.Sprintf("The note has %d bytes; a note may have at most %d. Shorten it and decide again. Nothing was saved.", len(opt.note), s.cfg.MaxNoteBytes))
	}
	c, err := s.cases.Decide(r.Context(), id, version, review.Decision{By: sess.Name, To: to, Note: opt.note})
	switch {
	case err == nil:
		s.log.Info("case decided", zap.String("case_id", id), zap.String("user", sess.Name),
			zap.String("state", string(to)), zap.Int64("version", c.Version))
		q := ff.values()
		q.Set("done", c.ID)
		next := withQuery(s.cfg.Prefix, q)
		if n, err := s.nextCase(r, ff, c); err == nil && n != "" {
			next = s.caseURL(n, ff, "from", c.ID, "done", c.ID)
		}
		http.Redirect(w, r, next, http.StatusSeeOther)
		return nil
	case errors.Is(err, review.ErrConflict), errors.Is(err, review.ErrDecided):
		cur, gerr := s.cases.GetCase(r.Context(), id)
		if gerr != nil {
			return gerr
		}
		return again(http.StatusConflict, conflictMessage(cur, version, to))
	case errors.Is(err, review.ErrInvalid):
		msg := err.Error()
		if i := strings.LastIndex(msg, review.ErrInvalid.Error()+": "); i >= 0 {
			msg = msg[i+len(review.ErrInvalid.Error())+2:]
		}
		return again(http.StatusBadRequest, "The decision was refused: "+msg+". Nothing was saved.")
	default:
		return err
	}
}

// conflictMessage explains why a decision on version of case cur (as it is now) failed.
func conflictMessage(cur *review.Case, version int64, to review.State) string {
	var last *review.Decision
	if n := len(cur.History); n > 0 {
		last = &cur.History[n-1]
	}
	switch {
	case cur.State.Decided() && last != nil:
		return fmt.Sprintf("This case was decided already by %s: %s, %s. Your decision was not saved.", last.By, cur.State, when(last.At))
	case to == review.Open && cur.State == review.Open:
		return "This case is open; there is nothing to reopen. Nothing was saved."
	case last != nil:
		return fmt.Sprintf("This case changed while you were looking at it (you saw version %d; it is at version %d, last changed by %s to %s). Your decision was not saved: look at it again and decide.", version, cur.Version, last.By, cur.State)
	default:
		return fmt.Sprintf("This case changed while you were looking at it (you saw version %d; it is at version %d). Your decision was not saved: look at it again and decide.", version, cur.Version)
	}
}
