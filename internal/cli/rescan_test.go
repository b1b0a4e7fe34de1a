package cli_test

import (
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aura-art/aura/index"
	"github.com/aura-art/aura/internal/cli"
	"github.com/aura-art/aura/internal/imgtest"
	"github.com/aura-art/aura/internal/synth"
	"github.com/aura-art/aura/review"
)

// childEnv makes the test binary run "aura" with its arguments instead of the tests, so a
// test can run a real aura process (and kill it) without building one.
const childEnv = "AURA_TEST_CLI_CHILD"

func init() {
	if os.Getenv(childEnv) != "1" {
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], cli.Stdio())
	stop()
	os.Exit(code)
}

// start runs aura with args in a child process that sees only the env's variables.
func (e *env) start(args ...string) (*exec.Cmd, *syncBuffer) {
	e.t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = []string{childEnv + "=1"}
	for k, v := range e.vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return cmd, &out
}

// reportLine is a line of a JSONL rescan report.
type reportLine struct {
	ID, Tenant, Source, Status, Verdict, Error string
	WorkID                                     string `json:"work_id"`
	CaseID                                     string `json:"case_id"`
}

// readJSONL reads the complete lines of a JSONL file (a torn last line is left out).
func readJSONL(t *testing.T, path string) []reportLine {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []reportLine
	for l := range strings.Lines(string(data)) {
		if !strings.HasSuffix(l, "\n") {
			break
		}
		var r reportLine
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("%s: %q: %v", path, l, err)
		}
		out = append(out, r)
	}
	return out
}

// countLines counts the complete lines of a file, 0 when it does not exist.
func countLines(path string) int {
	data, _ := os.ReadFile(path)
	return strings.Count(string(data), "\n")
}

