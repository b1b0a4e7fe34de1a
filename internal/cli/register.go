package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"go.uber.org/zap/zapcore"

	"github.com/aura-art/aura/fetch"
	"github.com/aura-art/aura/index"
)

func init() {
	register(command{name: "register", summary: "register human-made works (files, directories or a manifest)", run: runRegister})
}

const registerSynopsis = "[--json] --creator ID [--creator-name N] [--title T] [--year Y] [--source URL] [--licence L] PATH... | [--json] --manifest FILE.jsonl"

// registerItem is one file to register, from the command line or a manifest line.
type registerItem struct {
	line  int    // manifest line, 0 for a command-line path
	path  string // the file to read
	shown string // the path as the user wrote it
	meta  index.WorkMeta
	err   error // a bad manifest line: nothing to register
}

// registerOutput is one line of register's --json output.
type registerOutput struct {
	Line      int                  `json:"line,omitempty"`
	ID        string               `json:"id,omitempty"`
	Path      string               `json:"path,omitempty"`
	Status    index.RegisterStatus `json:"status,omitempty"`
	CreatorID string               `json:"creator_id,omitempty"`
	// DisputedWith is the earlier work of another creator that this one matches.
	DisputedWith        string  `json:"disputed_with,omitempty"`
	DisputedWithCreator string  `json:"disputed_with_creator_id,omitempty"`
	DisputeID           string  `json:"dispute_id,omitempty"`
	Score               float64 `json:"score,omitempty"`
	Error               string  `json:"error,omitempty"`
}

func runRegister(ctx context.Context, std IO, args []string) error {
	fs := newFlagSet(std, "register", registerSynopsis)
	jsonOut := fs.Bool("json", false, "print one JSON object a line")
	manifest := fs.String("manifest", "", "JSONL file, one work a line: path, creator_id, creator_name, title, year, source_url, licence, id (paths relative to the file)")
	var meta index.WorkMeta
	fs.StringVar(&meta.CreatorID, "creator", "", "creator id of the works (required without --manifest)")
	fs.StringVar(&meta.CreatorName, "creator-name", "", "creator's name")
	fs.StringVar(&meta.Title, "title", "", "title (of each work given)")
	fs.IntVar(&meta.Year, "year", 0, "year the works were made")
	fs.StringVar(&meta.SourceURL, "source", "", "where the works are published")
	fs.StringVar(&meta.Licence, "licence", "", "licence of the works")
	quiet := fs.Bool("quiet", false, "no progress bar")
	ro := registryFlags(fs)
	if err := fs.parse(args); err != nil {
		return err
	}
	paths := fs.Args()
	meta.RegisteredBy = registeredBy(std)

	var items []registerItem
	switch {
	case *manifest != "" && (len(paths) > 0 || meta != index.WorkMeta{RegisteredBy: meta.RegisteredBy}):
		return fmt.Errorf("%w: --manifest takes the works and their metadata from the file: give no paths, --creator or other metadata flags", errUsage)
	case *manifest != "":
		var err error
		if items, err = readManifest(*manifest, meta.RegisteredBy); err != nil {
			return err
		}
	case len(paths) == 0:
		return fmt.Errorf("%w: no paths (or --manifest) given", errUsage)
	case meta.CreatorID == "":
		return fmt.Errorf("%w: --creator is required", errUsage)
	default:
		files, err := expandPaths(paths, nil)
		if err != nil {
			return err
		}
		for _, p := range files {
			items = append(items, registerItem{path: p, shown: p, meta: meta})
		}
	}

	reg, err := ro.open(ctx, newLogger(std, zapcore.WarnLevel))
	if err != nil {
		return err
	}
	defer reg.Close()
	maxBytes := reg.Config().Hashing.MaxBytes

	type prepared struct {
		p   *index.Pending
		err error
	}
	bar := newProgress(std, len(items), "registering", *quiet)
	defer bar.finish()
	counts := map[string]int{}
	err = ordered(ctx, items, func(ctx context.Context, it registerItem) prepared {
		if it.err != nil {
			return prepared{err: it.err}
		}
		data, err := readImageFile(it.path, maxBytes)
		if err != nil {
			return prepared{err: err}
		}
		p, err := reg.Prepare(ctx, data, it.meta)
		return prepared{p, err}
	}, func(_ int, it registerItem, pr prepared) error {
		out := registerOutput{Line: it.line, Path: it.shown}
		err := pr.err
		if err == nil {
			var res index.RegisterResult
			res, err = reg.Commit(ctx, pr.p)
			if err == nil {
				out.ID, out.Status, out.CreatorID = res.Work.ID, res.Status, res.Work.CreatorID
				if d := res.Dispute; d != nil {
					out.DisputedWith, out.DisputedWithCreator, out.DisputeID, out.Score = d.ExistingWorkID, d.ExistingCreatorID, d.ID, d.Score
				}
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, index.ErrClosed) {
				return err // nothing more will succeed
			}
			out.Error = err.Error()
			counts["failed"]++
		} else {
			counts[string(out.Status)]++
		}
		var werr error
		bar.print(func() { werr = printRegistered(std, *jsonOut, *manifest, out) })
		return werr
	})
	bar.finish()
	if err != nil {
		return err
	}
	if !*jsonOut {
		fmt.Fprintf(std.Stderr, "%d registered, %d disputed, %d already registered, %d failed\n",
			counts[string(index.StatusRegistered)], counts[string(index.StatusDisputed)], counts[string(index.StatusExists)], counts["failed"])
	}
	if counts["failed"] > 0 {
		return exitError{1}
	}
	return nil
}

