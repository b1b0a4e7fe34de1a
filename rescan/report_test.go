package rescan_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/aura-art/aura/rescan"
	"github.com/aura-art/aura/verdict"
)

var reportResults = []rescan.Result{
	{ID: "a/b.jpg", Tenant: "archive", Source: "/x/a/b.jpg", Status: rescan.OK, Verdict: verdict.Derivative, WorkID: "w_1", Score: 0.91234, CaseID: "c_1", Millis: 12.345, Size: 5, MTime: 6, At: time.Unix(7, 0)},
	{ID: "", Tenant: "archive", Line: 3, Status: rescan.Error, Error: `line 3: bad JSON: "x", y`},
	{ID: "u", Tenant: "t", Source: "https://e.com/u.jpg", Status: rescan.Skipped, Verdict: verdict.Clear},
}

func TestReportJSONL(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	r, err := rescan.NewReport(&b, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, res := range reportResults {
		must(t, r.Write(res))
	}
	must(t, r.Close())
	want := `{"id":"a/b.jpg","tenant":"archive","source":"/x/a/b.jpg","status":"ok","verdict":"derivative","work_id":"w_1","score":0.91234,"case_id":"c_1","ms":12.3}
{"id":"","tenant":"archive","line":3,"status":"error","error":"line 3: bad JSON: \"x\", y","ms":0}
{"id":"u","tenant":"t","source":"https://e.com/u.jpg","status":"skipped","verdict":"clear","ms":0}
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("JSONL report (-want +got):\n%s", diff)
	}
}

func TestReportCSV(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "r.CSV")
	r, err := rescan.CreateReport(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, res := range reportResults {
		must(t, r.Write(res))
	}
	must(t, r.Close())
	got, _ := os.ReadFile(p)
	want := "id,tenant,line,source,status,verdict,work_id,score,case_id,error,ms\n" +
		"a/b.jpg,archive,,/x/a/b.jpg,ok,derivative,w_1,0.9123,c_1,,12.3\n" +
		",archive,3,,error,,,,,\"line 3: bad JSON: \"\"x\"\", y\",0.0\n" +
		"u,t,,https://e.com/u.jpg,skipped,clear,,,,,0.0\n"
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("CSV report (-want +got):\n%s", diff)
	}
	if _, err := rescan.CreateReport(filepath.Join(t.TempDir(), "r.txt")); err == nil || !strings.Contains(err.Error(), ".jsonl or .csv") {
		t.Errorf("CreateReport(r.txt) = %v; want a format error", err)
	}
}

func TestSummaryTable(t *testing.T) {
	t.Parallel()
	s := rescan.Summary{
		Items: 12, OK: 8, Verdicts: map[verdict.Kind]int{verdict.Clear: 5, verdict.OwnWork: 1, verdict.LikelyForgery: 1, verdict.Derivative: 1},
		Cases: 2, Errors: 1, Skipped: 3, Earlier: 2, EarlierErrors: 1, Duplicates: 1, Elapsed: 4500 * time.Millisecond,
	}
	var b strings.Builder
	must(t, s.WriteTable(&b))
	want := `items                   12
ok                       8
  clear                  5
  own_work               1
  likely_forgery         1
  derivative             1
flagged                  2  (2 cases open)
errors                   1
skipped                  3  (2 done earlier, 1 of them failed; 1 duplicates)
elapsed               4.5s
rate                   2.0 items/s
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("table (-want +got):\n%s", diff)
	}
	if s.NothingToDo() || !(rescan.Summary{Items: 3, Skipped: 3, Earlier: 3}).NothingToDo() {
		t.Error("NothingToDo is wrong")
	}
}
