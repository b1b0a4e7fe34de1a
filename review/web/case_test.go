package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aura-art/aura/index"
	"github.com/aura-art/aura/review"
)

// decideFixture is a logged-in moderator and one open case.
type decideFixture struct {
	*env
	c    *review.Case
	sess *http.Cookie
	csrf string
}

func newDecideFixture(t *testing.T) *decideFixture {
	t.Helper()
	e := setup(t)
	w := e.addWork(t, "ada", "Ada Lovelace", "Sunrise over the Thames")
	c := e.addCase(t, caseOpts{subject: "s1", works: []*index.Work{w}})
	sess := e.login(t, "alice", alicePW)
	return &decideFixture{env: e, c: c, sess: sess, csrf: e.csrf(t, sess)}
}

func (f *decideFixture) decide(t *testing.T, to review.State, version int64, note string) *http.Response {
	t.Helper()
	form := url.Values{"csrf": {f.csrf}, "version": {fmtV(version)}, "to": {string(to)}, "note": {note}}
	return f.post(t, caseURL(f.c)+"/decide", form, f.sess).Result()
}

// unchanged fails unless the case is still open at version 1 and no event is queued.
func (f *decideFixture) unchanged(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	c, err := f.cases.GetCase(ctx, f.c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if c.State != review.Open || c.Version != 1 || len(c.History) != 0 {
		t.Errorf("case is %s at version %d with %d decisions; want it unchanged", c.State, c.Version, len(c.History))
	}
	if evs, _ := f.cases.PendingEvents(ctx, 10); len(evs) != 0 {
		t.Errorf("%d events queued, want none", len(evs))
	}
}

func TestCasePage(t *testing.T) {
	t.Parallel()
	f := newDecideFixture(t)
	rec := f.get(t, caseURL(f.c), f.sess)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	b := body(t, rec)
	mustContain(t, b,
		"very close: 94% similar; the upload is a mirrored, cropped copy of the work.",
		`transform="scale(-1,1)"`, // the work turned as the upload shows it
		`<rect class="region"`,    // the crop's box
		"/thumb.jpg", "/diff.png?m=0",
		"Sunrise over the Thames", "Ada Lovelace", "1921", "CC BY-NC 4.0", "archive-token",
		`rel="noopener noreferrer"`,
		`id="decide-c"`, `id="decide-d"`, `id="decide-l"`, `name="version" value="1"`,
		"pHash", "nearly identical", "no decision yet",
	)
	if strings.Contains(b, `id="reopen"`) {
		t.Error("an open case offers to reopen")
	}
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
}

func TestCaseNotFound(t *testing.T) {
	t.Parallel()
	f := newDecideFixture(t)
	for _, p := range []string{"/review/cases/c_0000000000000000", "/review/cases/%3Cscript%3E"} {
		rec := f.get(t, p, f.sess)
		if rec.Code != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404", p, rec.Code)
		}
		b := body(t, rec)
		mustContain(t, b, "No such case")
		if strings.Contains(b, "<script>") {
			t.Errorf("GET %s: the id is not escaped", p)
		}
	}
	if rec := f.get(t, caseURL(f.c)+"?m=5", f.sess); rec.Code != http.StatusNotFound {
		t.Errorf("a candidate past the last: status %d, want 404", rec.Code)
	}
	if rec := f.get(t, caseURL(f.c)+"?m=x", f.sess); rec.Code != http.StatusBadRequest {
		t.Errorf("a malformed candidate: status %d, want 400", rec.Code)
	}
	// Deciding a case that does not exist.
	form := url.Values{"csrf": {f.csrf}, "version": {"1"}, "to": {"dismissed"}}
	if rec := f.post(t, "/review/cases/c_0000000000000000/decide", form, f.sess); rec.Code != http.StatusNotFound {
		t.Errorf("deciding a missing case: status %d, want 404", rec.Code)
	}
}

func TestDecide(t *testing.T) {
	t.Parallel()
	f := newDecideFixture(t)
	ctx := context.Background()
	res := f.decide(t, review.Dismissed, 1, "the same sunrise, but a different photo")
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("status %d, want 303", res.StatusCode)
	}
	if loc := res.Header.Get("Location"); loc != "/review/?done="+f.c.ID {
		t.Errorf("redirected to %q, want the queue (no case is left)", loc)
	}
	c, err := f.cases.GetCase(ctx, f.c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if c.State != review.Dismissed || c.Version != 2 || len(c.History) != 1 {
		t.Fatalf("case %s at version %d with %d decisions, want dismissed at 2 with 1", c.State, c.Version, len(c.History))
	}
	if d := c.History[0]; d.By != "alice" || d.From != review.Open || d.To != review.Dismissed || d.Note != "the same sunrise, but a different photo" {
		t.Errorf("decision %+v", d)
	}
	evs, err := f.cases.PendingEvents(ctx, 10)
	if err != nil || len(evs) != 1 || evs[0].ID != f.c.ID+".2" || evs[0].Decision.To != review.Dismissed {
		t.Errorf("events %+v (%v), want the dismissal's", evs, err)
	}
	// The queue says what happened.
	mustContain(t, body(t, f.get(t, "/review/?done="+f.c.ID, f.sess)), "is now dismissed (by alice")
}

func TestDecideBadInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		form   func(t *testing.T, f *decideFixture) url.Values
		header http.Header
		status int
		want   string
	}{
		{"missing csrf", func(t *testing.T, f *decideFixture) url.Values {
			return url.Values{"version": {"1"}, "to": {"dismissed"}}
		}, nil, http.StatusForbidden, "security token"},
		{"forged csrf", func(t *testing.T, f *decideFixture) url.Values {
			return url.Values{"csrf": {f.csrf[:len(f.csrf)-2] + "AA"}, "version": {"1"}, "to": {"dismissed"}}
		}, nil, http.StatusForbidden, "security token"},
		{"another session's csrf", func(t *testing.T, f *decideFixture) url.Values {
			other := f.login(t, "alice", alicePW) // a new nonce, so a new token
			return url.Values{"csrf": {f.env.csrf(t, other)}, "version": {"1"}, "to": {"dismissed"}}
		}, nil, http.StatusForbidden, "security token"},
		{"cross-origin", func(t *testing.T, f *decideFixture) url.Values {
			return url.Values{"csrf": {f.csrf}, "version": {"1"}, "to": {"dismissed"}}
		}, http.Header{"Sec-Fetch-Site": {"cross-site"}}, http.StatusForbidden, "Cross-origin request refused"},
		{"cross-origin, older browser", func(t *testing.T, f *decideFixture) url.Values {
			return url.Values{"csrf": {f.csrf}, "version": {"1"}, "to": {"dismissed"}}
		}, http.Header{"Origin": {"https://evil.example"}}, http.StatusForbidden, "Cross-origin request refused"},
		{"unknown state", func(t *testing.T, f *decideFixture) url.Values {
			return url.Values{"csrf": {f.csrf}, "version": {"1"}, "to": {"burned"}}
		}, nil, http.StatusBadRequest, "Decide confirmed, dismissed or licensed"},
		{"no version", func(t *testing.T, f *decideFixture) url.Values {
			return url.Values{"csrf": {f.csrf}, "to": {"dismissed"}}
		}, nil, http.StatusBadRequest, "which version"},
		{"moderator reopens", func(t *testing.T, f *decideFixture) url.Values {
			return url.Values{"csrf": {f.csrf}, "version": {"1"}, "to": {"open"}}
		}, nil, http.StatusForbidden, "Only an admin"},
		{"note one byte too long", func(t *testing.T, f *decideFixture) url.Values {
			return url.Values{"csrf": {f.csrf}, "version": {"1"}, "to": {"dismissed"}, "note": {strings.Repeat("n", review.MaxNoteLen+1)}}
		}, nil, http.StatusRequestEntityTooLarge, "a note may have at most 4096"},
		{"huge note", func(t *testing.T, f *decideFixture) url.Values {
			return url.Values{"csrf": {f.csrf}, "version": {"1"}, "to": {"dismissed"}, "note": {strings.Repeat("n", 1<<20)}}
		}, nil, http.StatusRequestEntityTooLarge, "A note may have at most 4096 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newDecideFixture(t)
			req := httpPost(caseURL(f.c)+"/decide", tc.form(t, f), f.sess)
			for k, v := range tc.header {
				req.Header[k] = v
			}
			rec := f.serve(req)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d; body:\n%.500s", rec.Code, tc.status, rec.Body)
			}
			if tc.want != "" {
				mustContain(t, body(t, rec), tc.want)
			}
			f.unchanged(t)
		})
	}
}

func TestDecideKeepsNoteOnError(t *testing.T) {
	t.Parallel()
	f := newDecideFixture(t)
	note := strings.Repeat("é", review.MaxNoteLen/2+1) // 4098 bytes in 2049 characters
	rec := f.post(t, caseURL(f.c)+"/decide", url.Values{"csrf": {f.csrf}, "version": {"1"}, "to": {"confirmed"}, "note": {note}}, f.sess)
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d, want 413", rec.Code)
	}
	b := body(t, rec)
	mustContain(t, b, "The note has 4098 bytes", note, `id="decide-c"`)
	f.unchanged(t)
}

