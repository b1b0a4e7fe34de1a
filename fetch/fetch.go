// Package fetch downloads submitted images over HTTP(S) without letting a submitter reach
// places they should not: every connection's address is checked when it is dialled (after DNS
// resolution, so DNS rebinding cannot slip through), and loopback, private, link-local
// (cloud metadata at 169.254.169.254 included), carrier-grade NAT, multicast and other
// special-purpose addresses are refused. Downloads are bounded in time, size and redirects,
// and never go through a proxy from the environment.
package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// Errors of Fetch. Each is permanent for the URL: retrying will not help.
var (
	// ErrForbidden: the URL's scheme is not http or https, it carries credentials, or its
	// host resolves to an address Aura refuses to connect to (see Forbidden).
	ErrForbidden = errors.New("forbidden URL")
	// ErrTooLarge: the body is larger than Config.MaxBytes.
	ErrTooLarge = errors.New("response too large")
	// ErrTooManyRedirects: the server redirected more than Config.MaxRedirects times.
	ErrTooManyRedirects = errors.New("too many redirects")
)

// StatusError is the error of a response whose status is not 2xx.
type StatusError struct {
	// Code is the HTTP status code.
	Code int
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("status %d %s", e.Code, http.StatusText(e.Code))
}

// Temporary reports whether a retry may succeed: for 408, 429 and 5xx.
func (e *StatusError) Temporary() bool {
	return e.Code == http.StatusRequestTimeout || e.Code == http.StatusTooManyRequests || e.Code >= 500
}

// Config configures a Fetcher.
type Config struct {
	// Timeout bounds a whole download: dialling, redirects, headers and body. Default 10s.
	Timeout time.Duration
	// MaxBytes caps the body, in bytes. Default 50 MiB (hashing.DefaultConfig().MaxBytes).
	MaxBytes int64
	// MaxRedirects is how many redirects are followed. Default 3.
	MaxRedirects int
	// UserAgent is sent with every request. Default "aura-fetch/1".
	UserAgent string
	// AllowLoopback lets connections to loopback addresses (127.0.0.0/8, ::1) through, for
	// tests against httptest servers. Never set it in production. Default false.
	AllowLoopback bool
	// AllowHosts, when not empty, is the only hosts URLs may name, on the first request and
	// on every redirect: "cdn.example.com" allows that host, ".example.com" every host
	// under example.com. Matching ignores case and the port. The address checks still apply.
	// Default empty: any public host.
	AllowHosts []string
}

// DefaultConfig returns the defaults documented on each field.
func DefaultConfig() Config {
	return Config{Timeout: 10 * time.Second, MaxBytes: 50 << 20, MaxRedirects: 3, UserAgent: "aura-fetch/1"}
}

// Validate reports the settings that are out of range, by name.
func (c Config) Validate() error {
	var errs []error
	if c.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("timeout must be positive, got %v", c.Timeout))
	}
	if c.MaxBytes <= 0 {
		errs = append(errs, fmt.Errorf("max_bytes must be positive, got %d", c.MaxBytes))
	}
	if c.MaxRedirects < 0 {
		errs = append(errs, fmt.Errorf("max_redirects must not be negative, got %d", c.MaxRedirects))
	}
	for _, h := range c.AllowHosts {
		if h == "" || h == "." || strings.ContainsAny(h, "/:@ \t*") {
			errs = append(errs, fmt.Errorf("allow_hosts: %q is not a host name or .domain", h))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("fetch: config: %w", err)
	}
	return nil
}

// Fetcher downloads images. It is safe for concurrent use and keeps idle connections for
// reuse; CloseIdleConnections releases them.
type Fetcher struct {
	cfg    Config
	client *http.Client
}

// New returns a Fetcher, or the error of cfg.Validate.
func New(cfg Config) (*Fetcher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = DefaultConfig().UserAgent
	}
	dialer := &net.Dialer{
		Timeout:   cfg.Timeout,
		KeepAlive: 30 * time.Second,
		Control: func(network, address string, _ syscall.RawConn) error {
			return checkDial(network, address, cfg.AllowLoopback)
		},
	}
	transport := &http.Transport{
		Proxy:                  nil, // a proxy would dial on our behalf, past the address check
		DialContext:            dialer.DialContext,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           32,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    cfg.Timeout,
		ResponseHeaderTimeout:  cfg.Timeout,
		MaxResponseHeaderBytes: 64 << 10,
	}
	client := &http.Client{
		Transport: transport,
		Timeout:   cfg.Timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > cfg.MaxRedirects {
				return fmt.Errorf("%w (more than %d)", ErrTooManyRedirects, cfg.MaxRedirects)
			}
			if err := checkURL(req.URL); err != nil {
				return err
			}
			return checkHost(req.URL, cfg.AllowHosts)
		},
	}
	return &Fetcher{cfg: cfg, client: client}, nil
}

