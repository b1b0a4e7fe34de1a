package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap/zapcore"

	"github.com/aura-art/aura/fetch"
	"github.com/aura-art/aura/verdict"
)

func init() {
	register(command{name: "check", summary: "check pictures (files, directories or URLs) against the registry", run: runCheck})
}

// checkOutput is one line of check's --json output: the path or URL and its verdict, or the
// error that kept it from one.
type checkOutput struct {
	Path string `json:"path"`
	*verdict.Verdict
	Error string `json:"error,omitempty"`
}

// Exit codes of check.
const (
	exitFlagged = 3 // some picture is a likely forgery or a derivative
)

func runCheck(ctx context.Context, std IO, args []string) error {
	fs := newFlagSet(std, "check", "[--json] [--creator ID] PATH|URL...")
	jsonOut := fs.Bool("json", false, "print one JSON verdict a line")
	creator := fs.String("creator", "", "creator the uploader claims to be: a match of their own work is own_work")
	fetchTimeout := fs.Duration("fetch-timeout", 10*time.Second, "time limit of downloading one URL")
	allowLoopback := fs.Bool("fetch-allow-loopback", false, "let URLs reach loopback addresses (testing only)")
	quiet := fs.Bool("quiet", false, "no progress bar")
	ro := registryFlags(fs)
	if err := fs.parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("%w: no paths or URLs given", errUsage)
	}
	inputs, err := expandPaths(fs.Args(), fetch.IsURL)
	if err != nil {
		return err
	}
	fc := fetch.DefaultConfig()
	fc.Timeout, fc.AllowLoopback = *fetchTimeout, *allowLoopback
	cfg, err := ro.config()
	if err != nil {
		return err
	}
	fc.MaxBytes = cfg.Hashing.MaxBytes
	fetcher, err := fetch.New(fc)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	defer fetcher.CloseIdleConnections()

	reg, err := ro.open(ctx, newLogger(std, zapcore.WarnLevel))
	if err != nil {
		return err
	}
	defer reg.Close()

	bar := newProgress(std, len(inputs), "checking", *quiet)
	defer bar.finish()
	var failed, flagged int
	err = ordered(ctx, inputs, func(ctx context.Context, in string) checkOutput {
		out := checkOutput{Path: in}
		var data []byte
		var err error
		if fetch.IsURL(in) {
			data, err = fetcher.Fetch(ctx, in)
		} else {
			data, err = readImageFile(in, cfg.Hashing.MaxBytes)
		}
		if err == nil {
			var v verdict.Verdict
			if v, err = reg.Check(ctx, data, *creator); err == nil {
				out.Verdict = &v
			}
		}
		out.Error = errorText(err)
		return out
	}, func(_ int, _ string, out checkOutput) error {
		if out.Error != "" && ctx.Err() != nil {
			return ctx.Err()
		}
		switch {
		case out.Error != "":
			failed++
		case out.Verdict.Flagged():
			flagged++
		}
		var werr error
		bar.print(func() { werr = printVerdict(std, *jsonOut, out) })
		return werr
	})
	bar.finish()
	switch {
	case err != nil:
		return err
	case failed > 0:
		return exitError{1}
	case flagged > 0:
		return exitError{exitFlagged}
	}
	return nil
}

// printVerdict prints one verdict: a JSON line, or a readable line (errors on stderr).
func printVerdict(std IO, jsonOut bool, out checkOutput) error {
	if jsonOut {
		return jsonLine(std.Stdout, out)
	}
	if out.Error != "" {
		_, err := fmt.Fprintf(std.Stderr, "aura check: %s: %s\n", out.Path, out.Error)
		return err
	}
	v := out.Verdict
	var b strings.Builder
	fmt.Fprintf(&b, "%-14s %s", v.Verdict, out.Path)
	if len(v.Matches) > 0 {
		m := v.Matches[0]
		fmt.Fprintf(&b, ": %s", m.WorkID)
		if m.Title != "" {
			fmt.Fprintf(&b, " %q", m.Title)
		}
		by := m.CreatorID
		if m.CreatorName != "" {
			by = fmt.Sprintf("%s (%s)", m.CreatorName, m.CreatorID)
		}
		fmt.Fprintf(&b, " by %s, %s", by, m.Description)
		if n := len(v.Matches) - 1; n > 0 {
			fmt.Fprintf(&b, "; %d more", n)
		}
	}
	_, err := fmt.Fprintln(std.Stdout, b.String())
	return err
}