func TestDecideConflicts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("decided already", func(t *testing.T) {
		t.Parallel()
		f := newDecideFixture(t)
		if _, err := f.cases.Decide(ctx, f.c.ID, 1, review.Decision{By: "bob", To: review.Confirmed}); err != nil {
			t.Fatal(err)
		}
		for _, v := range []int64{1, 2} { // the version the page showed, and the current one
			res := f.decide(t, review.Dismissed, v, "")
			if res.StatusCode != http.StatusConflict {
				t.Fatalf("version %d: status %d, want 409", v, res.StatusCode)
			}
			rec := f.post(t, caseURL(f.c)+"/decide", url.Values{"csrf": {f.csrf}, "version": {fmtV(v)}, "to": {"dismissed"}}, f.sess)
			mustContain(t, body(t, rec), "This case was decided already by bob: confirmed")
		}
		c, _ := f.cases.GetCase(ctx, f.c.ID)
		if c.State != review.Confirmed || c.Version != 2 {
			t.Errorf("case %s at version %d, want bob's decision to stand", c.State, c.Version)
		}
	})
	t.Run("stale version", func(t *testing.T) {
		t.Parallel()
		f := newDecideFixture(t)
		// Someone decided, and an admin reopened: the case is open again, at version 3.
		if _, err := f.cases.Decide(ctx, f.c.ID, 1, review.Decision{By: "bob", To: review.Confirmed}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.cases.Decide(ctx, f.c.ID, 2, review.Decision{By: "root", To: review.Open}); err != nil {
			t.Fatal(err)
		}
		rec := f.post(t, caseURL(f.c)+"/decide", url.Values{"csrf": {f.csrf}, "version": {"1"}, "to": {"dismissed"}, "note": {"keep me"}}, f.sess)
		if rec.Code != http.StatusConflict {
			t.Fatalf("status %d, want 409", rec.Code)
		}
		b := body(t, rec)
		mustContain(t, b, "This case changed while you were looking at it (you saw version 1; it is at version 3", "keep me", `name="version" value="3"`)
		c, _ := f.cases.GetCase(ctx, f.c.ID)
		if c.State != review.Open || c.Version != 3 {
			t.Errorf("case %s at version %d, want open at 3", c.State, c.Version)
		}
	})
}

func TestReopen(t *testing.T) {
	t.Parallel()
	f := newDecideFixture(t)
	ctx := context.Background()
	if res := f.decide(t, review.Confirmed, 1, ""); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("confirm: status %d", res.StatusCode)
	}
	// A moderator sees the decision but no reopen button, and may not reopen.
	b := body(t, f.get(t, caseURL(f.c), f.sess))
	mustContain(t, b, "Decided <b>confirmed</b> by <b>alice</b>")
	if strings.Contains(b, `id="reopen"`) || strings.Contains(b, `id="decide-c"`) {
		t.Error("a moderator is offered to decide or reopen a decided case")
	}
	if res := f.decide(t, review.Open, 2, ""); res.StatusCode != http.StatusForbidden {
		t.Errorf("a moderator's reopen: status %d, want 403", res.StatusCode)
	}
	// An admin reopens.
	admin := f.login(t, "root", adminPW)
	mustContain(t, body(t, f.get(t, caseURL(f.c), admin)), `id="reopen"`)
	form := url.Values{"csrf": {f.env.csrf(t, admin)}, "version": {"2"}, "to": {"open"}, "note": {"confirmed by mistake"}}
	if rec := f.post(t, caseURL(f.c)+"/decide", form, admin); rec.Code != http.StatusSeeOther {
		t.Fatalf("an admin's reopen: status %d: %s", rec.Code, rec.Body)
	}
	c, _ := f.cases.GetCase(ctx, f.c.ID)
	if c.State != review.Open || c.Version != 3 || c.History[1].By != "root" {
		t.Errorf("case %s at version %d, history %+v; want reopened by root", c.State, c.Version, c.History)
	}
}

func TestLicenseNeedsClaimedCreator(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.addWork(t, "ada", "Ada", "Sunrise")
	c := e.addCase(t, caseOpts{kind: review.Dispute, subject: "w_new", works: []*index.Work{w}})
	// A dispute always has a claimed creator in addCase; make one without by hand.
	c2 := *c
	c2.ID, c2.SubjectID, c2.ClaimedCreator = review.CaseID(review.Upload, "shop", "anon"), "anon", ""
	c2.Kind, c2.Tenant = review.Upload, "shop"
	if _, _, err := e.cases.CreateCase(context.Background(), &c2); err != nil {
		t.Fatal(err)
	}
	sess := e.login(t, "alice", alicePW)
	b := body(t, e.get(t, "/review/cases/"+c2.ID, sess))
	mustContain(t, b, `id="decide-l" class="license" disabled`)
	rec := e.post(t, "/review/cases/"+c2.ID+"/decide", url.Values{"csrf": {e.csrf(t, sess)}, "version": {"1"}, "to": {"licensed"}}, sess)
	if rec.Code != http.StatusBadRequest {
		t.Fatalf("status %d, want 400", rec.Code)
	}
	mustContain(t, body(t, rec), "has no claimed creator to license", "Nothing was saved")
}

