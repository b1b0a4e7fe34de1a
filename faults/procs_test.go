package faults

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"
)

// proc is a child process whose output goes to a log file. It dies with the test process
// (Pdeathsig), and every proc a test starts is killed by its cleanup.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{} // closed when the process has been reaped
	err  error         // Wait's error, after done
}

// procs tracks the processes of one scenario, so that all of them are killed at its end.
type procs struct {
	mu  sync.Mutex
	all []*proc
}

// start runs bin with args, appending its stdout and stderr to logPath.
func (ps *procs) start(t testing.TB, name, logPath, bin string, args ...string) *proc {
	t.Helper()
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatalf("%s: log: %v", name, err)
	}
	fmt.Fprintf(f, "=== %s start %s: %s %s\n", name, time.Now().Format(time.RFC3339Nano), bin, strings.Join(args, " "))
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	// Pdeathsig: should the test binary die (a panic, go test's timeout, SIGKILL), the
	// kernel kills its children too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("%s: start %s: %v", name, bin, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	ps.mu.Lock()
	ps.all = append(ps.all, p)
	ps.mu.Unlock()
	return p
}

// kill sends SIGKILL and waits until the process is reaped.
func (p *proc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// signal sends sig to the process.
func (p *proc) signal(sig syscall.Signal) error { return p.cmd.Process.Signal(sig) }

// stop sends SIGTERM and waits up to grace for the process to end, then kills it.
func (p *proc) stop(grace time.Duration) {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		p.kill()
	}
}

