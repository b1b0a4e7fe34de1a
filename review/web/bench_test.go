package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/aura-art/aura/hashing"
	"github.com/aura-art/aura/index"
	"github.com/aura-art/aura/review"
	"github.com/aura-art/aura/verdict"
)

// fillQueue opens n cases with one match each, created over the last 30 days, spread over
// 10 tenants, the four kinds and scores from 0.76 to 0.99.
func fillQueue(b *testing.B, e *env, n int) {
	b.Helper()
	ctx := context.Background()
	start := time.Now()
	now := e.clock.Now()
	span := 30 * 24 * time.Hour
	for i := range n {
		kind := review.Kinds[i%len(review.Kinds)]
		tenant := fmt.Sprintf("t%d", i%10)
		if kind == review.Dispute {
			tenant = ""
		}
		c := &review.Case{
			ID: fmt.Sprintf("c_%08d", i), Kind: kind, Tenant: tenant, SubjectID: fmt.Sprint(i),
			ClaimedCreator: "someone", Verdict: verdict.Derivative,
			Matches: []verdict.Match{{
				WorkID: "w_1", CreatorID: "ada", CreatorName: "Ada Lovelace", Title: "Sunrise over the Thames",
				Score: 0.76 + float64(i%24)/100, Distances: hashing.Distances{P: 4, D: 6, A: 3},
				Variant: "mirror", Orientation: "mirror",
			}},
			CreatedAt: now.Add(-span + time.Duration(i)*span/time.Duration(n)),
		}
		if _, _, err := e.cases.CreateCase(ctx, c); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("opened %d cases in %v (%v a case)", n, time.Since(start).Round(time.Millisecond), (time.Since(start) / time.Duration(n)).Round(time.Microsecond))
}

// BenchmarkQueuePage100k measures the queue page over a store of 100,000 open cases: the
// first page, filtered pages, and a filter that matches nothing (a scan of the whole queue).
func BenchmarkQueuePage100k(b *testing.B) {
	e := setup(b)
	fillQueue(b, e, 100_000)
	sess := e.login(b, "alice", alicePW)
	_, page2, err := e.cases.ListCases(context.Background(), review.Filter{Limit: 50})
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct{ name, query string }{
		{"first", ""},
		{"tenant+min", "?tenant=t3&min=95"},
		{"kind+age", "?kind=retro&age=gt7d"},
		{"page2", "?after=" + url.QueryEscape(page2)},
		{"nomatch", "?tenant=nobody"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "/review/"+bc.query, nil)
			req.AddCookie(sess)
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				e.srv.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d", rec.Code)
				}
			}
		})
	}
}

// BenchmarkCasePage measures a case page with ten candidate works, and its difference image.
func BenchmarkCasePage(b *testing.B) {
	e := setup(b)
	var works []*index.Work
	for i := range verdict.MaxMatches {
		works = append(works, e.addWork(b, "ada", "Ada Lovelace", fmt.Sprintf("Sunrise %d", i)))
	}
	fillQueue(b, e, 1000)
	c := e.addCase(b, caseOpts{subject: "bench", works: works})
	sess := e.login(b, "alice", alicePW)
	for _, bc := range []struct{ name, path string }{
		{"page", caseURL(c) + "?m=0"},
		{"diff", caseURL(c) + "/diff.png?m=0"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, bc.path, nil)
			req.AddCookie(sess)
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				e.srv.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d", rec.Code)
				}
			}
		})
	}
}
