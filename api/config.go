package api

import (
	"bufio"
	"errors"
	"fmt"
	"strings"

	"github.com/aura-art/aura/fetch"
)

// Config configures the API.
type Config struct {
	// Tokens maps a token's name to the token. At least one is required; each token must be
	// at least MinTokenLength bytes and names must be unique non-empty words without
	// '=', ',' or white space. The name becomes registered_by of the works a token registers.
	Tokens map[string]string
	// MaxBytes caps an image sent in a request, in bytes; a multipart body may be 1 MiB
	// larger for its form fields. Default (zero): the registry's hashing MaxBytes.
	MaxBytes int64
	// Fetch configures downloads for POST /v1/check with a URL. Default (zero Timeout):
	// fetch.DefaultConfig() with MaxBytes set to the image cap.
	Fetch fetch.Config
}

// MinTokenLength is the shortest token Config accepts, in bytes.
const MinTokenLength = 16

// DefaultConfig returns the defaults; Tokens still has to be set.
func DefaultConfig() Config { return Config{} }

// Validate reports the settings that are out of range, by name. It does not show tokens.
func (c Config) Validate() error {
	var errs []error
	if len(c.Tokens) == 0 {
		errs = append(errs, errors.New("tokens: at least one API token is required"))
	}
	for name, tok := range c.Tokens {
		if name == "" || strings.ContainsAny(name, "=, \t\r\n") {
			errs = append(errs, fmt.Errorf("tokens: bad name %q", name))
		}
		if len(tok) < MinTokenLength {
			errs = append(errs, fmt.Errorf("tokens: token %q is shorter than %d bytes", name, MinTokenLength))
		}
	}
	if c.MaxBytes < 0 {
		errs = append(errs, fmt.Errorf("max_bytes must not be negative, got %d", c.MaxBytes))
	}
	if c.Fetch.Timeout != 0 {
		if err := c.Fetch.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("api: config: %w", err)
	}
	return nil
}

// ParseTokens parses API tokens written as "name=token" pairs separated by commas or new
// lines (as AURA_API_TOKENS or a tokens file holds them). Blank lines and lines starting
// with '#' are skipped; white space around names and tokens is trimmed. A pair without '=',
// or a name given twice, is an error that names the pair's position, never the token.
func ParseTokens(s string) (map[string]string, error) {
	out := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	n := 0
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		for _, pair := range strings.Split(line, ",") {
			n++
			pair = strings.TrimSpace(pair)
			if pair == "" {
				continue
			}
			name, tok, ok := strings.Cut(pair, "=")
			name, tok = strings.TrimSpace(name), strings.TrimSpace(tok)
			if !ok || name == "" || tok == "" {
				return nil, fmt.Errorf("api: tokens: entry %d: want name=token", n)
			}
			if _, dup := out[name]; dup {
				return nil, fmt.Errorf("api: tokens: name %q given twice", name)
			}
			out[name] = tok
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("api: tokens: %w", err)
	}
	return out, nil
}
