package web_test

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/aura-art/aura/index"
	"github.com/aura-art/aura/review"
	"github.com/aura-art/aura/review/web"
	"github.com/aura-art/aura/verdict"
)

var rowRE = regexp.MustCompile(`<tr data-href="[^"]*" data-id="([^"]+)">`)

// rowIDs returns the case ids of a queue page, in order.
func rowIDs(b string) []string {
	var ids []string
	for _, m := range rowRE.FindAllStringSubmatch(b, -1) {
		ids = append(ids, m[1])
	}
	return ids
}

func TestQueueFilters(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.addWork(t, "ada", "Ada", "Sunrise")
	now := e.clock.Now()
	mk := func(o caseOpts) string {
		o.works = []*index.Work{w}
		return e.addCase(t, o).ID
	}
	old := mk(caseOpts{subject: "old", created: now.Add(-8 * 24 * time.Hour), score: 0.80})
	day := mk(caseOpts{subject: "day", tenant: "other", created: now.Add(-30 * time.Hour), score: 0.97, verdict: verdict.LikelyForgery})
	hour := mk(caseOpts{subject: "hour", kind: review.Rescan, created: now.Add(-2 * time.Hour), score: 0.88})
	fresh := mk(caseOpts{subject: "fresh", kind: review.Dispute, created: now.Add(-10 * time.Minute), score: 0.90})
	sess := e.login(t, "alice", alicePW)

	tests := []struct {
		query string
		want  []string
	}{
		{"", []string{old, day, hour, fresh}},
		{"?tenant=other", []string{day}},
		{"?kind=rescan", []string{hour}},
		{"?kind=dispute", []string{fresh}},
		{"?verdict=likely_forgery", []string{day}},
		{"?min=89", []string{day, fresh}},
		{"?min=89%25", []string{day, fresh}},
		{"?age=gt1h", []string{old, day, hour}},
		{"?age=gt1d", []string{old, day}},
		{"?age=gt7d", []string{old}},
		{"?age=lt1h", []string{fresh}},
		{"?age=gt1h&min=85&kind=upload", []string{day}},
		{"?state=dismissed", nil},
	}
	for _, tc := range tests {
		rec := e.get(t, "/review/"+tc.query, sess)
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s: status %d", tc.query, rec.Code)
		}
		if diff := cmp.Diff(tc.want, rowIDs(body(t, rec))); diff != "" {
			t.Errorf("GET %s: rows (-want +got):\n%s", tc.query, diff)
		}
	}
	for _, q := range []string{"?state=burned", "?kind=photo", "?verdict=maybe", "?min=101", "?min=x", "?age=3d", "?tenant=%3Cb%3E"} {
		rec := e.get(t, "/review/"+q, sess)
		if rec.Code != http.StatusBadRequest {
			t.Errorf("GET %s: status %d, want 400", q, rec.Code)
		}
		if b := body(t, rec); !strings.Contains(b, "Bad filter") || strings.Contains(b, "<b>") {
			t.Errorf("GET %s: want an escaped 'Bad filter' page", q)
		}
	}
}

func TestQueueCountsAndPaging(t *testing.T) {
	t.Parallel()
	e := setup(t, func(c *web.Config) { c.PageSize = 2 })
	w := e.addWork(t, "ada", "Ada", "Sunrise")
	now := e.clock.Now()
	var ids []string
	for i, k := range []review.Kind{review.Upload, review.Upload, review.Rescan, review.Retro, review.Dispute} {
		ids = append(ids, e.addCase(t, caseOpts{kind: k, subject: "s" + fmtV(int64(i)), created: now.Add(time.Duration(i-50) * time.Hour), works: []*index.Work{w}}).ID)
	}
	if _, err := e.cases.Decide(context.Background(), ids[4], 1, review.Decision{By: "bob", To: review.Confirmed}); err != nil {
		t.Fatal(err)
	}
	sess := e.login(t, "alice", alicePW)
	b := body(t, e.get(t, "/review/", sess))
	mustContain(t, b,
		`open <b>4</b>`, `confirmed <b>1</b>`, `dismissed <b>0</b>`,
		`upload 2</span>`, `rescan 1</span>`, `retro 1</span>`, `dispute 0</span>`,
		"oldest open <b", ">2d</b> old", // 50 hours
	)
	// Page through the open cases, two at a time.
	var got []string
	next := "/review/"
	for range 5 {
		b := body(t, e.get(t, next, sess))
		got = append(got, rowIDs(b)...)
		m := regexp.MustCompile(`href="([^"]+)" rel="next"`).FindStringSubmatch(b)
		if m == nil {
			break
		}
		next = strings.ReplaceAll(m[1], "&amp;", "&")
	}
	if diff := cmp.Diff(ids[:4], got); diff != "" {
		t.Errorf("paged queue (-want +got):\n%s", diff)
	}
}

