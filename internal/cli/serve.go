package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/aura-art/aura/api"
	"github.com/aura-art/aura/review/web"
	"github.com/aura-art/aura/worker"
)

func init() {
	register(command{name: "serve", summary: "run everything on one machine: embedded NATS and store, a worker, the HTTP API, the review page", run: runServe})
}

func runServe(ctx context.Context, std IO, args []string) error {
	fs := newFlagSet(std, "serve", "[--demo] [flags]")
	listen := fs.String("listen", "127.0.0.1:8080", "address of the HTTP API, the review page (/review/), /metrics, /livez and /readyz")
	natsListen := fs.String("nats-listen", worker.DefaultEmbeddedConfig().Listen, "client address of the embedded NATS server (a loopback address: it has no authentication)")
	natsMaxPayload := fs.Int("nats-max-payload", int(worker.DefaultEmbeddedConfig().MaxPayload), "largest NATS message, in bytes (must hold --max-inline-bytes as base64)")
	demo := fs.Bool("demo", false, "register the fixtures and submit transformed copies of them, printing their verdicts")
	fixtures := fs.String("fixtures", "fixtures", "directory holding manifest.jsonl and images/, for --demo")
	tokens := fs.String("api-tokens", "", `API tokens, "name=token,..." (default: one generated and kept in <data-dir>/api-token)`)
	tokensFile := fs.String("api-tokens-file", "", "file of API tokens, one name=token a line")
	logJSON := fs.Bool("log-json", false, "log JSON lines instead of readable ones")
	logLevel := logLevelFlag(fs)
	wo := workerFlags(fs)
	ro := registryFlags(fs)
	rvo := reviewFlags(fs)
	if err := fs.parseNoArgs(args); err != nil {
		return err
	}
	rc, err := ro.config()
	if err != nil {
		return err
	}
	wc, err := wo.config(rc.Hashing.MaxBytes)
	if err != nil {
		return err
	}
	ec := worker.DefaultEmbeddedConfig()
	ec.Listen, ec.MaxPayload = *natsListen, int32(min(*natsMaxPayload, 64<<20))
	dataDir := ro.store.dataDir
	if dataDir == "" {
		return fmt.Errorf("%w: --data-dir is empty", errUsage)
	}
	ec.StoreDir = filepath.Join(dataDir, "nats")
	if err := ec.Validate(); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if need := worker.MaxMessageBytes(wc.MaxInlineBytes); need > int64(ec.MaxPayload) {
		return fmt.Errorf("%w: --nats-max-payload %d cannot carry an inline image of --max-inline-bytes %d (needs %d)", errUsage, ec.MaxPayload, wc.MaxInlineBytes, need)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	apiCfg := api.DefaultConfig()
	if apiCfg.Tokens, err = readTokens(*tokens, *tokensFile); err != nil {
		return err
	}
	tokenPath := ""
	if len(apiCfg.Tokens) == 0 {
		tokenPath = filepath.Join(dataDir, "api-token")
		tok, err := localToken(tokenPath)
		if err != nil {
			return err
		}
		apiCfg.Tokens = map[string]string{"local": tok}
	}
	apiCfg.MaxBytes, apiCfg.Fetch = rc.Hashing.MaxBytes, wc.Fetch
	if err := apiCfg.Validate(); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}

	var log *zap.Logger
	if *logJSON {
		log = jsonLogger(std, *logLevel)
	} else {
		log = newLogger(std, *logLevel)
	}
	defer func() { _ = log.Sync() }()

	emb, err := worker.StartEmbedded(ec, log)
	if err != nil {
		return err
	}
	defer emb.Shutdown()
	reg, err := ro.open(ctx, log)
	if err != nil {
		return err
	}
	defer reg.Close()
	deps, metrics, err := workerDeps(reg)
	if err != nil {
		return err
	}
	cc := worker.DefaultConnConfig()
	cc.URL, cc.Name = emb.ClientURL(), "aura-serve"
	nc, err := worker.Connect(ctx, cc, log)
	if err != nil {
		return err
	}
	defer nc.Close()
	w, err := worker.New(nc, deps, wc, log)
	if err != nil {
		return err
	}
	mux := opsHandler(metrics, []readiness{
		{"nats", func(context.Context) error {
			if !emb.Ready() || !nc.IsConnected() {
				return errNotReady("embedded NATS server not ready")
			}
			return nil
		}},
		storeReady(reg.store), matcherReady(reg.Matcher()), workerReady(w),
	})
	page, pub, err := rvo.parts(reg.cases, reg.store, nc, wc.Streams, log)
	if err != nil {
		return err
	}
	adminPath := filepath.Join(dataDir, "admin-password")
	newAdmin, err := bootstrapAdmin(ctx, reg.cases, adminPath)
	if err != nil {
		return err
	}
	mux.Handle(web.DefaultConfig().Prefix, page)
	mux.Handle("/", api.New(apiCfg, reg.Registry, log))
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       5 * time.Minute,
		WriteTimeout:      5 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          zap.NewStdLog(log.Named("http")),
	}

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	var errMu sync.Mutex
	var firstErr error
	fail := func(err error) {
		if err == nil {
			return
		}
		errMu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		errMu.Unlock()
		stop()
	}
	wg.Go(func() { fail(w.Run(runCtx)) })
	wg.Go(func() { fail(pub.Run(runCtx)) })
	rr, err := retroRunner(reg, nc, wc.Streams, wc.ID, log)
	if err != nil {
		stop()
		wg.Wait()
		return err
	}
	wg.Go(func() { fail(rr.Run(runCtx, reg.Matcher().Seq())) })
	wg.Go(func() {
		if err := serveHTTP(runCtx, srv, ln, wc.ShutdownTimeout); !errors.Is(err, http.ErrServerClosed) {
			fail(err)
		}
	})
	fmt.Fprintf(std.Stdout, "aura serve: HTTP API and /metrics on http://%s, NATS on %s, data in %s\n", ln.Addr(), emb.ClientURL(), dataDir)
	fmt.Fprintf(std.Stdout, "aura serve: review page on %s\n", reviewURL(ln.Addr(), web.DefaultConfig().Prefix))
	if newAdmin {
		fmt.Fprintf(std.Stdout, "aura serve: log in as admin with the password in %s (add moderators with: aura users add NAME)\n", adminPath)
	}
	if tokenPath != "" {
		fmt.Fprintf(std.Stdout, "aura serve: the API token is in %s\n", tokenPath)
	}
	fmt.Fprintf(std.Stdout, "aura serve: submit pictures with: aura submit --nats-url %s FILE|URL...\n", emb.ClientURL())
	if *demo {
		client, err := worker.NewClient(nc, worker.ClientConfig{MaxInlineBytes: wc.MaxInlineBytes})
		if err != nil {
			stop()
			wg.Wait()
			return err
		}
		wg.Go(func() {
			if err := runDemo(runCtx, std, reg, client, w, *fixtures); err != nil && runCtx.Err() == nil {
				log.Error("demo failed", zap.Error(err))
			}
		})
	}
	<-runCtx.Done()
	wg.Wait()
	log.Info("stopped")
	return firstErr
}

// localToken returns the API token kept in path, creating it (0600) if it does not exist.
func localToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		if tok := strings.TrimSpace(string(b)); len(tok) >= api.MinTokenLength {
			return tok, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("api token: %w", err)
	}
	var raw [24]byte
	_, _ = rand.Read(raw[:])
	tok := hex.EncodeToString(raw[:])
	if err := os.WriteFile(path, []byte(tok+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("api token: %w", err)
	}
	return tok, nil
}

// reviewURL is the review page's address for a browser: a loopback listener is named
// "localhost", where browsers accept the Secure session cookie over plain HTTP.
func reviewURL(addr net.Addr, prefix string) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "http://" + addr.String() + prefix
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port) + prefix
}
