package cli

import (
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/aura-art/aura/rescan"
)

// isImageName reports whether a file name has an image extension (rescan.IsImageName).
func isImageName(name string) bool { return rescan.IsImageName(name) }

// expandPaths turns command-line arguments into the files to process, in order: a file is
// taken as given, a directory is walked recursively for files with image extensions (hidden
// files and directories skipped, names in lexical order). keep, when not nil, passes an
// argument through untouched (URLs for check). A path that cannot be read is passed through
// too, so that reading it reports the error in its place; only an error while walking a
// directory is returned.
func expandPaths(args []string, keep func(string) bool) ([]string, error) {
	var out []string
	for _, a := range args {
		if keep != nil && keep(a) {
			out = append(out, a)
			continue
		}
		info, err := os.Stat(a)
		if err != nil || !info.IsDir() {
			out = append(out, a)
			continue
		}
		err = filepath.WalkDir(a, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if p != a && strings.HasPrefix(d.Name(), ".") {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if d.Type().IsRegular() && isImageName(d.Name()) {
				out = append(out, p)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// readImageFile reads at most maxBytes+1 bytes of a file, so that a file too large for the
// decoder is refused by it without being read whole.
func readImageFile(path string, maxBytes int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxBytes+1))
}

// ordered runs work on every item on up to GOMAXPROCS goroutines and hands the results to
// emit in the items' order, on the calling goroutine. At most a few results wait for emit at
// any time. It stops at the first error emit returns, or when ctx ends, and returns that
// error; every goroutine has finished when it returns.
func ordered[T, R any](ctx context.Context, items []T, work func(context.Context, T) R, emit func(int, T, R) error) error {
	workers := min(runtime.GOMAXPROCS(0), max(1, len(items)))
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	results := make([]chan R, len(items))
	for i := range results {
		results[i] = make(chan R, 1)
	}
	ahead := make(chan struct{}, 2*workers) // bounds results waiting for emit
	jobs := make(chan int)
	wg.Go(func() {
		defer close(jobs)
		for i := range items {
			select {
			case ahead <- struct{}{}:
			case <-ctx.Done():
				return
			}
			select {
			case jobs <- i:
			case <-ctx.Done():
				return
			}
		}
	})
	for range workers {
		wg.Go(func() {
			for i := range jobs {
				results[i] <- work(ctx, items[i])
			}
		})
	}
	for i, item := range items {
		select {
		case r := <-results[i]:
			<-ahead
			if err := emit(i, item, r); err != nil {
				return err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// progress is a progress bar on a terminal's stderr, or nothing.
type progress struct{ bar *progressbar.ProgressBar }

// progressMinItems is the fewest items that get a progress bar.
const progressMinItems = 20

// newProgress shows a bar on std.Stderr when it is a terminal, quiet is false and there
// are more than progressMinItems items.
func newProgress(std IO, n int, what string, quiet bool) progress {
	if quiet || n <= progressMinItems || !isTerminal(std.Stderr) {
		return progress{}
	}
	return progress{progressbar.NewOptions(n,
		progressbar.OptionSetWriter(std.Stderr),
		progressbar.OptionSetDescription(what),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionFullWidth(),
	)}
}

// print clears the bar, runs fn (which prints a line), and counts one item done.
func (p progress) print(fn func()) {
	if p.bar != nil {
		_ = p.bar.Clear()
	}
	fn()
	if p.bar != nil {
		_ = p.bar.Add(1)
	}
}

// finish removes the bar.
func (p progress) finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// jsonLine writes v as one line of JSON, without escaping <, > and & (paths and titles
// stay readable).
func jsonLine(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// errorText is the message of an error for output, or "".
func errorText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
