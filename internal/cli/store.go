package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/aura-art/aura/hashing"
	"github.com/aura-art/aura/index"
	"github.com/aura-art/aura/review"
)

// storeOptions are the settings of the registry's store, shared by every command that opens
// it (register, check, works, api).
type storeOptions struct {
	redis        index.RedisOptions
	passwordFile string
	redisTLS     bool
	caFile       string
	dataDir      string
	lockTimeout  time.Duration
}

// storeFlags registers the store settings: Redis when --redis-url is set, otherwise the
// embedded store in --data-dir.
func storeFlags(fs *flagSet) *storeOptions {
	o := &storeOptions{redis: index.DefaultRedisOptions()}
	fs.StringVar(&o.redis.URL, "redis-url", "", `Redis URL ("redis://host:6379/0", "rediss://..." for TLS); empty: the embedded store in --data-dir`)
	fs.StringVar(&o.redis.Username, "redis-username", "", "Redis user name (overrides the URL's)")
	fs.StringVar(&o.redis.Password, "redis-password", "", "Redis password (overrides the URL's; prefer AURA_REDIS_PASSWORD or --redis-password-file)")
	fs.StringVar(&o.passwordFile, "redis-password-file", "", "file holding the Redis password")
	fs.BoolVar(&o.redisTLS, "redis-tls", false, "connect to Redis over TLS")
	fs.StringVar(&o.caFile, "redis-ca-file", "", "PEM file of the CA that signed Redis's certificate (implies --redis-tls)")
	fs.StringVar(&o.redis.Prefix, "redis-prefix", o.redis.Prefix, "prefix of every Redis key")
	fs.BoolVar(&o.redis.Cluster, "redis-cluster", false, "connect to a Redis Cluster")
	fs.DurationVar(&o.redis.DialTimeout, "redis-dial-timeout", o.redis.DialTimeout, "Redis connect timeout")
	fs.DurationVar(&o.redis.ReadTimeout, "redis-read-timeout", o.redis.ReadTimeout, "Redis reply timeout")
	fs.DurationVar(&o.redis.WriteTimeout, "redis-write-timeout", o.redis.WriteTimeout, "Redis request timeout")
	fs.StringVar(&o.dataDir, "data-dir", defaultDataDir(fs.std), "directory of the embedded store (aura.db), used when --redis-url is empty")
	fs.DurationVar(&o.lockTimeout, "lock-timeout", time.Second, "how long to wait for another process to release the embedded store")
	return o
}

// defaultDataDir is $XDG_DATA_HOME/aura, else ~/.local/share/aura.
func defaultDataDir(std IO) string {
	if d := std.getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "aura")
	}
	home := std.getenv("HOME")
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	return filepath.Join(home, ".local", "share", "aura")
}

// redisLogOnce makes the first opened Redis store's logger the go-redis client's, which is
// process-wide.
var redisLogOnce sync.Once