func TestEscaping(t *testing.T) {
	t.Parallel()
	e := setup(t)
	const evil = `<script>alert("x")</script>`
	w := e.addWork(t, "ada", `<img src=x onerror=alert(1)>`+evil, evil+" & co")
	ctx := context.Background()
	// The source URL of a work may be anything registered; a javascript: URL must not be a link.
	w2, err := e.works.CreateWork(ctx, &index.Work{
		CreatorID: "ada", CreatorName: evil, Title: evil, SourceURL: "javascript:alert(1)",
		SHA256: randomHex(t, 32), Fingerprint: w.Fingerprint, Thumbnail: w.Thumbnail,
	})
	if err != nil {
		t.Fatal(err)
	}
	c := e.addCase(t, caseOpts{subject: "s1", works: []*index.Work{w2, w}})
	sess := e.login(t, "alice", alicePW)
	_, _ = e.cases.Decide(ctx, c.ID, 1, review.Decision{By: "alice", To: review.Dismissed, Note: evil})
	for _, p := range []string{"/review/?state=dismissed", caseURL(c), caseURL(c) + "?m=1", "/review/registry?creator=ada", "/review/registry?q=script", "/review/registry?q=" + url.QueryEscape(evil)} {
		rec := e.get(t, p, sess)
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s: status %d", p, rec.Code)
		}
		b := body(t, rec)
		if strings.Contains(b, "<script>alert") || strings.Contains(b, "<img src=x") || strings.Contains(b, `href="javascript:`) {
			t.Errorf("GET %s: stored HTML is not escaped", p)
		}
		mustContain(t, b, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;")
	}
}

func TestNextCase(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.addWork(t, "ada", "Ada", "Sunrise")
	base := e.clock.Now().Add(-time.Hour)
	var cs []*review.Case
	for i, tenant := range []string{"shop", "other", "shop"} {
		cs = append(cs, e.addCase(t, caseOpts{tenant: tenant, subject: "s" + fmtV(int64(i)), created: base.Add(time.Duration(i) * time.Minute), works: []*index.Work{w}}))
	}
	sess := e.login(t, "alice", alicePW)
	// Unfiltered, the next case of the first is the second.
	mustContain(t, body(t, e.get(t, caseURL(cs[0]), sess)), `id="next-case" rel="next"`, "/review/cases/"+cs[1].ID+"?from="+cs[0].ID)
	// In the queue of tenant "shop", it is the third, and the filter is carried along.
	b := body(t, e.get(t, caseURL(cs[0])+"?tenant=shop", sess))
	mustContain(t, b, "/review/cases/"+cs[2].ID+"?from="+cs[0].ID+"&amp;tenant=shop", `name="q" value="tenant=shop"`)
	// Deciding goes on to the next case of the same queue.
	form := url.Values{"csrf": {e.csrf(t, sess)}, "version": {"1"}, "to": {"confirmed"}, "q": {"tenant=shop"}}
	rec := e.post(t, caseURL(cs[0])+"/decide", form, sess)
	if want := "/review/cases/" + cs[2].ID + "?done=" + cs[0].ID + "&from=" + cs[0].ID + "&tenant=shop"; rec.Header().Get("Location") != want {
		t.Errorf("after deciding: redirected to %q, want %q", rec.Header().Get("Location"), want)
	}
	// The last case has no next, and the previous is the one it was reached from.
	b = body(t, e.get(t, caseURL(cs[2])+"?from="+cs[1].ID, sess))
	mustContain(t, b, "last case of the queue", `id="prev-case"`)
}

func TestDecideAfterSessionExpired(t *testing.T) {
	t.Parallel()
	f := newDecideFixture(t)
	f.clock.Advance(13 * time.Hour)
	res := f.decide(t, review.Dismissed, 1, "")
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("status %d, want 303", res.StatusCode)
	}
	loc, _ := url.Parse(res.Header.Get("Location"))
	if loc.Path != "/review/login" || loc.Query().Get("m") != "expired" || loc.Query().Get("next") != caseURL(f.c) {
		t.Errorf("redirected to %s, want the login page, expired, returning to the case", loc)
	}
	f.unchanged(t)
}