// registeredBy names who registers from the command line: "cli:" and the user name.
func registeredBy(std IO) string {
	if u := std.getenv("USER"); u != "" {
		return "cli:" + u
	}
	return "cli"
}

// printRegistered prints one outcome: a JSON line, or a readable line (errors on stderr).
func printRegistered(std IO, jsonOut bool, manifest string, out registerOutput) error {
	if jsonOut {
		return jsonLine(std.Stdout, out)
	}
	where := out.Path
	if out.Line > 0 {
		where = fmt.Sprintf("%s:%d", manifest, out.Line)
		if out.Path != "" {
			where += " (" + out.Path + ")"
		}
	}
	if out.Error != "" {
		_, err := fmt.Fprintf(std.Stderr, "aura register: %s: %s\n", where, out.Error)
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-10s %s  %s", out.Status, out.ID, where)
	switch {
	case out.Status == index.StatusExists && out.DisputedWith == "":
		fmt.Fprintf(&b, " (registered to %s)", out.CreatorID)
	case out.DisputedWith != "":
		fmt.Fprintf(&b, ": matches %s of %s (score %.2f); a provenance dispute is recorded", out.DisputedWith, out.DisputedWithCreator, out.Score)
	}
	_, err := fmt.Fprintln(std.Stdout, b.String())
	return err
}

// manifestLine is one line of a registration manifest.
type manifestLine struct {
	ID          string `json:"id"`
	Path        string `json:"path"`
	CreatorID   string `json:"creator_id"`
	CreatorName string `json:"creator_name"`
	Title       string `json:"title"`
	Year        int    `json:"year"`
	SourceURL   string `json:"source_url"`
	Licence     string `json:"licence"`
}

// maxManifestLine is the longest manifest line read, in bytes.
const maxManifestLine = 1 << 20

// readManifest reads a JSONL manifest. Every line becomes an item; a bad line (bad JSON,
// unknown or missing fields, a URL or a missing file as path, a path or id given on an
// earlier line) becomes an item with its error. Blank lines are skipped. Relative paths are
// relative to the manifest's directory. Only a manifest that cannot be read at all is an
// error.
func readManifest(name, registeredBy string) ([]registerItem, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	dir := filepath.Dir(name)
	seenPath := map[string]int{}
	seenID := map[string]int{}
	var items []registerItem
	r := bufio.NewReaderSize(f, 64<<10)
	for n := 1; ; n++ {
		raw, err := readLine(r)
		if err == io.EOF && raw == nil {
			break
		}
		if err != nil && err != io.EOF {
			return nil, fmt.Errorf("manifest %s: line %d: %w", name, n, err)
		}
		if len(bytes.TrimSpace(raw)) == 0 {
			continue
		}
		it := registerItem{line: n}
		it.path, it.shown, it.meta, it.err = parseManifestLine(raw, dir)
		it.meta.RegisteredBy = registeredBy
		if it.err == nil {
			clean, _ := filepath.Abs(it.path)
			if first, ok := seenPath[clean]; ok {
				it.err = fmt.Errorf("duplicate path %q (first on line %d)", it.shown, first)
			} else if first, ok := seenID[it.meta.ID]; ok && it.meta.ID != "" {
				it.err = fmt.Errorf("duplicate id %q (first on line %d)", it.meta.ID, first)
			} else {
				seenPath[clean] = n
				if it.meta.ID != "" {
					seenID[it.meta.ID] = n
				}
			}
		}
		items = append(items, it)
	}
	return items, nil
}

// readLine reads one line without its end, at most maxManifestLine bytes.
func readLine(r *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := r.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > maxManifestLine {
			return nil, fmt.Errorf("line longer than %d bytes", maxManifestLine)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF && len(line) == 0 {
			return nil, io.EOF
		}
		return bytes.TrimRight(line, "\r\n"), err
	}
}

// parseManifestLine checks one manifest line and returns the file to read, its path as the
// line gives it, and its metadata.
func parseManifestLine(raw []byte, dir string) (path, shown string, meta index.WorkMeta, err error) {
	var l manifestLine
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&l); err != nil {
		return "", "", meta, fmt.Errorf("bad JSON: %v", err)
	}
	if dec.More() {
		return "", "", meta, errors.New("bad JSON: more than one value on the line")
	}
	meta = index.WorkMeta{
		ID: l.ID, CreatorID: l.CreatorID, CreatorName: l.CreatorName, Title: l.Title, Year: l.Year,
		SourceURL: l.SourceURL, Licence: l.Licence,
	}
	shown = l.Path
	switch {
	case l.Path == "":
		return "", "", meta, errors.New("path is required")
	case fetch.IsURL(l.Path) || strings.Contains(l.Path, "://"):
		return "", shown, meta, fmt.Errorf("path %q is a URL: register takes local files (download it first)", l.Path)
	case strings.TrimSpace(l.CreatorID) == "":
		return "", shown, meta, errors.New("creator_id is required")
	case l.Year < 0 || l.Year > 9999:
		return "", shown, meta, fmt.Errorf("year %d is not in 0..9999", l.Year)
	}
	path = l.Path
	if !filepath.IsAbs(path) {
		path = filepath.Join(dir, path)
	}
	info, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "", shown, meta, fmt.Errorf("path %q does not exist", l.Path)
	case err != nil:
		return "", shown, meta, err
	case info.IsDir():
		return "", shown, meta, fmt.Errorf("path %q is a directory", l.Path)
	}
	return path, shown, meta, nil
}
