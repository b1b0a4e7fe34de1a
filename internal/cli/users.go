package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aura-art/aura/review"
	"github.com/aura-art/aura/review/web"
)

func init() {
	register(command{name: "users", summary: "add, list, disable, enable or delete moderator accounts", run: runUsers})
}

var usersCommands = map[string]struct {
	synopsis string
	summary  string
	run      func(ctx context.Context, std IO, st review.Store, args []string, role review.Role, pwFile string) error
}{
	"add":     {"add [--role moderator|admin] [--password-file FILE] NAME", "add or replace an account; the password is read from --password-file or the first line of stdin", usersAdd},
	"list":    {"list", "list the accounts", usersList},
	"disable": {"disable NAME", "stop an account from logging in; its sessions end", usersSetDisabled(true)},
	"enable":  {"enable NAME", "let a disabled account log in again", usersSetDisabled(false)},
	"delete":  {"delete NAME", "delete an account", usersDelete},
}

func runUsers(ctx context.Context, std IO, args []string) error {
	summaries := map[string]string{}
	for n, c := range usersCommands {
		summaries[n] = c.summary
	}
	name, done, err := pickSubcommand(std, "users", summaries, args)
	if done || err != nil {
		return err
	}
	sub := usersCommands[name]
	fs := newFlagSet(std, "users "+args[0], strings.TrimPrefix(sub.synopsis, args[0]+" "))
	role := string(review.Moderator)
	var pwFile string
	if args[0] == "add" {
		fs.StringVar(&role, "role", role, "moderator (review and decide) or admin (also reopen decided cases)")
		fs.StringVar(&pwFile, "password-file", "", "file whose first line is the password (default: stdin)")
	}
	so := storeFlags(fs)
	if err := fs.parse(args[1:]); err != nil {
		return err
	}
	want := 1
	if args[0] == "list" {
		want = 0
	}
	if fs.NArg() != want {
		return fmt.Errorf("%w: want %d argument(s), got %d", errUsage, want, fs.NArg())
	}
	s, err := so.open(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = s.Close() }()
	cases, err := openCases(s)
	if err != nil {
		return err
	}
	return sub.run(ctx, std, cases, fs.Args(), review.Role(role), pwFile)
}

func usersAdd(ctx context.Context, std IO, st review.Store, args []string, role review.Role, pwFile string) error {
	if !role.Valid() {
		return fmt.Errorf("%w: --role %q: want moderator or admin", errUsage, role)
	}
	var r io.Reader = std.Stdin
	if pwFile != "" {
		f, err := os.Open(pwFile)
		if err != nil {
			return fmt.Errorf("password file: %w", err)
		}
		defer f.Close()
		r = f
	}
	if r == nil {
		return fmt.Errorf("%w: no password: give --password-file or pipe it to stdin", errUsage)
	}
	line, err := bufio.NewReader(io.LimitReader(r, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("reading the password: %w", err)
	}
	hash, err := web.HashPassword(strings.TrimRight(line, "\r\n"))
	if errors.Is(err, web.ErrBadPassword) {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if err != nil {
		return err
	}
	u := &review.User{Name: args[0], Role: role, PasswordHash: hash, CreatedAt: time.Now()}
	if old, err := st.GetUser(ctx, u.Name); err == nil { // a password reset: the account keeps its state
		u.CreatedAt, u.Disabled = old.CreatedAt, old.Disabled
	}
	if err := st.PutUser(ctx, u); err != nil {
		return err
	}
	state := ""
	if u.Disabled {
		state = "; it is disabled: aura users enable " + u.Name
	}
	fmt.Fprintf(std.Stdout, "user %s (%s) saved%s\n", u.Name, u.Role, state)
	return nil
}

func usersList(ctx context.Context, std IO, st review.Store, _ []string, _ review.Role, _ string) error {
	users, err := st.ListUsers(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(std.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tROLE\tCREATED\tSTATUS")
	for _, u := range users {
		status := "active"
		if u.Disabled {
			status = "disabled"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.Name, u.Role, u.CreatedAt.Format(time.RFC3339), status)
	}
	return tw.Flush()
}

func usersSetDisabled(disabled bool) func(context.Context, IO, review.Store, []string, review.Role, string) error {
	return func(ctx context.Context, std IO, st review.Store, args []string, _ review.Role, _ string) error {
		u, err := st.GetUser(ctx, args[0])
		if err != nil {
			return userNotFound(args[0], err)
		}
		u.Disabled = disabled
		if err := st.PutUser(ctx, u); err != nil {
			return err
		}
		fmt.Fprintf(std.Stdout, "user %s %s\n", u.Name, map[bool]string{true: "disabled", false: "enabled"}[disabled])
		return nil
	}
}

func usersDelete(ctx context.Context, std IO, st review.Store, args []string, _ review.Role, _ string) error {
	if err := st.DeleteUser(ctx, args[0]); err != nil {
		return userNotFound(args[0], err)
	}
	fmt.Fprintf(std.Stdout, "user %s deleted\n", args[0])
	return nil
}

func userNotFound(name string, err error) error {
	if errors.Is(err, review.ErrNotFound) {
		return fmt.Errorf("user %s: not found", name)
	}
	return err
}

// bootstrapAdmin makes sure a fresh installation can log in: when the store has no user
// yet, it creates "admin" with a random password written to path (0600) and returns true.
func bootstrapAdmin(ctx context.Context, st review.Store, path string) (bool, error) {
	users, err := st.ListUsers(ctx)
	if err != nil || len(users) > 0 {
		return false, err
	}
	pw, err := localToken(path) // 48 random hex digits, kept in path
	if err != nil {
		return false, fmt.Errorf("admin password: %w", err)
	}
	hash, err := web.HashPassword(pw)
	if err != nil {
		return false, err
	}
	return true, st.PutUser(ctx, &review.User{Name: "admin", Role: review.Admin, PasswordHash: hash, CreatedAt: time.Now()})
}
