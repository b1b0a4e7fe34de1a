package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/aura-art/aura/index"
)

func init() {
	register(command{name: "works", summary: "list, show, export, disable, enable or delete registered works", run: runWorks})
}

// worksCommands are the subcommands of works.
var worksCommands = map[string]struct {
	synopsis string
	summary  string
	run      func(ctx context.Context, std IO, fs *flagSet, args []string) error
}{
	"list":    {"list [--creator ID] [--limit N] [--after CURSOR] [--json]", "list works, a page at a time", worksList},
	"show":    {"show [--json] [--thumbnail FILE] ID", "show one work", worksShow},
	"export":  {"export [--creator ID]", "print every work as JSON lines, without thumbnails", worksExport},
	"disable": {"disable ID", "stop matching a work (it stays registered)", worksSetDisabled(true)},
	"enable":  {"enable ID", "match a disabled work again", worksSetDisabled(false)},
	"delete":  {"delete ID", "delete a work (its file may then be registered again)", worksDelete},
}

func runWorks(ctx context.Context, std IO, args []string) error {
	summaries := map[string]string{}
	for n, c := range worksCommands {
		summaries[n] = c.summary
	}
	name, done, err := pickSubcommand(std, "works", summaries, args)
	if done || err != nil {
		return err
	}
	sub := worksCommands[name]
	fs := newFlagSet(std, "works "+args[0], sub.synopsis[len(args[0])+1:])
	return sub.run(ctx, std, fs, args[1:])
}

// openStore parses the store flags and opens the store; close it.
func openStore(ctx context.Context, fs *flagSet, args []string, nargs int) (index.Store, []string, error) {
	so := storeFlags(fs)
	if err := fs.parse(args); err != nil {
		return nil, nil, err
	}
	if nargs >= 0 && fs.NArg() != nargs {
		return nil, nil, fmt.Errorf("%w: want %d argument(s), got %d", errUsage, nargs, fs.NArg())
	}
	s, err := so.open(ctx, nil) // errors are returned; the client's own log lines add nothing
	return s, fs.Args(), err
}

// notFound turns a store's ErrNotFound into a short message.
func notFound(id string, err error) error {
	if errors.Is(err, index.ErrNotFound) {
		return fmt.Errorf("work %s: not found", id)
	}
	return err
}

func worksList(ctx context.Context, std IO, fs *flagSet, args []string) error {
	creator := fs.String("creator", "", "list only this creator's works")
	limit := fs.Int("limit", index.DefaultPageSize, fmt.Sprintf("page size, at most %d", index.MaxPageSize))
	after := fs.String("after", "", "cursor: list works after it (printed at the end of the previous page)")
	jsonOut := fs.Bool("json", false, "print one JSON object a line")
	s, _, err := openStore(ctx, fs, args, 0)
	if err != nil {
		return err
	}
	defer s.Close()
	works, next, err := s.ListWorks(ctx, index.ListOptions{CreatorID: *creator, After: *after, Limit: *limit})
	if err != nil {
		return err
	}
	if *jsonOut {
		for _, w := range works {
			if err := jsonLine(std.Stdout, exportedWork(w)); err != nil {
				return err
			}
		}
	} else if err := printWorkTable(std.Stdout, works); err != nil {
		return err
	}
	if next != "" {
		fmt.Fprintf(std.Stderr, "more: --after %s\n", next)
	}
	return nil
}

// printWorkTable prints works as an aligned table.
func printWorkTable(w io.Writer, works []*index.Work) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tCREATOR\tTITLE\tYEAR\tREGISTERED\tSTATE")
	for _, wk := range works {
		year, state := "", "enabled"
		if wk.Year != 0 {
			year = fmt.Sprint(wk.Year)
		}
		if wk.Disabled {
			state = "disabled"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", wk.ID, wk.CreatorID, wk.Title, year, wk.RegisteredAt.Format("2006-01-02 15:04:05Z"), state)
	}
	return tw.Flush()
}

