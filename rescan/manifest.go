package rescan

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/aura-art/aura/fetch"
	"github.com/aura-art/aura/index"
)

// Format is the format of a manifest.
type Format string

// The manifest formats.
const (
	// JSONL: one JSON object a line with "path" or "url" and optionally "id", "tenant"
	// and "creator"; other fields are ignored. An id may be a string or a number.
	JSONL Format = "jsonl"
	// CSV: a header row naming the columns (path, url, id, tenant, creator, in any order and
	// case; others are ignored; path or url is required), then one record a line. A quoted
	// field may not span lines, so that a stray quote spoils only its own line.
	CSV Format = "csv"
	// Lines: one path or URL a line; a line that starts with "{" is read as JSONL, and
	// lines starting with "#" are comments. This is what stdin takes.
	Lines Format = "lines"
)

// FormatOf returns the format a manifest's file name names: .jsonl or .ndjson is JSONL, .csv
// is CSV, .txt or .list is Lines (in any case); ok is false for anything else.
func FormatOf(name string) (f Format, ok bool) {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".jsonl", ".ndjson":
		return JSONL, true
	case ".csv":
		return CSV, true
	case ".txt", ".list":
		return Lines, true
	}
	return "", false
}

// Manifest is a list of pictures as a Source. Every non-blank line is an item; a bad line
// is an item with its Err (and no ID), so a manifest with bad lines still rescans the good
// ones. A relative path is relative to the manifest's directory (to dir for ReadManifest).
// An item's id is the line's id, else the path as the line gives it (cleaned, with slashes),
// else the URL. Blank lines are skipped; line numbers count every line.
type Manifest struct {
	name   string
	dir    string
	format Format
	key    string
	open   func() (io.ReadCloser, error)
}

// OpenManifest returns the manifest in the file name, in the format its extension names
// (FormatOf). It reads the file once to hash it (Key); Walk reads it again, streaming.
func OpenManifest(name string) (*Manifest, error) {
	format, ok := FormatOf(name)
	if !ok {
		return nil, fmt.Errorf("rescan: manifest %s: want a .jsonl, .csv or .txt file", name)
	}
	abs, err := filepath.Abs(name)
	if err != nil {
		return nil, fmt.Errorf("rescan: manifest: %w", err)
	}
	f, err := os.Open(abs)
	if err != nil {
		return nil, fmt.Errorf("rescan: manifest: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, fmt.Errorf("rescan: manifest: %w", err)
	}
	return &Manifest{
		name: abs, dir: filepath.Dir(abs), format: format, key: hex.EncodeToString(h.Sum(nil)),
		open: func() (io.ReadCloser, error) { return os.Open(abs) },
	}, nil
}

// ReadManifest reads a whole manifest from r (stdin), so that it can be hashed and walked
// more than once. name describes it in messages; relative paths are relative to dir.
func ReadManifest(r io.Reader, name string, format Format, dir string) (*Manifest, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("rescan: read %s: %w", name, err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("rescan: %w", err)
	}
	sum := sha256.Sum256(data)
	return &Manifest{
		name: name, dir: abs, format: format, key: hex.EncodeToString(sum[:]),
		open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil },
	}, nil
}

// Key is the hex SHA-256 of the manifest's content.
func (m *Manifest) Key() string { return m.key }

// String returns the manifest's absolute path, or the name ReadManifest was given.
func (m *Manifest) String() string { return m.name }

// Count counts the manifest's items, as Walk would yield them.
func (m *Manifest) Count(ctx context.Context) (int, error) {
	n := 0
	err := m.Walk(ctx, func(Item) error { n++; return nil })
	return n, err
}

// maxLine is the longest manifest line read, in bytes; a longer one is a bad line.
const maxLine = 64 << 10

// errLineTooLong is the error of a line longer than maxLine.
var errLineTooLong = fmt.Errorf("line longer than %d bytes", maxLine)

// Walk reads the manifest and yields an item a non-blank line. It fails when the manifest
// cannot be read, or a CSV manifest's header names neither path nor url.
func (m *Manifest) Walk(ctx context.Context, fn func(Item) error) error {
	rc, err := m.open()
	if err != nil {
		return fmt.Errorf("rescan: manifest: %w", err)
	}
	defer rc.Close()
	r := bufio.NewReaderSize(rc, 64<<10)
	var header map[string]int // CSV column of each known field
	var ncols int
	for n := 1; ; n++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		raw, err := readLine(r)
		if err == io.EOF {
			return nil
		}
		if n == 1 {
			raw = bytes.TrimPrefix(raw, []byte("\ufeff")) // a byte order mark, as spreadsheets write
		}
		if err != nil && !errors.Is(err, errLineTooLong) {
			return fmt.Errorf("rescan: %s: line %d: %w", m.name, n, err)
		}
		if err == nil && len(bytes.TrimSpace(raw)) == 0 {
			continue
		}
		if m.format == CSV && header == nil {
			if err != nil {
				return fmt.Errorf("rescan: %s: header: %w", m.name, err)
			}
			if header, ncols, err = csvHeader(raw); err != nil {
				return fmt.Errorf("rescan: %s: header: %w", m.name, err)
			}
			continue
		}
		var it Item
		switch {
		case err != nil:
			it = Item{Line: n, Err: err}
		case m.format == CSV:
			it = m.csvItem(raw, n, header, ncols)
		case m.format == JSONL:
			it = m.jsonItem(raw, n)
		default:
			line := strings.TrimSpace(string(raw))
			switch {
			case strings.HasPrefix(line, "#"):
				continue
			case strings.HasPrefix(line, "{"):
				it = m.jsonItem(raw, n)
			case fetch.IsURL(line):
				it = m.item(entry{URL: line}, n)
			default:
				it = m.item(entry{Path: line}, n)
			}
		}
		if err := fn(it); err != nil {
			return err
		}
	}
}

