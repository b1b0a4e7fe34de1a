package faults

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"github.com/aura-art/aura/worker"
)

var (
	flagN           = flag.Int("faults.n", 10000, "submissions per scenario, the bad ones included")
	flagRate        = flag.Float64("faults.rate", 120, "submissions published per second")
	flagBad         = flag.Int("faults.bad", 20, "deliberately bad submissions (not pictures) among them, to be dead-lettered")
	flagScenarios   = flag.String("faults.scenarios", "worker-kill,redis-restart,nats-restart,redis-pause", "scenarios to run, comma-separated (also: baseline, no fault)")
	flagOut         = flag.String("faults.out", "results.md", "file the results table is written to (relative to faults/)")
	flagAura        = flag.String("faults.aura", "", "aura binary; empty: build ./cmd/aura")
	flagNATSServer  = flag.String("faults.nats-server", "", "nats-server binary (2.10 or later: sync_interval); empty: build the one go.mod names")
	flagRedisServer = flag.String("faults.redis-server", "redis-server", "redis-server binary")
	flagDrain       = flag.Duration("faults.drain", 6*time.Minute, "how long to wait for the submissions stream to empty after the last submission")
	flagKeep        = flag.Bool("faults.keep", false, "keep each scenario's directory (servers' data, logs)")
	flagConcurrency = flag.Int("faults.concurrency", 2, "--concurrency of each worker")
)

// scenario is one fault, injected once while submissions flow.
type scenario struct {
	name, fault string
	inject      func(t testing.TB, e *env)
}

var scenarios = []scenario{
	{"baseline", "none", func(testing.TB, *env) {}},
	{"worker-kill", "SIGKILL one of two workers while it holds submissions; restarted 3 s later", func(t testing.TB, e *env) {
		// Kill when the worker is working on something, so the fault strands deliveries
		// (redelivered after the consumer's ack wait, 30 s).
		w := e.workers[0]
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			m := map[string]float64{}
			if w.metrics(m) && m["in_flight"] > 0 {
				e.note = fmt.Sprintf("%s killed with %.0f submission(s) in flight", w.id, m["in_flight"])
				break
			}
		}
		w.p.kill()
		time.Sleep(3 * time.Second)
		e.workers[0].start(t, e.ps)
	}},
	{"redis-restart", "SIGKILL redis-server; restarted 2 s later (same port and dir, AOF fsync always)", func(t testing.TB, e *env) {
		e.redis.p.kill()
		time.Sleep(2 * time.Second)
		e.redis.start(t, e.ps)
	}},
	{"nats-restart", "SIGKILL nats-server; restarted 2 s later (same port and store dir, sync_interval always)", func(t testing.TB, e *env) {
		e.nats.p.kill()
		time.Sleep(2 * time.Second)
		e.nats.start(t, e.ps)
	}},
	{"redis-pause", "SIGSTOP redis-server for 5 s, then SIGCONT", func(t testing.TB, e *env) {
		if err := e.redis.p.signal(syscall.SIGSTOP); err != nil {
			t.Errorf("SIGSTOP: %v", err)
		}
		time.Sleep(5 * time.Second)
		if err := e.redis.p.signal(syscall.SIGCONT); err != nil {
			t.Errorf("SIGCONT: %v", err)
		}
	}},
}

// env is one scenario's private deployment.
type env struct {
	dir     string
	ps      *procs
	nats    *natsServer
	redis   *redisServer
	workers []*auraWorker
	note    string // what the fault hit, when known

	mu sync.Mutex // held by the fault: it replaces processes
}