// exportedWork is a work without its thumbnail.
func exportedWork(w *index.Work) *index.Work {
	c := *w
	c.Thumbnail = nil
	return &c
}

func worksShow(ctx context.Context, std IO, fs *flagSet, args []string) error {
	jsonOut := fs.Bool("json", false, "print the work as JSON")
	thumb := fs.String("thumbnail", "", "write the work's thumbnail (JPEG) to this file")
	s, rest, err := openStore(ctx, fs, args, 1)
	if err != nil {
		return err
	}
	defer s.Close()
	w, err := s.GetWork(ctx, rest[0])
	if err != nil {
		return notFound(rest[0], err)
	}
	if *thumb != "" {
		if len(w.Thumbnail) == 0 {
			return fmt.Errorf("work %s has no thumbnail", w.ID)
		}
		if err := os.WriteFile(*thumb, w.Thumbnail, 0o644); err != nil {
			return err
		}
	}
	if *jsonOut {
		return jsonLine(std.Stdout, exportedWork(w))
	}
	tw := tabwriter.NewWriter(std.Stdout, 0, 4, 2, ' ', 0)
	for _, f := range []struct{ k, v string }{
		{"id", w.ID}, {"creator", w.CreatorID}, {"creator name", w.CreatorName}, {"title", w.Title},
		{"year", yearText(w.Year)}, {"source", w.SourceURL}, {"licence", w.Licence},
		{"registered", w.RegisteredAt.Format("2006-01-02 15:04:05.000Z")}, {"registered by", w.RegisteredBy},
		{"sha256", w.SHA256}, {"disabled", fmt.Sprint(w.Disabled)},
		{"fingerprint", fmt.Sprintf("%d views, low detail %v", len(w.Fingerprint.Views), w.Fingerprint.LowDetail)},
		{"thumbnail", fmt.Sprintf("%d bytes", len(w.Thumbnail))},
	} {
		if f.v != "" {
			fmt.Fprintf(tw, "%s:\t%s\n", f.k, f.v)
		}
	}
	return tw.Flush()
}

func yearText(y int) string {
	if y == 0 {
		return ""
	}
	return fmt.Sprint(y)
}

func worksExport(ctx context.Context, std IO, fs *flagSet, args []string) error {
	creator := fs.String("creator", "", "export only this creator's works")
	s, _, err := openStore(ctx, fs, args, 0)
	if err != nil {
		return err
	}
	defer s.Close()
	after := ""
	for {
		works, next, err := s.ListWorks(ctx, index.ListOptions{CreatorID: *creator, After: after, Limit: index.MaxPageSize})
		if err != nil {
			return err
		}
		for _, w := range works {
			if err := jsonLine(std.Stdout, exportedWork(w)); err != nil {
				return err
			}
		}
		if next == "" {
			return nil
		}
		after = next
	}
}

func worksSetDisabled(disabled bool) func(context.Context, IO, *flagSet, []string) error {
	return func(ctx context.Context, std IO, fs *flagSet, args []string) error {
		s, rest, err := openStore(ctx, fs, args, 1)
		if err != nil {
			return err
		}
		defer s.Close()
		if err := s.SetDisabled(ctx, rest[0], disabled); err != nil {
			return notFound(rest[0], err)
		}
		state := "enabled"
		if disabled {
			state = "disabled"
		}
		_, err = fmt.Fprintf(std.Stdout, "%s %s\n", state, rest[0])
		return err
	}
}

func worksDelete(ctx context.Context, std IO, fs *flagSet, args []string) error {
	s, rest, err := openStore(ctx, fs, args, 1)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.DeleteWork(ctx, rest[0]); err != nil {
		return notFound(rest[0], err)
	}
	_, err = fmt.Fprintf(std.Stdout, "deleted %s\n", rest[0])
	return err
}