// readLine reads one line without its end. A line longer than maxLine is read to its end
// and returned as errLineTooLong; the end of the input is io.EOF.
func readLine(r *bufio.Reader) ([]byte, error) {
	var line []byte
	long := false
	for {
		chunk, err := r.ReadSlice('\n')
		if !long {
			line = append(line, chunk...)
			if len(line) > maxLine+2 {
				long, line = true, nil
			}
		}
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err == io.EOF && len(line) == 0 && !long:
			return nil, io.EOF
		case err != nil && err != io.EOF:
			return nil, err
		case long:
			return nil, errLineTooLong
		}
		return bytes.TrimRight(line, "\r\n"), nil
	}
}

// entry is one manifest line's fields.
type entry struct {
	Path    string     `json:"path"`
	URL     string     `json:"url"`
	ID      flexString `json:"id"`
	Tenant  string     `json:"tenant"`
	Creator string     `json:"creator"`
}

// flexString is a JSON string or number, as ids come from databases.
type flexString string

// UnmarshalJSON takes a JSON string, or a number as its text.
func (s *flexString) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] != '"' {
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("id: want a string or a number")
		}
		*s = flexString(n)
		return nil
	}
	return json.Unmarshal(b, (*string)(s))
}

func (m *Manifest) jsonItem(raw []byte, n int) Item {
	var e entry
	if err := json.Unmarshal(raw, &e); err != nil {
		return Item{Line: n, Err: fmt.Errorf("bad JSON: %v", err)}
	}
	return m.item(e, n)
}

// csvFields are the columns a CSV manifest may name.
var csvFields = []string{"path", "url", "id", "tenant", "creator"}

func csvHeader(raw []byte) (map[string]int, int, error) {
	cols, err := csvRecord(raw)
	if err != nil {
		return nil, 0, err
	}
	header := map[string]int{}
	for i, c := range cols {
		c = strings.ToLower(strings.TrimSpace(c))
		if _, dup := header[c]; dup {
			return nil, 0, fmt.Errorf("column %q named twice", c)
		}
		header[c] = i
	}
	_, hasPath := header["path"]
	_, hasURL := header["url"]
	if !hasPath && !hasURL {
		return nil, 0, fmt.Errorf("no path or url column in %q (want columns among %s)", raw, strings.Join(csvFields, ", "))
	}
	return header, len(cols), nil
}

func (m *Manifest) csvItem(raw []byte, n int, header map[string]int, ncols int) Item {
	rec, err := csvRecord(raw)
	if err != nil {
		return Item{Line: n, Err: fmt.Errorf("bad CSV: %v", err)}
	}
	if len(rec) != ncols {
		return Item{Line: n, Err: fmt.Errorf("bad CSV: %d fields, the header has %d", len(rec), ncols)}
	}
	get := func(name string) string {
		if i, ok := header[name]; ok {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	return m.item(entry{Path: get("path"), URL: get("url"), ID: flexString(get("id")), Tenant: get("tenant"), Creator: get("creator")}, n)
}

// csvRecord parses one line of CSV.
func csvRecord(raw []byte) ([]string, error) {
	r := csv.NewReader(bytes.NewReader(raw))
	r.FieldsPerRecord = -1
	rec, err := r.Read()
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, err
	}
	if _, err := r.Read(); err != io.EOF {
		return nil, errors.New("a quoted field spans lines")
	}
	return rec, nil
}

// maxIDLen is the longest id a manifest may give, in bytes.
const maxIDLen = 1024

// item checks a line's fields and makes its item.
func (m *Manifest) item(e entry, n int) Item {
	bad := func(format string, a ...any) Item { return Item{Line: n, Err: fmt.Errorf(format, a...)} }
	if e.Path != "" && e.URL == "" && fetch.IsURL(e.Path) {
		e.Path, e.URL = "", e.Path
	}
	id := string(e.ID)
	switch {
	case e.Path != "" && e.URL != "":
		return bad("both path and url given: want one")
	case e.Path == "" && e.URL == "":
		return bad("path or url is required")
	case e.URL != "" && !fetch.IsURL(e.URL):
		return bad("url %q: want an http:// or https:// URL", e.URL)
	case e.Tenant != "" && !index.ValidTenant(e.Tenant):
		return bad("tenant %q: want 1 to 64 letters, digits, '-' or '_'", e.Tenant)
	case len(id) > maxIDLen || !validText(id):
		return bad("id: want at most %d bytes of text", maxIDLen)
	case !validText(e.Creator) || len(e.Creator) > 256:
		return bad("creator: want at most 256 bytes of text")
	case !validText(e.Path) || !validText(e.URL):
		return bad("path or url: not text")
	}
	it := Item{Line: n, ID: id, Tenant: e.Tenant, Creator: e.Creator}
	if e.URL != "" {
		it.URL = e.URL
		if it.ID == "" {
			it.ID = e.URL
		}
		return it
	}
	p := filepath.Clean(e.Path)
	if it.ID == "" {
		it.ID = filepath.ToSlash(p)
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(m.dir, p)
	}
	it.Path = p
	return it
}

// validText reports whether s is UTF-8 without control characters.
func validText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}

// lineError formats a manifest line's error for a report.
func lineError(line int, err error) string { return "line " + strconv.Itoa(line) + ": " + err.Error() }