func TestFaults(t *testing.T) {
	if os.Getenv("AURA_FAULTS") != "1" {
		t.Skip("the fault-injection suite runs with AURA_FAULTS=1 (see faults/run)")
	}
	if *flagBad >= *flagN || *flagN < 2 || *flagRate <= 0 {
		t.Fatal("want -faults.n ≥ 2, -faults.bad < -faults.n and -faults.rate > 0")
	}
	// Children must not pick up the caller's AURA_* settings (a shared Redis URL, say).
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "AURA_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	bins := t.TempDir()
	aura := *flagAura
	if aura == "" {
		aura = filepath.Join(bins, "aura")
		build(t, aura, "./cmd/aura")
	}
	natsBin := *flagNATSServer
	if natsBin == "" {
		natsBin = filepath.Join(bins, "nats-server")
		build(t, natsBin, "github.com/nats-io/nats-server/v2")
	}
	redisBin, err := exec.LookPath(*flagRedisServer)
	if err != nil {
		t.Fatal(err)
	}
	versions := fmt.Sprintf("%s, %s", version(natsBin, "--version"), version(redisBin, "--version"))
	t.Logf("binaries: aura %s; %s", aura, versions)

	fixtures, err := filepath.Abs("../fixtures")
	if err != nil {
		t.Fatal(err)
	}
	p := newPool(t, fixtures, 60)
	plans := newPlans(p, *flagN, *flagBad)

	var results []*outcome
	start := time.Now()
	for _, name := range strings.Split(*flagScenarios, ",") {
		var sc *scenario
		for i := range scenarios {
			if scenarios[i].name == strings.TrimSpace(name) {
				sc = &scenarios[i]
			}
		}
		if sc == nil {
			t.Fatalf("unknown scenario %q", name)
		}
		o := &outcome{Scenario: sc.name, Fault: sc.fault, Submitted: len(plans)}
		results = append(results, o)
		o.Passed = t.Run(sc.name, func(t *testing.T) { runScenario(t, sc, aura, natsBin, redisBin, p, plans, o) })
	}
	total := time.Since(start)
	table := resultsTable(results, total, versions)
	fmt.Println(table)
	if err := os.WriteFile(*flagOut, []byte(table), 0o644); err != nil {
		t.Errorf("write results: %v", err)
	}
}

// build compiles pkg (from the module root) into out.
func build(t *testing.T, out, pkg string) {
	t.Helper()
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = ".."
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
}

func version(bin, arg string) string {
	b, _ := exec.Command(bin, arg).Output()
	f := strings.Fields(string(b)) // "nats-server: v2.15.2", "Redis server v=7.0.15 sha=..."
	switch {
	case len(f) >= 2 && f[0] == "nats-server:":
		return "nats-server " + f[1]
	case len(f) >= 3 && f[0] == "Redis":
		return "redis-server " + strings.TrimPrefix(f[2], "v=")
	}
	return strings.TrimSpace(string(b))
}

