package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"go.uber.org/zap"

	"github.com/aura-art/aura/api"
	"github.com/aura-art/aura/fetch"
)

func init() {
	register(command{name: "api", summary: "serve the HTTP API (register, check, works, disputes)", run: runAPI})
}

func runAPI(ctx context.Context, std IO, args []string) error {
	fs := newFlagSet(std, "api", "[--listen ADDR] [flags]")
	listen := fs.String("listen", "127.0.0.1:8080", "address to listen on")
	tokens := fs.String("api-tokens", "", `API tokens, "name=token,name2=token2" (prefer AURA_API_TOKENS or --api-tokens-file)`)
	tokensFile := fs.String("api-tokens-file", "", "file of API tokens, one name=token a line")
	fetchTimeout := fs.Duration("fetch-timeout", 10*time.Second, "time limit of downloading a URL to check")
	allowHosts := fs.String("fetch-allow-hosts", "", `comma-separated hosts URLs to check may name ("cdn.example.com", ".example.com"); empty: any public host`)
	shutdownTimeout := fs.Duration("shutdown-timeout", 10*time.Second, "how long requests in flight may finish after a shutdown signal")
	logLevel := logLevelFlag(fs)
	ro := registryFlags(fs)
	if err := fs.parseNoArgs(args); err != nil {
		return err
	}
	cfg := api.DefaultConfig()
	var err error
	if cfg.Tokens, err = readTokens(*tokens, *tokensFile); err != nil {
		return err
	}
	rc, err := ro.config()
	if err != nil {
		return err
	}
	cfg.MaxBytes = rc.Hashing.MaxBytes
	cfg.Fetch = fetch.DefaultConfig()
	cfg.Fetch.Timeout, cfg.Fetch.MaxBytes, cfg.Fetch.AllowHosts = *fetchTimeout, rc.Hashing.MaxBytes, splitList(*allowHosts)
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("%w: %v (set AURA_API_TOKENS or --api-tokens-file)", errUsage, err)
	}

	log := jsonLogger(std, *logLevel)
	defer func() { _ = log.Sync() }()
	reg, err := ro.open(ctx, log)
	if err != nil {
		return err
	}
	defer reg.Close()

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           api.New(cfg, reg.Registry, log),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       5 * time.Minute, // a 50 MiB upload on a slow link
		WriteTimeout:      5 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          zap.NewStdLog(log.Named("http")),
	}
	log.Info("listening", zap.String("addr", ln.Addr().String()), zap.Int("works", reg.Matcher().Len()))
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), *shutdownTimeout)
	defer cancel()
	err = srv.Shutdown(sctx)
	if serr := <-served; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

// readTokens merges the tokens of --api-tokens (AURA_API_TOKENS) and --api-tokens-file.
func readTokens(list, file string) (map[string]string, error) {
	tokens, err := api.ParseTokens(list)
	if err != nil {
		return nil, fmt.Errorf("%w: --api-tokens: %v", errUsage, err)
	}
	if file == "" {
		return tokens, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("api tokens file: %w", err)
	}
	more, err := api.ParseTokens(string(b))
	if err != nil {
		return nil, fmt.Errorf("%w: --api-tokens-file %s: %v", errUsage, file, err)
	}
	for n, tok := range more {
		if _, dup := tokens[n]; dup {
			return nil, fmt.Errorf("%w: API token %q is given twice", errUsage, n)
		}
		tokens[n] = tok
	}
	return tokens, nil
}
