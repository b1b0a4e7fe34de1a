package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aura-art/aura/internal/imgtest"
)

func TestAPICommand(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.vars["AURA_API_TOKENS"] = "ops=ops-token-0123456789abcdef"
	tokensFile := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(tokensFile, []byte("# shop\nshop=shop-token-0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- runMain(ctx, e, &out, &errOut, "api", "--listen", "127.0.0.1:0", "--api-tokens-file", tokensFile)
	}()

	// The address is in the "listening" log line.
	var addr string
	deadline := time.Now().Add(30 * time.Second)
	for addr == "" && time.Now().Before(deadline) {
		for l := range strings.Lines(errOut.String()) {
			var m map[string]any
			if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == "listening" {
				addr, _ = m["addr"].(string)
			}
		}
		select {
		case code := <-done:
			t.Fatalf("aura api exited %d:\n%s", code, errOut.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	if addr == "" {
		t.Fatalf("no listening line:\n%s", errOut.String())
	}

	post := func(token string) *http.Response {
		req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+addr+"/v1/works?creator_id=alice", bytes.NewReader(imgtest.Photo(200, 200, 1)))
		req.Header.Set("Content-Type", "image/jpeg")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := post("shop-token-0123456789abcdef"); resp.StatusCode != http.StatusCreated {
		t.Errorf("register with the file's token: %d", resp.StatusCode)
	}
	if resp := post("ops-token-0123456789abcdef"); resp.StatusCode != http.StatusOK {
		t.Errorf("again with the environment's token: %d, want 200 (exists)", resp.StatusCode)
	}
	if resp := post("nope-token-0123456789abcdef"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("unknown token: %d", resp.StatusCode)
	}
	http.DefaultClient.CloseIdleConnections()

	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit %d after shutdown:\n%s", code, errOut.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("aura api did not stop")
	}
}

func TestAPICommandNeedsTokens(t *testing.T) {
	t.Parallel()
	e := setup(t)
	r := e.mustRun(2, "api", "--listen", "127.0.0.1:0")
	if !strings.Contains(r.stderr, "AURA_API_TOKENS") {
		t.Errorf("stderr %q", r.stderr)
	}
	e.vars["AURA_API_TOKENS"] = "a=short"
	if r := e.mustRun(2, "api"); strings.Contains(r.stderr, "short") && strings.Contains(r.stderr, "=short") {
		t.Errorf("the error shows the token: %q", r.stderr)
	}
}