// open opens the store. log receives the Redis client's own complaints (rate-limited).
func (o *storeOptions) open(ctx context.Context, log *zap.Logger) (index.Store, error) {
	if o.redis.URL == "" {
		if o.dataDir == "" {
			return nil, fmt.Errorf("%w: --data-dir is empty and no --redis-url is given", errUsage)
		}
		if err := os.MkdirAll(o.dataDir, 0o700); err != nil {
			return nil, fmt.Errorf("data dir: %w", err)
		}
		path := filepath.Join(o.dataDir, "aura.db")
		s, err := index.OpenBolt(path, index.BoltOptions{LockTimeout: o.lockTimeout})
		if errors.Is(err, index.ErrLocked) {
			return nil, fmt.Errorf("%s is in use by another aura process (an \"aura api\"?): stop it, or share a registry through Redis (--redis-url)", path)
		}
		return s, err
	}
	redisLogOnce.Do(func() { index.SetRedisLogger(log) })
	ro := o.redis
	if o.passwordFile != "" {
		b, err := os.ReadFile(o.passwordFile)
		if err != nil {
			return nil, fmt.Errorf("redis password file: %w", err)
		}
		ro.Password = strings.TrimRight(string(b), "\r\n")
	}
	if o.redisTLS || o.caFile != "" {
		ro.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
		if o.caFile != "" {
			pem, err := os.ReadFile(o.caFile)
			if err != nil {
				return nil, fmt.Errorf("redis CA file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("redis CA file %s: no PEM certificate", o.caFile)
			}
			ro.TLS.RootCAs = pool
		}
	}
	return index.OpenRedis(ctx, ro)
}

// openCases returns the review store that lives beside the registry in s: the same bbolt
// file, or the same Redis server under the same prefix.
func openCases(s index.Store) (review.Store, error) {
	switch s := s.(type) {
	case *index.BoltStore:
		return review.NewBoltStore(s.DB())
	case *index.RedisStore:
		return review.NewRedisStore(s.Client(), s.Prefix()), nil
	}
	return nil, fmt.Errorf("the store %T cannot keep review cases", s)
}

// registryOptions are the settings of commands that register or check pictures: the store,
// the decode limits and the thresholds.
type registryOptions struct {
	store        *storeOptions
	hashing      func() (hashing.Config, error)
	th           hashing.Thresholds
	readyTimeout time.Duration
}

// registryFlags registers the store, hashing and threshold settings.
func registryFlags(fs *flagSet) *registryOptions {
	o := &registryOptions{store: storeFlags(fs), hashing: hashingFlags(fs), th: hashing.DefaultThresholds}
	fs.Float64Var(&o.th.Match, "threshold-match", o.th.Match, "lowest score at which a registered work matches")
	fs.Float64Var(&o.th.LowDetail, "threshold-low-detail", o.th.LowDetail, "lowest score at which a low-detail picture matches")
	fs.Float64Var(&o.th.Forgery, "threshold-forgery", o.th.Forgery, "score at or above which a whole-picture match is a likely forgery")
	fs.DurationVar(&o.readyTimeout, "ready-timeout", time.Minute, "how long to wait for the registry to load into memory")
	return o
}

// config returns the validated registry configuration.
func (o *registryOptions) config() (index.RegistryConfig, error) {
	h, err := o.hashing()
	if err != nil {
		return index.RegistryConfig{}, fmt.Errorf("%w: %v", errUsage, err)
	}
	cfg := index.RegistryConfig{Hashing: h, Thresholds: o.th}
	if err := cfg.Validate(); err != nil {
		return index.RegistryConfig{}, fmt.Errorf("%w: %v", errUsage, err)
	}
	return cfg, nil
}

// openedRegistry is a registry whose matcher is loaded and follows the store's feed, with
// the review store beside it: checks consult moderators' decisions and disputes open cases.
type openedRegistry struct {
	*index.Registry
	store  index.Store
	cases  review.Store
	cancel context.CancelFunc
	done   chan error // Matcher.Run's result
}

// open opens the store, loads the matcher (waiting at most --ready-timeout) and returns the
// registry. Close it.
func (o *registryOptions) open(ctx context.Context, log *zap.Logger) (*openedRegistry, error) {
	cfg, err := o.config()
	if err != nil {
		return nil, err
	}
	s, err := o.store.open(ctx, log)
	if err != nil {
		return nil, err
	}
	cases, err := openCases(s)
	if err != nil {
		_ = s.Close()
		return nil, err
	}
	m := index.NewMatcher()
	reg, err := index.NewRegistry(s, m, cfg, log)
	if err != nil {
		_ = s.Close()
		return nil, err
	}
	reg.SetSuppressor(review.Suppressor{Store: cases, Forgery: cfg.Thresholds.Forgery})
	reg.OnDispute((&review.Opener{Store: cases, Hashing: cfg.Hashing}).OnDispute)
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r := &openedRegistry{Registry: reg, store: s, cases: cases, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- m.Run(runCtx, s, log) }()
	timer := time.NewTimer(o.readyTimeout)
	defer timer.Stop()
	select {
	case <-m.Ready():
		return r, nil
	case err := <-r.done:
		r.done <- err
		r.Close()
		return nil, fmt.Errorf("loading the registry: %w", err)
	case <-timer.C:
		r.Close()
		return nil, fmt.Errorf("the registry did not load within %v (--ready-timeout): is the store reachable?", o.readyTimeout)
	case <-ctx.Done():
		r.Close()
		return nil, ctx.Err()
	}
}

// Close stops the matcher and closes the store.
func (r *openedRegistry) Close() {
	r.cancel()
	<-r.done
	_ = r.store.Close()
}

// newLogger returns a logger that writes human-readable lines at level and above to w.
func newLogger(std IO, level zapcore.Level) *zap.Logger {
	enc := zap.NewDevelopmentEncoderConfig()
	enc.TimeKey = ""
	core := zapcore.NewCore(zapcore.NewConsoleEncoder(enc), zapcore.Lock(zapcore.AddSync(std.Stderr)), level)
	return zap.New(core)
}
