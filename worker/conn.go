package worker

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
)

// ConnConfig says how to connect to NATS. At most one of the credentials (User and
// Password, Token, NKeySeedFile, CredsFile) may be set.
type ConnConfig struct {
	// URL is the server, or several separated by commas ("nats://a:4222,nats://b:4222";
	// "tls://..." for TLS). Default "nats://127.0.0.1:4222".
	URL string
	// Name is the client name servers show. Default "aura".
	Name string
	// User and Password authenticate with a user name and password. Default none.
	User, Password string
	// Token authenticates with a token. Default none.
	Token string
	// NKeySeedFile is a file holding an NKey seed ("SU..."), to authenticate with the NKey.
	// Default none.
	NKeySeedFile string
	// CredsFile is a credentials file (a user JWT and its NKey seed, as nsc writes it).
	// Default none.
	CredsFile string
	// CAFile is a PEM file of the CAs that sign the server's certificate; setting it turns
	// TLS on. Default none: the system's roots for tls:// URLs.
	CAFile string
	// CertFile and KeyFile are a PEM client certificate and its key, for mutual TLS. Default
	// none.
	CertFile, KeyFile string
	// ConnectTimeout bounds connecting to one server. Default 5s.
	ConnectTimeout time.Duration
	// ReconnectWait is the pause between reconnect attempts to one server. Default 2s.
	ReconnectWait time.Duration
}

// DefaultConnConfig returns the defaults documented on each field.
func DefaultConnConfig() ConnConfig {
	return ConnConfig{URL: "nats://127.0.0.1:4222", Name: "aura", ConnectTimeout: 5 * time.Second, ReconnectWait: 2 * time.Second}
}

// Validate reports the settings that are out of range or conflict, by name.
func (c ConnConfig) Validate() error {
	var errs []error
	if c.URL == "" {
		errs = append(errs, errors.New("nats_url must not be empty"))
	}
	n := 0
	for _, set := range []bool{c.User != "" || c.Password != "", c.Token != "", c.NKeySeedFile != "", c.CredsFile != ""} {
		if set {
			n++
		}
	}
	if n > 1 {
		errs = append(errs, errors.New("give one of nats_user/nats_password, nats_token, nats_nkey_seed and nats_creds"))
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		errs = append(errs, errors.New("nats_tls_cert and nats_tls_key go together"))
	}
	if c.ConnectTimeout <= 0 || c.ReconnectWait <= 0 {
		errs = append(errs, fmt.Errorf("nats connect_timeout and reconnect_wait must be positive, got %v and %v", c.ConnectTimeout, c.ReconnectWait))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("worker: nats config: %w", err)
	}
	return nil
}

// options are the nats.go options of the configuration.
func (c ConnConfig) options(log *zap.Logger) ([]nats.Option, error) {
	opts := []nats.Option{
		nats.Name(c.Name),
		nats.Timeout(c.ConnectTimeout),
		nats.ReconnectWait(c.ReconnectWait),
		nats.MaxReconnects(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil { // nil when the connection is closed on purpose
				log.Warn("nats disconnected", zap.Error(err))
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("nats reconnected", zap.String("url", nc.ConnectedUrlRedacted()))
		}),
		nats.ErrorHandler(func(_ *nats.Conn, s *nats.Subscription, err error) {
			subj := ""
			if s != nil {
				subj = s.Subject
			}
			log.Warn("nats error", zap.String("subject", subj), zap.Error(err))
		}),
	}
	switch {
	case c.User != "" || c.Password != "":
		opts = append(opts, nats.UserInfo(c.User, c.Password))
	case c.Token != "":
		opts = append(opts, nats.Token(c.Token))
	case c.NKeySeedFile != "":
		o, err := nats.NkeyOptionFromSeed(c.NKeySeedFile)
		if err != nil {
			return nil, fmt.Errorf("worker: nats nkey seed %s: %w", c.NKeySeedFile, err)
		}
		opts = append(opts, o)
	case c.CredsFile != "":
		opts = append(opts, nats.UserCredentials(c.CredsFile))
	}
	if c.CAFile != "" {
		opts = append(opts, nats.RootCAs(c.CAFile))
	}
	if c.CertFile != "" {
		opts = append(opts, nats.ClientCert(c.CertFile, c.KeyFile))
	}
	return opts, nil
}

// Connect connects to NATS as cfg says and returns the connection, which reconnects forever
// (logging disconnections and reconnections to log, which may be nil) until closed. It fails
// if cfg is invalid, a credentials file cannot be read, or no server answers; ctx bounds
// the attempt.
func Connect(ctx context.Context, cfg ConnConfig, log *zap.Logger) (*nats.Conn, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = zap.NewNop()
	}
	opts, err := cfg.options(log.Named("nats"))
	if err != nil {
		return nil, err
	}
	type result struct {
		nc  *nats.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		nc, err := nats.Connect(cfg.URL, opts...)
		ch <- result{nc, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, fmt.Errorf("worker: connect to NATS at %s: %w", redactURLs(cfg.URL), r.err)
		}
		return r.nc, nil
	case <-ctx.Done():
		go func() {
			if r := <-ch; r.nc != nil {
				r.nc.Close()
			}
		}()
		return nil, fmt.Errorf("worker: connect to NATS at %s: %w", redactURLs(cfg.URL), ctx.Err())
	}
}

// redactURLs returns a comma-separated list of server URLs without their credentials.
func redactURLs(list string) string {
	parts := strings.Split(list, ",")
	for i, p := range parts {
		if u, err := url.Parse(strings.TrimSpace(p)); err == nil && u.User != nil {
			u.User = nil
			parts[i] = u.String()
		}
	}
	return strings.Join(parts, ",")
}
