package worker

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"go.uber.org/zap"
)

// EmbeddedConfig configures the NATS server Aura runs in its own process for the all-in-one
// mode ("aura serve"): the real nats-server as a library, with JetStream on local disk.
type EmbeddedConfig struct {
	// Listen is the client address. It must be a loopback address, because the embedded
	// server has no authentication; port 0 picks a free port. Default "127.0.0.1:4250" (not
	// 4222, so it does not clash with a NATS server on the machine).
	Listen string
	// StoreDir is the directory of JetStream's files. Required.
	StoreDir string
	// SyncAlways makes JetStream fsync every write before acknowledging it
	// (sync_interval: always), so an acked submission survives a machine crash. Default true.
	SyncAlways bool
	// MaxPayload is the largest message, in bytes; it must hold an inline submission
	// (MaxMessageBytes). Default 8 MiB.
	MaxPayload int32
	// ReadyTimeout bounds the wait for the server to accept connections. Default 10s.
	ReadyTimeout time.Duration
}

// DefaultEmbeddedConfig returns the defaults documented on each field; StoreDir is still to
// be set.
func DefaultEmbeddedConfig() EmbeddedConfig {
	return EmbeddedConfig{Listen: "127.0.0.1:4250", SyncAlways: true, MaxPayload: 8 << 20, ReadyTimeout: 10 * time.Second}
}

// Validate reports the settings that are out of range, by name.
func (c EmbeddedConfig) Validate() error {
	var errs []error
	host, port, err := net.SplitHostPort(c.Listen)
	if err != nil {
		errs = append(errs, fmt.Errorf("nats_listen %q: %v", c.Listen, err))
	} else {
		ip, perr := netip.ParseAddr(host)
		if host != "localhost" && (perr != nil || !ip.IsLoopback()) {
			errs = append(errs, fmt.Errorf("nats_listen %q: the embedded server has no authentication, so it listens on a loopback address only (127.0.0.1, ::1 or localhost)", c.Listen))
		}
		if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
			errs = append(errs, fmt.Errorf("nats_listen %q: bad port", c.Listen))
		}
	}
	if c.StoreDir == "" {
		errs = append(errs, errors.New("store_dir must be set"))
	}
	if c.MaxPayload < 1<<10 || c.MaxPayload > 64<<20 {
		errs = append(errs, fmt.Errorf("max_payload must be 1 KiB to 64 MiB, got %d", c.MaxPayload))
	}
	if c.ReadyTimeout <= 0 {
		errs = append(errs, fmt.Errorf("ready_timeout must be positive, got %v", c.ReadyTimeout))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("worker: embedded nats: %w", err)
	}
	return nil
}

// Embedded is a running embedded NATS server.
type Embedded struct {
	srv *server.Server
}

// StartEmbedded starts a NATS server with JetStream in this process and waits until it
// accepts connections. log may be nil; the server's notices are logged at debug level.
// Shut it down with Shutdown.
func StartEmbedded(cfg EmbeddedConfig, log *zap.Logger) (*Embedded, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = zap.NewNop()
	}
	host, portText, _ := net.SplitHostPort(cfg.Listen)
	port, _ := strconv.Atoi(portText)
	if port == 0 {
		port = server.RANDOM_PORT
	}
	opts := &server.Options{
		ServerName: "aura",
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   cfg.StoreDir,
		SyncAlways: cfg.SyncAlways,
		MaxPayload: cfg.MaxPayload,
		NoSigs:     true,
		// Disable the HTTP monitor and cluster ports: nothing listens but the client port.
		HTTPPort: 0,
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("worker: embedded nats: %w", err)
	}
	srv.SetLoggerV2(natsLogger{log.Named("nats-server").Sugar()}, false, false, false)
	srv.Start()
	if !srv.ReadyForConnections(cfg.ReadyTimeout) {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, fmt.Errorf("worker: embedded nats on %s: not ready within %v", cfg.Listen, cfg.ReadyTimeout)
	}
	return &Embedded{srv: srv}, nil
}

// ClientURL returns the URL clients connect to ("nats://127.0.0.1:4250").
func (e *Embedded) ClientURL() string { return e.srv.ClientURL() }

// Ready reports whether the server accepts connections and JetStream is on.
func (e *Embedded) Ready() bool {
	return e.srv.Running() && e.srv.JetStreamEnabled()
}

// Shutdown stops the server, closing its client connections, and waits until it has
// stopped. Calling it again does nothing.
func (e *Embedded) Shutdown() {
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
}

// natsLogger logs the server's messages with zap: notices at debug level, since the server
// is chatty at start.
type natsLogger struct{ l *zap.SugaredLogger }

func (n natsLogger) Noticef(format string, v ...any) { n.l.Debugf(format, v...) }
func (n natsLogger) Warnf(format string, v ...any)   { n.l.Warnf(format, v...) }
func (n natsLogger) Fatalf(format string, v ...any)  { n.l.Errorf(format, v...) }
func (n natsLogger) Errorf(format string, v ...any)  { n.l.Errorf(format, v...) }
func (n natsLogger) Debugf(format string, v ...any)  { n.l.Debugf(format, v...) }
func (n natsLogger) Tracef(format string, v ...any)  { n.l.Debugf(format, v...) }