// runScenario sets up a private deployment, registers the works, runs the load with the
// fault in the middle, waits for the pipeline to drain and checks what it left.
func runScenario(t *testing.T, sc *scenario, aura, natsBin, redisBin string, p *pool, plans []plan, o *outcome) {
	dir, err := os.MkdirTemp("", "aura-faults-"+sc.name+"-")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{dir: dir, ps: &procs{}}
	t.Cleanup(func() {
		e.ps.killAll()
		if t.Failed() {
			for _, f := range []string{"w1.log", "w2.log", "nats.log", "redis.log"} {
				t.Logf("--- tail of %s:\n%s", f, tail(filepath.Join(dir, f), 25))
			}
		}
		if *flagKeep || t.Failed() {
			t.Logf("kept %s", dir)
		} else {
			os.RemoveAll(dir)
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	e.redis = newRedis(t, e.ps, redisBin, dir)
	e.nats = newNATS(t, e.ps, natsBin, dir)
	setupLog := filepath.Join(dir, "setup.log")

	// Register the credited fixtures, then learn each pool picture's verdict from "aura check"
	// against the same registry.
	var manifest strings.Builder
	for i, w := range p.works {
		fmt.Fprintf(&manifest, `{"path":%q,"creator_id":%q,"title":%q,"id":"w_fault%02d"}`+"\n", w.path, w.creator, w.title, i)
	}
	mf := filepath.Join(dir, "works.jsonl")
	if err := os.WriteFile(mf, []byte(manifest.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := runCmd(ctx, setupLog, aura, "register", "--json", "--quiet", "--redis-url", e.redis.url(), "--manifest", mf); err != nil {
		t.Fatalf("aura register: %v\n%s\n%s", err, out, tail(setupLog, 20))
	}
	expected := expectedVerdicts(t, ctx, aura, e.redis.url(), dir, p)

	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(e.redis.port), MaxRetries: 10})
	defer rdb.Close()

	for i := range 2 {
		e.workers = append(e.workers, newWorker(t, e.ps, aura, dir, fmt.Sprintf("w%d", i+1), e.nats.url(), e.redis.url(), *flagConcurrency))
	}

	cc := worker.DefaultConnConfig()
	cc.URL, cc.Name, cc.ReconnectWait = e.nats.url(), "faults-submitter", 250*time.Millisecond
	nc, err := worker.Connect(ctx, cc, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	client, err := worker.NewClient(nc, worker.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}

	t.Logf("%s: submitting %d (%d bad) at %.0f/s; fault at #%d: %s", sc.name, len(plans), *flagBad, *flagRate, len(plans)/2, sc.fault)
	start := time.Now()
	faultDone := make(chan time.Duration, 1)
	sctx, scancel := context.WithCancel(ctx)
	defer scancel()
	watchdog := make(chan struct{})
	go func() { // stop submitting when a server died outside the fault
		defer close(watchdog)
		for sctx.Err() == nil {
			time.Sleep(time.Second)
			if err := e.deadProcess(); err != nil {
				t.Errorf("%s: %v: submissions stopped", sc.name, err)
				scancel()
			}
		}
	}()
	st := submit(sctx, client, plans, *flagRate, func() {
		e.mu.Lock() // deadProcess waits for the fault to end
		defer e.mu.Unlock()
		t0 := time.Now()
		t.Logf("%s: fault at %.1fs", sc.name, time.Since(start).Seconds())
		sc.inject(nonFatal{t}, e)
		faultDone <- time.Since(t0)
		t.Logf("%s: fault over after %.1fs %s", sc.name, time.Since(t0).Seconds(), e.note)
	})
	scancel()
	<-watchdog
	if t.Failed() {
		t.FailNow()
	}
	o.SubmitRate = float64(st.acked) / st.elapsed.Seconds()
	o.SubmitRetries, o.SubmitFailed = st.retries, len(st.failed)
	t.Logf("%s: submitted %d in %.1fs (%.0f/s), %d retries, %d acked as duplicate, %d never acked, slowest ack %v",
		sc.name, st.acked, st.elapsed.Seconds(), o.SubmitRate, st.retries, st.duplicates, len(st.failed), st.maxLatency.Round(time.Millisecond))
	select {
	case <-faultDone:
	case <-time.After(time.Minute):
		t.Errorf("the fault did not end within a minute")
	}

	// Drain: the submissions stream empty, the consumer with nothing pending.
	deadline := time.Now().Add(*flagDrain)
	lastLog := time.Now()
	for {
		err := idle(ctx, js, o)
		if err == nil && o.StreamMsgs == 0 && o.Pending == 0 && o.AckPending == 0 {
			o.Drained = true
			break
		}
		if err := e.deadProcess(); err != nil {
			t.Fatalf("%s: %v while draining: stream msgs %d, pending %d, ack pending %d", sc.name, err, o.StreamMsgs, o.Pending, o.AckPending)
		}
		if time.Now().After(deadline) {
			t.Errorf("not drained after %v: stream msgs %d, pending %d, ack pending %d (%v)", *flagDrain, o.StreamMsgs, o.Pending, o.AckPending, err)
			break
		}
		if time.Since(lastLog) > 15*time.Second {
			t.Logf("%s: draining: stream msgs %d, pending %d, ack pending %d (%v)", sc.name, o.StreamMsgs, o.Pending, o.AckPending, err)
			lastLog = time.Now()
		}
		time.Sleep(250 * time.Millisecond)
	}
	o.Elapsed = time.Since(start)
	for _, w := range e.workers {
		if !w.p.alive() {
			t.Errorf("worker %s exited: %v", w.id, w.p.err)
		}
	}

	cctx, ccancel := context.WithTimeout(ctx, 2*time.Minute)
	defer ccancel()
	if err := check(cctx, rdb, js, plans, expected, o); err != nil {
		t.Fatalf("check: %v", err)
	}
	o.WorkerNotes = workerNotes(e)
	o.FaultNote = e.note
	for _, f := range []string{"nats.log", "redis.log"} {
		if n, first := serverErrors(filepath.Join(dir, f)); n > 0 {
			o.ServerErrors = append(o.ServerErrors, fmt.Sprintf("%s: %d error lines, first: %s", f, n, first))
		}
	}
	for _, l := range o.ServerErrors {
		t.Logf("%s: %s", sc.name, l)
	}
	o.Metrics = map[string]float64{}
	for _, w := range e.workers {
		if !w.metrics(o.Metrics) {
			t.Errorf("worker %s: /metrics did not answer", w.id)
		}
	}
	t.Logf("%s: stored %d/%d, published %d raw / %d distinct, cases %d (flagged %d, other kinds %d), dead letters %d, upload log %d (%d distinct), lost %d, duplicated %d, wrong %d, %v; worker counters %v; worker warnings: %s",
		sc.name, o.Stored, o.Good, o.PubRaw, o.PubDistinct, o.Cases, o.Flagged, o.CasesOther, o.DeadRaw, o.UploadLog, o.UploadDistin,
		o.lost(), o.duplicated(), o.wrong(), o.Elapsed.Round(time.Second), o.Metrics, o.WorkerNotes)
	if !o.ok() {
		t.Errorf("%s: %s", sc.name, o.problems())
	}
	if o.Flagged == 0 {
		t.Errorf("%s: no submission was flagged: the pool's copies should be", sc.name)
	}
}

// expectedVerdicts writes the pool's pictures to files and asks "aura check" for their
// verdicts as the claimed creator.
func expectedVerdicts(t *testing.T, ctx context.Context, aura, redisURL, dir string, p *pool) []string {
	t.Helper()
	all := p.all()
	pd := filepath.Join(dir, "pool")
	if err := os.MkdirAll(pd, 0o755); err != nil {
		t.Fatal(err)
	}
	args := []string{"check", "--json", "--quiet", "--redis-url", redisURL, "--creator", claimedCreator}
	index := map[string]int{}
	for i, b := range all {
		f := filepath.Join(pd, fmt.Sprintf("%03d.jpg", i))
		if err := os.WriteFile(f, b, 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, f)
		index[f] = i
	}
	log := filepath.Join(dir, "setup.log")
	out, err := runCmd(ctx, log, aura, args...)
	if err != nil {
		t.Fatalf("aura check: %v\n%s", err, tail(log, 20))
	}
	want := make([]string, len(all))
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		var l struct {
			Path, Verdict, Error string
		}
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("aura check output: %v: %s", err, sc.Bytes())
		}
		i, ok := index[l.Path]
		if !ok || l.Error != "" {
			t.Fatalf("aura check: %s: %s", l.Path, l.Error)
		}
		want[i] = l.Verdict
	}
	counts := map[string]int{}
	for i, v := range want {
		if v == "" {
			t.Fatalf("aura check gave no verdict for pool picture %d", i)
		}
		counts[v]++
	}
	t.Logf("pool: %d copies of %d works, %d clear pictures; verdicts %v", len(p.flagged), len(p.works), len(p.clear), counts)
	return want
}

// workerNotes counts the worker log lines that tell what the fault did.
func workerNotes(e *env) string {
	counts := map[string]int{}
	starts := 0
	for _, w := range e.workers {
		starts += w.starts
		f, err := os.Open(w.log)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var l struct{ Level, Msg string }
			if json.Unmarshal(sc.Bytes(), &l) == nil && (l.Level == "warn" || l.Level == "error") {
				counts[l.Msg]++
			}
		}
		f.Close()
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := []string{fmt.Sprintf("%d starts", starts)}
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%q ×%d", k, counts[k]))
	}
	return strings.Join(parts, ", ")
}

// problems summarises what failed, with a few ids of each kind.
func (o *outcome) problems() string {
	var b strings.Builder
	list := func(name string, ids []string) {
		if len(ids) > 0 {
			fmt.Fprintf(&b, "%s: %d %v; ", name, len(ids), ids[:min(len(ids), 10)])
		}
	}
	dups := func(name string, m map[string]int) {
		if len(m) > 0 {
			ids := make([]string, 0, len(m))
			for id, n := range m {
				ids = append(ids, fmt.Sprintf("%s+%d", id, n))
			}
			sort.Strings(ids)
			list(name, ids)
		}
	}
	list("verdict not stored", o.StoredMissing)
	list("stored for an unknown id", o.StoredExtra)
	list("wrong verdict", o.WrongVerdict)
	list("verdict not published", o.PubMissing)
	dups("verdict published twice", o.PubDup)
	list("published for an unknown id", o.PubExtra)
	list("published differs from stored", o.PubMismatch)
	list("flagged without a case", o.CaseMissing)
	dups("duplicate case", o.CaseDup)
	list("case of an unflagged submission", o.CaseExtra)
	list("bad submission not dead-lettered", o.DeadMissing)
	dups("dead-lettered twice", o.DeadDup)
	list("dead-lettered unexpectedly", o.DeadUnexpected)
	if o.SubmitFailed > 0 {
		fmt.Fprintf(&b, "never acked by the stream: %d; ", o.SubmitFailed)
	}
	if !o.Drained || o.StreamMsgs+o.Pending > 0 || o.AckPending > 0 {
		fmt.Fprintf(&b, "stuck: stream msgs %d, pending %d, ack pending %d; ", o.StreamMsgs, o.Pending, o.AckPending)
	}
	return strings.TrimSuffix(b.String(), "; ")
}

// resultsTable renders the outcomes as Markdown.
func resultsTable(rs []*outcome, total time.Duration, versions string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Fault injection (`faults/run`), %s: %d CPUs, %s, %s; two `aura worker` processes × concurrency %d; "+
		"%d submissions a scenario (%d bad), published at %.0f/s; fault at the middle submission; total wall time %v.\n\n",
		time.Now().UTC().Format("2006-01-02"), runtime.NumCPU(), runtime.Version(), versions, *flagConcurrency,
		*flagN, *flagBad, *flagRate, total.Round(time.Second))
	b.WriteString("| scenario | fault | submitted (bad) | verdicts stored | verdicts published raw / distinct | cases / flagged | dead letters | lost | duplicated | stuck | time | result |\n")
	b.WriteString("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, o := range rs {
		stuck := fmt.Sprintf("%d / %d / %d", o.StreamMsgs, o.Pending, o.AckPending)
		res := "pass"
		if !o.Passed {
			res = "**FAIL** (see the test log)"
		}
		fmt.Fprintf(&b, "| %s | %s | %d (%d) | %d | %d / %d | %d / %d | %d | %d | %d | %s | %v | %s |\n",
			o.Scenario, o.Fault, o.Submitted, *flagBad, o.Stored, o.PubRaw, o.PubDistinct, o.Cases, o.Flagged, o.DeadRaw,
			o.lost(), o.duplicated(), stuck, o.Elapsed.Round(time.Second), res)
	}
	b.WriteString("\n\"stuck\" is SUBMISSIONS messages / consumer pending / ack pending after the drain. " +
		"\"time\" runs from the first submission until SUBMISSIONS is empty.\n\n")
	b.WriteString("| scenario | fault hit | submit rate achieved | submit retries | wrong | upload log entries / distinct | redelivered | outcomes (ok / retry / dead letter / handed back) | worker warnings | server errors |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, o := range rs {
		m := o.Metrics
		serr := strings.Join(o.ServerErrors, "; ")
		if serr == "" {
			serr = "none"
		}
		note := o.FaultNote
		if note == "" {
			note = "—"
		}
		fmt.Fprintf(&b, "| %s | %s | %.0f/s | %d | %d | %d / %d | %.0f | %.0f / %.0f / %.0f / %.0f | %s | %s |\n", o.Scenario, note, o.SubmitRate, o.SubmitRetries, o.wrong(),
			o.UploadLog, o.UploadDistin, m["redelivered"], m["ok"], m["retry"], m["dead_letter"], m["handed_back"], o.WorkerNotes, serr)
	}
	b.WriteString("\n\"wrong\": verdicts stored or published for unknown ids, differing from the picture's verdict by `aura check`, or between store and stream; cases of unflagged submissions; good submissions dead-lettered. " +
		"The upload log may hold a submission twice by design (index.AppendUpload; readers merge). " +
		"Worker counters come from /metrics at the end, so a killed worker's counts before the kill are missing.\n")
	return b.String()
}

// nonFatal turns Fatal in a goroutine other than the test's into Error and the end of that
// goroutine (FailNow may only be called from the test's goroutine).
type nonFatal struct{ *testing.T }

func (n nonFatal) Fatal(args ...any) { n.T.Helper(); n.T.Error(args...); runtime.Goexit() }
func (n nonFatal) Fatalf(format string, args ...any) {
	n.T.Helper()
	n.T.Errorf(format, args...)
	runtime.Goexit()
}

// deadProcess reports a server or worker that is not running.
func (e *env) deadProcess() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, p := range []*proc{e.nats.p, e.redis.p} {
		if !p.alive() {
			n, first := serverErrors(p.log)
			return fmt.Errorf("%s exited (%v); %d error lines in its log, first: %s", p.name, p.err, n, first)
		}
	}
	for _, w := range e.workers {
		if !w.p.alive() {
			return fmt.Errorf("worker %s exited (%v)", w.id, w.p.err)
		}
	}
	return nil
}