func TestRegistry(t *testing.T) {
	t.Parallel()
	e := setup(t, func(c *web.Config) { c.PageSize = 2 })
	e.addWork(t, "ada", "Ada", "Sunrise over the Thames")
	e.addWork(t, "ada", "Ada", "Nocturne")
	e.addWork(t, "ada", "Ada", "Sunrise, again")
	e.addWork(t, "bea", "Bea", "A Sunrise")
	sess := e.login(t, "alice", alicePW)
	count := func(b string) int { return strings.Count(b, `<div class="thumb">`) }

	b := body(t, e.get(t, "/review/registry", sess))
	if count(b) != 0 {
		t.Error("the empty search lists works")
	}
	b = body(t, e.get(t, "/review/registry?creator=ada", sess))
	if count(b) != 2 || !strings.Contains(b, "next page") {
		t.Errorf("creator ada, page 1: %d works, want 2 and a next page", count(b))
	}
	b = body(t, e.get(t, "/review/registry?creator=bea", sess))
	mustContain(t, b, "A Sunrise", "/thumb.jpg", "CC BY-NC 4.0", "archive-token", `rel="noopener noreferrer"`)
	b = body(t, e.get(t, "/review/registry?q=sunrise", sess))
	if count(b) != 2 || !strings.Contains(b, "search further") {
		t.Errorf("title sunrise: %d works, want a page of 2 and more to search", count(b))
	}
	b = body(t, e.get(t, "/review/registry?q=sunrise&creator=ada", sess))
	if count(b) != 2 || strings.Contains(b, "A Sunrise") {
		t.Errorf("title sunrise by ada: %d works, want 2 of ada's", count(b))
	}
	b = body(t, e.get(t, "/review/registry?q=nothing-like-this", sess))
	mustContain(t, b, "No works found", "Looked at 4 works")
	if rec := e.get(t, "/review/registry?q="+strings.Repeat("x", 300), sess); rec.Code != http.StatusBadRequest {
		t.Errorf("an over-long search: status %d, want 400", rec.Code)
	}
}

func TestDashboard(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.addWork(t, "ada", "Ada", "Sunrise")
	c := e.addCase(t, caseOpts{subject: "s1", verdict: verdict.LikelyForgery, works: []*index.Work{w}})
	e.addCase(t, caseOpts{subject: "s2", kind: review.Retro, works: []*index.Work{w}})
	if _, err := e.cases.Decide(context.Background(), c.ID, 1, review.Decision{By: "bob", To: review.Dismissed}); err != nil {
		t.Fatal(err)
	}
	sess := e.login(t, "alice", alicePW)
	rec := e.get(t, "/review/dashboard", sess)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	b := body(t, rec)
	today := time.Now().UTC().Format(time.DateOnly)
	mustContain(t, b,
		"<title>"+today+": 2 opened, 1 decided</title>",
		"<b>2</b> opened, <b>1</b> decided in 14 days",
		"<td>likely forgery</td><td class=\"num\">1</td>",
		"<td>retro</td><td class=\"num\">1</td>",
		"<td>dismissed</td><td class=\"num\">1</td>",
	)
	if n := strings.Count(b, `<rect class="opened"`); n != 14 {
		t.Errorf("%d days charted, want 14", n)
	}
}

func TestStaticAndHeaders(t *testing.T) {
	t.Parallel()
	e := setup(t)
	rec := e.get(t, "/review/login", nil)
	b := body(t, rec)
	m := regexp.MustCompile(`src="(/review/static/app\.js\?v=[0-9a-f]+)"`).FindStringSubmatch(b)
	if m == nil {
		t.Fatal("the page does not load the script")
	}
	for _, h := range []string{"Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options"} {
		if rec.Header().Get(h) == "" {
			t.Errorf("no %s header", h)
		}
	}
	if rec.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("page Cache-Control %q, want no-store", rec.Header().Get("Cache-Control"))
	}
	js := e.get(t, m[1], nil) // static files need no session
	if js.Code != http.StatusOK || !strings.HasPrefix(js.Header().Get("Content-Type"), "text/javascript") || !strings.Contains(js.Body.String(), "keydown") {
		t.Errorf("script: status %d, type %q", js.Code, js.Header().Get("Content-Type"))
	}
	if rec := e.get(t, "/review/static/nope.js", nil); rec.Code != http.StatusNotFound {
		t.Errorf("missing static file: status %d", rec.Code)
	}
	sess := e.login(t, "alice", alicePW)
	if rec := e.get(t, "/review/no/such/page", sess); rec.Code != http.StatusNotFound {
		t.Errorf("unknown page: status %d, want 404", rec.Code)
	}
}
