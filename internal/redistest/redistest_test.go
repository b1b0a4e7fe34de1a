package redistest_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/aura-art/aura/internal/redistest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestStartStop(t *testing.T) {
	s := redistest.StartServer(t)
	if got, err := redistest.Do(s.Addr, "SET", "k", "v"); err != nil || got != "OK" {
		t.Fatalf("SET = %q, %v; want OK", got, err)
	}
	if got, err := redistest.Do(s.Addr, "GET", "k"); err != nil || got != "v" {
		t.Fatalf("GET = %q, %v; want v", got, err)
	}
	if _, err := redistest.Do(s.Addr, "NOSUCHCOMMAND"); err == nil {
		t.Error("an unknown command gave no error")
	}
	s.Stop()
	if err := redistest.Ping(s.Addr); err == nil {
		t.Error("server still answers after Stop")
	}
	s.Stop() // idempotent
}

func TestStartParallel(t *testing.T) {
	seen := make(chan string, 4)
	for range 4 {
		t.Run("server", func(t *testing.T) {
			t.Parallel()
			seen <- redistest.Start(t)
		})
	}
	t.Cleanup(func() {
		close(seen)
		addrs := map[string]bool{}
		for a := range seen {
			if addrs[a] {
				t.Errorf("address %s handed out twice", a)
			}
			addrs[a] = true
		}
	})
}
