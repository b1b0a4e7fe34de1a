// Package cli implements the aura command's subcommands. Each command reads its settings
// from flags and AURA_* environment variables (flags win), validates them once, and writes
// to the io.Writers it is given, so tests can run commands and read what they print.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"go.uber.org/zap/zapcore"
)

// IO is what a command reads from and writes to.
type IO struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Getenv looks up environment variables; nil means none are set.
	Getenv func(string) string
}

// Stdio returns the process's standard streams and environment.
func Stdio() IO { return IO{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv} }

func (std IO) getenv(k string) string {
	if std.Getenv == nil {
		return ""
	}
	return std.Getenv(k)
}

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, std IO, args []string) error
}

var commands = map[string]command{}

func register(c command) { commands[c.name] = c }

// errUsage marks a mistake in the command line; Main prints usage and exits 2.
var errUsage = errors.New("usage")

// exitError carries an exit code chosen by a command, after it printed what went wrong.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// Main runs the command named by args[0] and returns the process exit code: 0 on success,
// 1 on failure, 2 on a usage error.
func Main(ctx context.Context, args []string, std IO) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(std.Stdout)
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(std.Stderr, "aura: unknown command %q\n\n", args[0])
		usage(std.Stderr)
		return 2
	}
	err := c.run(ctx, std, args[1:])
	var ee exitError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(std.Stderr, "aura %s: %v\n", c.name, err)
		return 2
	case errors.As(err, &ee):
		return ee.code
	default:
		fmt.Fprintf(std.Stderr, "aura %s: %v\n", c.name, err)
		return 1
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "aura protects human-made art: it registers works and checks uploads against them.")
	fmt.Fprintln(w, "\nUsage: aura COMMAND [flags] [args]\n\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nEvery flag can also be set with an AURA_* environment variable: --max-pixels is AURA_MAX_PIXELS.\nRun \"aura COMMAND -h\" for a command's flags.")
}

// flagSet is a flag.FlagSet whose unset flags fall back to AURA_* variables.
type flagSet struct {
	*flag.FlagSet
	std IO
}

func newFlagSet(std IO, name, synopsis string) *flagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(std.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(std.Stderr, "Usage: aura %s %s\n\nFlags (each also read from AURA_<NAME>):\n", name, synopsis)
		fs.PrintDefaults()
	}
	return &flagSet{fs, std}
}

// EnvName is the environment variable that sets a flag: AURA_ and the flag's name in upper
// case with dashes as underscores.
func EnvName(flagName string) string {
	return "AURA_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parse parses args, flags and positional arguments in any order ("--" ends the flags),
// then sets every flag not given on the command line from its environment variable.
// parseNoArgs is parse for commands that take flags only.
func (fs *flagSet) parseNoArgs(args []string) error {
	if err := fs.parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	return nil
}

// logLevelFlag registers --log-level, default info.
func logLevelFlag(fs *flagSet) *zapcore.Level {
	l := zapcore.InfoLevel
	fs.Var(&l, "log-level", "lowest level logged: debug, info, warn, error (default info)")
	return &l
}

func (fs *flagSet) parse(args []string) error {
	var positional []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return err
			}
			return fmt.Errorf("%w: %v", errUsage, err)
		}
		left := fs.Args()
		if len(left) == 0 {
			break
		}
		if used := len(rest) - len(left); used > 0 && rest[used-1] == "--" {
			positional = append(positional, left...)
			break
		}
		positional = append(positional, left[0])
		rest = left[1:]
	}
	_ = fs.Parse(append([]string{"--"}, positional...)) // leaves fs.Args() == positional
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil {
			return
		}
		if v := fs.std.getenv(EnvName(f.Name)); v != "" {
			if e := f.Value.Set(v); e != nil {
				err = fmt.Errorf("%w: %s=%q: %v", errUsage, EnvName(f.Name), v, e)
			}
		}
	})
	return err
}
