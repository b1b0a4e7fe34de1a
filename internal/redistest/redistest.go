// Package redistest starts private redis-server processes for tests, so that no test touches
// a shared Redis. Each server listens on a free port of 127.0.0.1, keeps nothing on disk
// beyond a temporary directory, and is killed when the test ends.
//
// If redis-server is not on PATH, tests that need it are skipped, unless the environment
// variable CI is "true": then they fail, so CI cannot pass without Redis by accident.
package redistest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// startTimeout bounds how long Start waits for a new server to answer PING.
const startTimeout = 10 * time.Second

// Server is a running redis-server child process.
type Server struct {
	// Addr is "127.0.0.1:<port>".
	Addr string
	// Dir is the server's working directory (a t.TempDir); its log is Dir/redis.log.
	Dir string

	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	stop sync.Once
}

// Start starts a private redis-server for the test and returns its address. It is killed
// in t.Cleanup.
func Start(t testing.TB) string {
	t.Helper()
	return StartServer(t).Addr
}

// StartServer starts a private redis-server with extra command-line arguments (for example
// "--cluster-enabled", "yes") and returns it once it answers PING. It is stopped in
// t.Cleanup; Stop stops it earlier.
func StartServer(t testing.TB, args ...string) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-server not found (CI=true): apt-get install redis-server")
		}
		t.Skip("redis-server not found: apt-get install redis-server")
	}
	var lastErr error
	for range 5 { // the free port may be taken before the server binds it
		s, err := start(t, bin, args)
		if err == nil {
			return s
		}
		lastErr = err
	}
	t.Fatalf("redistest: %v", lastErr)
	return nil
}

func start(t testing.TB, bin string, extra []string) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dir := t.TempDir()
	logPath := filepath.Join(dir, "redis.log")
	args := append([]string{
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", dir, "--logfile", logPath, "--daemonize", "no",
	}, extra...)
	cmd := exec.Command(bin, args...)
	setDeathSignal(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start redis-server: %w", err)
	}
	s := &Server{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), Dir: dir, cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(s.Stop)
	if err := s.waitReady(); err != nil {
		s.Stop()
		log, _ := os.ReadFile(logPath)
		return nil, fmt.Errorf("redis-server on %s: %w\n%s", s.Addr, err, tail(string(log), 2000))
	}
	return s, nil
}

// StartACL starts a private redis-server whose users are those of the ACL file at path (a
// repository file such as deploy/redis-aura.acl), after replacing each key of replace with
// its value in the file's text (to set a test password or key pattern). The default user
// stays on for the harness.
func StartACL(t testing.TB, path string, replace map[string]string) *Server {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	for k, v := range replace {
		text = strings.ReplaceAll(text, k, v)
	}
	var lines []string
	for _, l := range strings.Split(text, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	lines = append(lines, "user default on nopass ~* &* +@all")
	acl := filepath.Join(t.TempDir(), "users.acl")
	if err := os.WriteFile(acl, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return StartServer(t, "--aclfile", acl)
}

// Stop kills the server and waits for it to exit. Calling it again does nothing.
func (s *Server) Stop() {
	s.stop.Do(func() {
		_ = s.cmd.Process.Kill()
		<-s.done
	})
}

// waitReady waits until the server answers PING, or it exits, or startTimeout passes.
func (s *Server) waitReady() error {
	deadline := time.Now().Add(startTimeout)
	for {
		err := Ping(s.Addr)
		if err == nil {
			return nil
		}
		select {
		case <-s.done:
			return errors.New("exited before answering PING")
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no PING answer after %v: %w", startTimeout, err)
		}
	}
}

// Ping sends PING to a Redis server over a fresh connection and expects +PONG.
func Ping(addr string) error {
	_, err := Do(addr, "PING")
	return err
}

// Do sends one command over a fresh connection and returns its reply's first line, without
// the type byte, for simple and integer replies; a bulk reply returns its contents; an error
// reply is an error. It needs no Redis client library, and is meant for setting up servers
// (CONFIG SET, CLUSTER ADDSLOTSRANGE, ...), not for the code under test.
func Do(addr string, args ...string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := c.Write([]byte(b.String())); err != nil {
		return "", err
	}
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("empty reply")
	}
	switch line[0] {
	case '-':
		return "", errors.New(line[1:])
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return "", err
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	}
	return line[1:], nil
}

// freePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
