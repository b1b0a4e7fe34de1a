package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/aura-art/aura/eval"
)

func init() {
	register(command{name: "eval", summary: "run the accuracy benchmark on the development corpus", run: runEval})
}

func runEval(ctx context.Context, std IO, args []string) error {
	fs := newFlagSet(std, "eval", "[flags]")
	cfg := eval.DefaultConfig()
	home, _ := os.UserHomeDir()
	fs.StringVar(&cfg.Corpus, "corpus", filepath.Join(home, ".cache", "aura", "corpus"), "development corpus built by fixtures/build-corpus.sh")
	fs.IntVar(&cfg.Originals, "originals", cfg.Originals, "photos and artworks to register")
	fs.IntVar(&cfg.Distractors, "distractors", cfg.Distractors, "unrelated pictures to check (0: all the rest)")
	fs.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "seed for picking originals and for the transformations")
	transforms := fs.String("transforms", "", "comma-separated transformations to run (default all)")
	out := fs.String("out", "eval-out", "directory for report.md, report.json and recall.svg")
	quiet := fs.Bool("quiet", false, "no progress bar")
	hc := hashingFlags(fs)
	if err := fs.parse(args); err != nil {
		return err
	}
	var err error
	if cfg.Hashing, err = hc(); err != nil {
		return err
	}
	if *transforms != "" {
		cfg.Transforms = strings.Split(*transforms, ",")
	}
	if !*quiet {
		cfg.Progress = std.Stderr
	}
	rep, err := eval.Run(ctx, cfg)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	for name, write := range map[string]func(io.Writer) error{
		"report.md": rep.WriteMarkdown, "report.json": rep.WriteJSON, "recall.svg": rep.WriteSVG,
	} {
		f, err := os.Create(filepath.Join(*out, name))
		if err != nil {
			return err
		}
		if err := write(f); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	if err := rep.WriteMarkdown(std.Stdout); err != nil {
		return err
	}
	fmt.Fprintf(std.Stderr, "wrote %s/report.md, report.json, recall.svg\n", *out)
	return nil
}