// alive reports whether the process has not exited.
func (p *proc) alive() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// killAll kills every process still running (SIGCONT first, in case one is stopped).
func (ps *procs) killAll() {
	ps.mu.Lock()
	all := append([]*proc(nil), ps.all...)
	ps.mu.Unlock()
	for _, p := range all {
		if p.alive() {
			_ = p.signal(syscall.SIGCONT)
			p.kill()
		}
	}
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// errExited is waitFor's error for a process that exited while it was awaited.
var errExited = errors.New("exited")

// waitFor polls ok every 50 ms until it returns nil or errExited, or d passes, and returns
// its last error.
func waitFor(d time.Duration, ok func() error) error {
	deadline := time.Now().Add(d)
	for {
		err := ok()
		if err == nil || errors.Is(err, errExited) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// natsServer is a private nats-server with JetStream on disk, fsyncing every write.
type natsServer struct {
	bin, dir, conf, log string
	port, mon           int // client and monitoring ports
	p                   *proc
}

func (s *natsServer) url() string { return "nats://127.0.0.1:" + strconv.Itoa(s.port) }

// newNATS writes the server's configuration into dir and starts it.
func newNATS(t testing.TB, ps *procs, bin, dir string) *natsServer {
	t.Helper()
	s := &natsServer{bin: bin, dir: filepath.Join(dir, "jetstream"), conf: filepath.Join(dir, "nats.conf"),
		log: filepath.Join(dir, "nats.log"), port: freePort(t), mon: freePort(t)}
	// sync_interval: always makes the server fsync each write before it acknowledges it;
	// the default (2 min) lets an OS crash or kill -9 lose acknowledged messages (Jepsen,
	// NATS 2.12.1, 2025).
	// The port, address and store directory are on the command line.
	conf := "server_name: faults\nmax_payload: 8MB\njetstream {\n  sync_interval: always\n}\n"
	if err := os.WriteFile(s.conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	s.start(t, ps)
	// The server must really fsync every write: /varz shows the JetStream settings in force.
	var varz struct {
		JetStream struct {
			Config struct {
				SyncAlways bool `json:"sync_always"`
			} `json:"config"`
		} `json:"jetstream"`
	}
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/varz", s.mon))
	if err != nil {
		t.Fatalf("nats-server /varz: %v", err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&varz); err != nil || !varz.JetStream.Config.SyncAlways {
		t.Fatalf("nats-server /varz: want jetstream.config.sync_always true (%v)", err)
	}
	return s
}

// start starts the server (again) and waits until JetStream answers.
func (s *natsServer) start(t testing.TB, ps *procs) {
	t.Helper()
	s.p = ps.start(t, "nats", s.log, s.bin, "-c", s.conf, "-js", "-sd", s.dir, "-a", "127.0.0.1", "-p", strconv.Itoa(s.port), "-m", strconv.Itoa(s.mon))
	err := waitFor(30*time.Second, func() error {
		if !s.p.alive() {
			return errExited
		}
		nc, err := nats.Connect(s.url(), nats.Timeout(time.Second))
		if err != nil {
			return err
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err = js.AccountInfo(ctx)
		return err
	})
	if err != nil {
		t.Fatalf("nats-server on port %d not ready: %v\n%s", s.port, err, tail(s.log, 30))
	}
}

// redisServer is a private redis-server with the append-only file fsynced on every write.
type redisServer struct {
	bin, dir, log string
	port          int
	p             *proc
}

func (s *redisServer) url() string { return "redis://127.0.0.1:" + strconv.Itoa(s.port) + "/0" }

func newRedis(t testing.TB, ps *procs, bin, dir string) *redisServer {
	t.Helper()
	s := &redisServer{bin: bin, dir: filepath.Join(dir, "redis"), log: filepath.Join(dir, "redis.log"), port: freePort(t)}
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	s.start(t, ps)
	return s
}

// start starts the server (again, on the same port and directory, reloading the AOF) and
// waits until it answers PING (which it does only once the AOF is loaded).
func (s *redisServer) start(t testing.TB, ps *procs) {
	t.Helper()
	s.p = ps.start(t, "redis", s.log, s.bin, "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--dir", s.dir, "--appendonly", "yes", "--appendfsync", "always", "--save", "",
		"--daemonize", "no", "--logfile", "")
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(s.port), MaxRetries: -1})
	defer rdb.Close()
	err := waitFor(30*time.Second, func() error {
		if !s.p.alive() {
			return errExited
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		return rdb.Ping(ctx).Err()
	})
	if err != nil {
		t.Fatalf("redis-server on port %d not ready: %v\n%s", s.port, err, tail(s.log, 30))
	}
}

// auraWorker is one "aura worker" process.
type auraWorker struct {
	id, bin, log string
	args         []string
	ops          int // port of /readyz and /metrics
	p            *proc
	starts       int
}

func newWorker(t testing.TB, ps *procs, bin, dir, id, natsURL, redisURL string, concurrency int) *auraWorker {
	t.Helper()
	w := &auraWorker{id: id, bin: bin, log: filepath.Join(dir, id+".log"), ops: freePort(t)}
	w.args = []string{"worker", "--nats-url", natsURL, "--redis-url", redisURL,
		"--worker-id", id, "--concurrency", strconv.Itoa(concurrency),
		"--listen", "127.0.0.1:" + strconv.Itoa(w.ops), "--log-level", "info"}
	w.start(t, ps)
	return w
}

// start starts the worker (again) and waits until /readyz answers 200.
func (w *auraWorker) start(t testing.TB, ps *procs) {
	t.Helper()
	w.starts++
	w.p = ps.start(t, w.id, w.log, w.bin, w.args...)
	hc := &http.Client{Timeout: time.Second}
	err := waitFor(60*time.Second, func() error {
		if !w.p.alive() {
			return errExited
		}
		resp, err := hc.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", w.ops))
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("readyz: %s", resp.Status)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("worker %s not ready: %v\n%s", w.id, err, tail(w.log, 30))
	}
}

// runCmd runs bin with args to completion and returns its standard output; stderr goes to
// logPath.
func runCmd(ctx context.Context, logPath, bin string, args ...string) ([]byte, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fmt.Fprintf(f, "=== %s %s\n", bin, strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, bin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	err = cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 3 { // "aura check": some picture is flagged
		err = nil
	}
	return out.Bytes(), err
}

// metrics reads the worker's counters from /metrics: redeliveries and submissions by
// outcome, added into m. It returns false when the worker does not answer.
func (w *auraWorker) metrics(m map[string]float64) bool {
	hc := &http.Client{Timeout: 2 * time.Second}
	resp, err := hc.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", w.ops))
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		name, val, ok := strings.Cut(line, " ")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		v, err := strconv.ParseFloat(val, 64)
		if err != nil {
			continue
		}
		switch {
		case name == "aura_submissions_in_flight":
			m["in_flight"] += v
		case name == "aura_redeliveries_total":
			m["redelivered"] += v
		case strings.HasPrefix(name, "aura_submissions_total{"):
			if _, rest, ok := strings.Cut(name, `outcome="`); ok {
				o, _, _ := strings.Cut(rest, `"`)
				m[o] += v
			}
		}
	}
	return true
}

// serverErrors counts the lines of a server's log that report errors: "[ERR]" from
// nats-server, "#" warnings that say error, short write or exiting from redis-server.
func serverErrors(path string) (n int, first string) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, ""
	}
	for _, l := range strings.Split(string(b), "\n") {
		lower := strings.ToLower(l)
		if strings.Contains(l, "[ERR]") || strings.Contains(l, " # ") &&
			(strings.Contains(lower, "error") || strings.Contains(lower, "short write") || strings.Contains(lower, "exiting")) {
			if n == 0 {
				first = l
			}
			n++
		}
	}
	return n, first
}