// Fetch downloads the body of rawURL with a GET. It fails with an error wrapping
// ErrForbidden, ErrTooLarge or ErrTooManyRedirects, a *StatusError for a non-2xx status,
// or the network's or ctx's error; the error names the URL's host. Cancelling ctx aborts the
// download.
func (f *Fetcher) Fetch(ctx context.Context, rawURL string) ([]byte, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("fetch: %w: %v", ErrForbidden, err)
	}
	if err := checkURL(u); err != nil {
		return nil, fmt.Errorf("fetch: %s: %w", redact(u), err)
	}
	if err := checkHost(u, f.cfg.AllowHosts); err != nil {
		return nil, fmt.Errorf("fetch: %s: %w", redact(u), err)
	}
	fail := func(err error) error { return fmt.Errorf("fetch: GET %s: %w", redact(u), err) }
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fail(err)
	}
	req.Header.Set("User-Agent", f.cfg.UserAgent)
	req.Header.Set("Accept", "image/*")
	resp, err := f.client.Do(req)
	if err != nil {
		// Unwrap *url.Error: its text repeats the URL, and ours already names it.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fail(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, fail(&StatusError{Code: resp.StatusCode})
	}
	if resp.ContentLength > f.cfg.MaxBytes {
		return nil, fail(fmt.Errorf("%w: %d bytes, more than %d", ErrTooLarge, resp.ContentLength, f.cfg.MaxBytes))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, f.cfg.MaxBytes+1))
	if err != nil {
		return nil, fail(err)
	}
	if int64(len(body)) > f.cfg.MaxBytes {
		return nil, fail(fmt.Errorf("%w: more than %d bytes", ErrTooLarge, f.cfg.MaxBytes))
	}
	return body, nil
}

// CloseIdleConnections closes connections kept for reuse.
func (f *Fetcher) CloseIdleConnections() { f.client.CloseIdleConnections() }

// IsURL reports whether s looks like an http or https URL rather than a file path.
func IsURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// checkURL allows http and https URLs with a host and without credentials.
func checkURL(u *url.URL) error {
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("%w: scheme %q (want http or https)", ErrForbidden, u.Scheme)
	case u.Host == "":
		return fmt.Errorf("%w: no host", ErrForbidden)
	case u.User != nil:
		return fmt.Errorf("%w: credentials in the URL", ErrForbidden)
	}
	return nil
}

// checkHost allows u's host if allow is empty or lists it (see Config.AllowHosts).
func checkHost(u *url.URL, allow []string) error {
	if len(allow) == 0 {
		return nil
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	for _, a := range allow {
		a = strings.ToLower(a)
		if host == a || strings.HasPrefix(a, ".") && (strings.HasSuffix(host, a) || host == a[1:]) {
			return nil
		}
	}
	return fmt.Errorf("%w: host %q is not in the allowed hosts", ErrForbidden, host)
}

// redact returns the URL without its query and fragment, which may hold tokens.
func redact(u *url.URL) string {
	c := *u
	c.RawQuery, c.Fragment, c.RawFragment, c.User = "", "", "", nil
	return c.String()
}

// checkDial is the dialer's Control function: it runs with the resolved address of every
// connection attempt.
func checkDial(network, address string, allowLoopback bool) error {
	if network != "tcp4" && network != "tcp6" && network != "tcp" {
		return fmt.Errorf("%w: network %s", ErrForbidden, network)
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: address %q: %v", ErrForbidden, address, err)
	}
	ip := ap.Addr().Unmap()
	if allowLoopback && ip.IsLoopback() {
		return nil
	}
	if Forbidden(ip) {
		return fmt.Errorf("%w: address %s is not public", ErrForbidden, ip)
	}
	return nil
}

// forbiddenPrefixes are special-purpose ranges beyond what netip.Addr's predicates cover
// (IANA special-purpose address registries).
var forbiddenPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT (Alibaba metadata 100.100.100.200)
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // TEST-NET-1
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // TEST-NET-2
	netip.MustParsePrefix("203.0.113.0/24"),  // TEST-NET-3
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, broadcast
	netip.MustParsePrefix("64:ff9b::/96"),    // NAT64: may reach any IPv4 address
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64
	netip.MustParsePrefix("100::/64"),        // discard
	netip.MustParsePrefix("2001::/23"),       // IETF protocol assignments (Teredo, ...)
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("2002::/16"),       // 6to4: may embed any IPv4 address
}

// Forbidden reports whether Aura refuses to connect to ip: loopback, private (RFC 1918,
// fc00::/7), link-local (169.254.0.0/16 with the cloud metadata address, fe80::/10),
// unspecified, multicast, carrier-grade NAT, documentation, benchmarking, reserved and
// IPv6 transition ranges that can reach IPv4 addresses. IPv4-mapped IPv6 addresses are
// judged as the IPv4 address they hold. An invalid address is forbidden.
func Forbidden(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() ||
		ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() {
		return true
	}
	for _, p := range forbiddenPrefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