// TestRescanResumesAfterKill runs "aura rescan" over 400 pictures in a child process that
// owns the embedded store, kills it with SIGKILL once the journal holds a quarter of them,
// runs the same command again to completion, and counts the items processed twice. A
// finished rescan run again does nothing; --force redoes everything.
func TestRescanResumesAfterKill(t *testing.T) {
	t.Parallel()
	e := setup(t)
	for i := range 3 {
		e.file(fmt.Sprintf("works/%d.jpg", i), imgtest.Photo(320, 240, uint64(i+1)))
	}
	e.mustRun(0, "register", "--creator", "alice", "--quiet", filepath.Join(e.dir, "works"))
	const n = 400
	archive := filepath.Join(e.dir, "archive")
	copies := map[string]bool{}
	for i := range n {
		id := fmt.Sprintf("%02d/%03d.jpg", i%20, i)
		data := synth.JPEG(96, 72, uint64(10_000+i), 80)
		if i%100 == 0 { // four copies of alice's works, claimed by nobody: likely forgeries
			data, copies[id] = imgtest.Reencoded(320, 240, uint64(i/100%3+1), 70), true
		}
		e.file("archive/"+id, data)
	}
	// Every picture's access time goes back to 2000, so that (where the file system keeps
	// access times) a picture the killed run read, but did not finish, shows.
	longAgo := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	atimes := tracksAccess(t, longAgo)
	if atimes {
		_ = filepath.WalkDir(archive, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				info, _ := d.Info()
				mustOK(t, os.Chtimes(p, longAgo, info.ModTime()))
			}
			return err
		})
	}
	sum := sha256.Sum256([]byte(archive))
	stateDir := filepath.Join(e.vars["AURA_DATA_DIR"], "rescans", hex.EncodeToString(sum[:]))
	journal := filepath.Join(stateDir, "journal.jsonl")
	report := filepath.Join(t.TempDir(), "report.jsonl")
	// Two workers: at most two items are in progress when the process is killed.
	args := []string{"rescan", "--rate", "150", "--concurrency", "2", "--report", report, "--progress-every", "200ms", archive}

	// First run: killed with SIGKILL once a quarter is done.
	child, out := e.start(args...)
	deadline := time.Now().Add(time.Minute)
	busyChecked := false
	for countLines(journal) < n/4 {
		if time.Now().After(deadline) {
			t.Fatalf("the journal holds %d lines after a minute; output:\n%s", countLines(journal), out)
		}
		if !busyChecked && countLines(journal) > 0 {
			// A second rescan of the source is refused while the first runs, before it
			// touches the store.
			r := e.run(args...)
			if r.code != 1 || !strings.Contains(r.stderr, "another aura rescan") {
				t.Errorf("a concurrent rescan: exit %d, stderr %q; want it refused", r.code, r.stderr)
			}
			busyChecked = true
		}
		time.Sleep(2 * time.Millisecond)
	}
	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	err := child.Wait()
	if ws, ok := child.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
		t.Fatalf("the first run was not killed (%v): it finished first? output:\n%s", err, out)
	}
	if !strings.Contains(out.String(), "rescan: ") {
		t.Errorf("no progress lines on a non-terminal stderr:\n%s", out)
	}
	done1 := map[string]bool{}
	for _, l := range readJSONL(t, journal) {
		done1[l.ID] = true
	}
	if len(done1) < n/4 || len(done1) >= n {
		t.Fatalf("after the kill the journal holds %d items; want at least %d and fewer than %d", len(done1), n/4, n)
	}
	// The items read but not finished when the process died: lost work, done again.
	inFlight := 0
	if atimes {
		_ = filepath.WalkDir(archive, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return err
			}
			info, _ := d.Info()
			if at, _ := accessTime(info); at.After(longAgo) && !done1[filepath.ToSlash(mustValue(filepath.Rel(archive, p)))] {
				inFlight++
			}
			return nil
		})
	}
	// A crash may leave a torn last line: it must not spoil the next run.
	f, err := os.OpenFile(journal, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString(`{"id":"00/000.jpg","tenant":"archive","sta`)
	f.Close()

	// Second run: to completion, again in a process of its own.
	child, out = e.start(args...)
	if err := child.Wait(); err != nil {
		t.Fatalf("the resumed run: %v\n%s", err, out)
	}
	lines := readJSONL(t, report)
	status := map[string]string{}
	twice := 0
	for _, l := range lines {
		status[l.ID] = l.Status
		if l.Status != "skipped" && done1[l.ID] {
			twice++
		}
		if copies[l.ID] && (l.Verdict != "likely_forgery" || l.CaseID == "") {
			t.Errorf("copy %s: %+v; want a likely forgery with a case", l.ID, l)
		}
	}
	if len(lines) != n || len(status) != n {
		t.Errorf("the resumed run's report has %d lines for %d items; want %d, each once", len(lines), len(status), n)
	}
	perKey := map[string]int{}
	for _, l := range readJSONL(t, journal) {
		perKey[l.ID]++
	}
	journaledTwice := 0
	for _, k := range perKey {
		if k > 1 {
			journaledTwice++
		}
	}
	t.Logf("killed with %d of %d items in the journal and %d read but unfinished; the resumed run skipped %d and checked %d: %d finished twice, %d processed twice in all (%.2f%%)",
		len(done1), n, inFlight, len(done1)-twice, n-len(done1)+twice, twice, twice+inFlight, 100*float64(twice+inFlight)/n)
	if !atimes {
		t.Log("the file system keeps no access times here: the items in progress at the kill are not counted")
	}
	if (twice+inFlight)*100 > n || journaledTwice != twice || len(perKey) != n {
		t.Errorf("%d items finished twice, %d in progress at the kill, %d journaled twice, %d in the journal; want at most 1%% of %d processed twice, each in the journal once",
			twice, inFlight, journaledTwice, len(perKey), n)
	}
	if got := tableValue(out.String(), "items"); got != n {
		t.Errorf("the summary counts %d items; want %d:\n%s", got, n, out)
	}

	// Third run: nothing to do. The report still lists every item, with its verdict.
	r := e.mustRun(0, args...)
	if want := fmt.Sprintf("nothing to do: %d items already rescanned; --force to redo\n", n); r.stdout != want {
		t.Errorf("a finished rescan again printed %q; want %q", r.stdout, want)
	}
	lines = readJSONL(t, report)
	for _, l := range lines {
		if l.Status != "skipped" || l.Verdict == "" {
			t.Errorf("third run: %+v; want skipped with its verdict", l)
			break
		}
	}
	if len(lines) != n {
		t.Errorf("third run's report has %d lines; want %d", len(lines), n)
	}

	// --force redoes everything.
	r = e.mustRun(0, append([]string{"rescan", "--force"}, args[1:]...)...)
	checked := 0
	for _, l := range readJSONL(t, report) {
		if l.Status == "ok" {
			checked++
		}
	}
	if checked != n || tableValue(r.stdout, "likely_forgery") != len(copies) {
		t.Errorf("--force checked %d items; want %d\n%s", checked, n, r.stdout)
	}

	// The copies opened one rescan case each, however many runs saw them.
	s, err := index.OpenBolt(filepath.Join(e.vars["AURA_DATA_DIR"], "aura.db"), index.DefaultBoltOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cases, err := review.NewBoltStore(s.DB())
	if err != nil {
		t.Fatal(err)
	}
	page, _, err := cases.ListCases(context.Background(), review.Filter{Kind: review.Rescan})
	if err != nil || len(page) != len(copies) {
		t.Fatalf("rescan cases: %d, %v; want %d", len(page), err, len(copies))
	}
	for _, c := range page {
		if !copies[c.SubjectID] || c.Tenant != "archive" || c.Verdict != "likely_forgery" {
			t.Errorf("case %+v", c)
		}
	}
}

// TestRescanCommand rescans a directory with a CSV report, then stdin with the report on
// stdout, and checks the usage errors.
func TestRescanCommand(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.mustRun(0, "register", "--creator", "alice", e.file("work.jpg", imgtest.Photo(320, 240, 1)))
	e.file("archive/copy.jpg", imgtest.Mirrored(320, 240, 1))
	e.file("archive/sub/other.png", imgtest.Photo(120, 90, 2))
	e.file("archive/broken.gif", []byte("not a picture at all"))
	e.file("archive/notes.txt", []byte("not an image name"))
	archive := filepath.Join(e.dir, "archive")
	report := filepath.Join(t.TempDir(), "r.csv")

	r := e.mustRun(1, "rescan", "--tenant", "shop", "--report", report, archive) // broken.gif fails
	for name, want := range map[string]int{"items": 3, "ok": 2, "derivative": 1, "flagged": 1, "errors": 1, "skipped": 0} {
		if got := tableValue(r.stdout, name); got != want {
			t.Errorf("summary: %s %d; want %d:\n%s", name, got, want, r.stdout)
		}
	}
	if !strings.Contains(r.stdout, "(1 cases open)") {
		t.Errorf("summary lacks the case:\n%s", r.stdout)
	}
	fh, err := os.Open(report)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(fh).ReadAll()
	fh.Close()
	if err != nil || len(recs) != 4 || strings.Join(recs[0], ",") != "id,tenant,line,source,status,verdict,work_id,score,case_id,error,ms" {
		t.Fatalf("CSV report: %v, %v", recs, err)
	}
	byID := map[string][]string{}
	for _, rec := range recs[1:] {
		byID[rec[0]] = rec
	}
	if c := byID["copy.jpg"]; c[1] != "shop" || c[3] != filepath.Join(archive, "copy.jpg") || c[4] != "ok" || c[5] != "derivative" || c[6] == "" || c[8] == "" {
		t.Errorf("copy.jpg: %v", c)
	}
	if c := byID["broken.gif"]; c[4] != "error" || !strings.Contains(c[9], "unsupported image format") {
		t.Errorf("broken.gif: %v", c)
	}

	r = e.mustRun(0, "rescan", "--tenant", "shop", archive)
	if want := "nothing to do: 3 items already rescanned; --force to redo (1 of them failed: --retry-errors to retry those)\n"; r.stdout != want {
		t.Errorf("again: %q; want %q", r.stdout, want)
	}

	// Stdin: paths and URLs, the report on stdout and the summary on stderr.
	var out, errOut syncBuffer
	in := filepath.Join(archive, "copy.jpg") + "\n" +
		`{"path": "` + filepath.Join(archive, "sub", "other.png") + `", "id": "p2", "tenant": "t2"}` + "\n" +
		"http://10.0.0.1/forbidden.jpg\n" +
		"{oops\n"
	std := cli.IO{Stdin: strings.NewReader(in), Stdout: &out, Stderr: &errOut, Getenv: func(k string) string { return e.vars[k] }}
	if code := cli.Main(context.Background(), []string{"rescan", "--quiet", "--report", "-", "-"}, std); code != 1 {
		t.Errorf("stdin: exit %d; want 1 (two lines fail)\n%s", code, errOut.String())
	}
	byLine := map[float64]map[string]any{} // the report comes in the order items finish
	for _, l := range lines(t, out.String()) {
		byLine[l["line"].(float64)] = l
	}
	if len(byLine) != 4 || byLine[1]["verdict"] != "derivative" || byLine[1]["tenant"] != "archive" || byLine[2]["id"] != "p2" || byLine[2]["tenant"] != "t2" ||
		!strings.Contains(fmt.Sprint(byLine[3]["error"]), "forbidden") || !strings.Contains(fmt.Sprint(byLine[4]["error"]), "line 4: bad JSON") {
		t.Errorf("stdin report:\n%s", out.String())
	}
	if got := tableValue(errOut.String(), "errors"); got != 2 {
		t.Errorf("stdin summary: %d errors; want 2:\n%s", got, errOut.String())
	}

	manifest := e.file("m.jsonl", []byte(`{"path": "archive/copy.jpg"}`+"\n"))
	for _, args := range [][]string{
		{"rescan"},
		{"rescan", archive, archive},
		{"rescan", "--report", "r.txt", archive},
		{"rescan", filepath.Join(archive, "copy.jpg")},
		{"rescan", "--all", manifest},
		{"rescan", "--tenant", "no spaces", archive},
		{"rescan", "--concurrency", "0", archive},
	} {
		if r := e.run(args...); r.code != 2 {
			t.Errorf("aura %s: exit %d, want 2\n%s", strings.Join(args, " "), r.code, r.stderr)
		}
	}
	if r := e.run("rescan", "--listen", "256.0.0.1:1", "--quiet", manifest); r.code != 1 || !strings.Contains(r.stderr, "--listen") {
		t.Errorf("a bad --listen: exit %d, %q", r.code, r.stderr)
	}
}

// tableValue is the number on the summary table's line name, -1 when there is none.
func tableValue(table, name string) int {
	for l := range strings.Lines(table) {
		f := strings.Fields(l)
		if len(f) >= 2 && f[0] == name {
			var n int
			if _, err := fmt.Sscan(f[1], &n); err == nil {
				return n
			}
		}
	}
	return -1
}

// tracksAccess reports whether reading a file whose access time is since (in the past)
// moves it, as Linux's relatime does: then access times tell which files were read.
func tracksAccess(t *testing.T, since time.Time) bool {
	t.Helper()
	p := filepath.Join(t.TempDir(), "probe")
	mustOK(t, os.WriteFile(p, []byte("x"), 0o644))
	mustOK(t, os.Chtimes(p, since, time.Now()))
	if _, err := os.ReadFile(p); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	at, ok := accessTime(info)
	return ok && at.After(since)
}

// accessTime returns a file's last access time where the platform's stat has it (the Atim
// field of Linux's syscall.Stat_t).
func accessTime(info os.FileInfo) (time.Time, bool) {
	v := reflect.ValueOf(info.Sys())
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return time.Time{}, false
	}
	a := v.FieldByName("Atim")
	if !a.IsValid() || !a.FieldByName("Sec").IsValid() {
		return time.Time{}, false
	}
	return time.Unix(a.FieldByName("Sec").Int(), a.FieldByName("Nsec").Int()), true
}

func mustOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func mustValue[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
