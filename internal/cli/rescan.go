package cli

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"golang.org/x/term"

	"github.com/aura-art/aura/fetch"
	"github.com/aura-art/aura/index"
	"github.com/aura-art/aura/rescan"
	"github.com/aura-art/aura/retro"
	"github.com/aura-art/aura/review"
	"github.com/aura-art/aura/verdict"
	"github.com/aura-art/aura/worker"
)

func init() {
	register(command{name: "rescan", summary: "rescan a directory, a manifest of paths or URLs, or stdin; resumable, with a report", run: runRescan})
}

const rescanSynopsis = `[flags] SOURCE

SOURCE is a directory (walked for images; --all for every file), a manifest (.jsonl or
.csv with the fields path or url, and id, tenant, creator; .txt with a path or URL a line),
or - to read paths, URLs or JSON lines from stdin. Flagged pictures open review cases of
kind rescan. The journal in --state-dir records each finished item: the same command run
again skips what is done (unchanged files), so an interrupted rescan resumes.`

func runRescan(ctx context.Context, std IO, args []string) error {
	fs := newFlagSet(std, "rescan", rescanSynopsis)
	cfg := rescan.DefaultConfig()
	fs.StringVar(&cfg.Tenant, "tenant", cfg.Tenant, "tenant of the items whose manifest line names none")
	fs.StringVar(&cfg.Creator, "creator", cfg.Creator, "creator the items claim, when their manifest line names none")
	fs.IntVar(&cfg.Concurrency, "concurrency", cfg.Concurrency, "items read and checked at once")
	fs.Float64Var(&cfg.Rate, "rate", cfg.Rate, "most items started a second; 0: no limit")
	fs.BoolVar(&cfg.Hash, "hash", cfg.Hash, "tell unchanged files by their SHA-256 (reads every file) instead of size and modification time")
	fs.BoolVar(&cfg.Force, "force", cfg.Force, "redo every item, even those an earlier run finished")
	fs.BoolVar(&cfg.RetryErrors, "retry-errors", cfg.RetryErrors, "redo the items that failed in an earlier run")
	fs.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", cfg.ShutdownTimeout, "on interrupt, how long the items in progress may take to finish")
	all := fs.Bool("all", false, "in a directory, take every regular file, not only image names (jpg, jpeg, png, gif, webp, bmp, tif, tiff, avif, heic, heif)")
	reportName := fs.String("report", "", "write one line an item to `FILE`: .jsonl or .csv; - for JSONL on stdout")
	stateDir := fs.String("state-dir", "", "directory of the journal (default <data-dir>/rescans/<SHA-256 of the directory's absolute path or of the manifest>)")
	progressEvery := fs.Duration("progress-every", 10*time.Second, "interval of the progress lines when stderr is not a terminal")
	quiet := fs.Bool("quiet", false, "no progress")
	listen := fs.String("listen", "", "serve the rescan's metrics at http://`ADDR`/metrics while it runs")
	fetchTimeout := fs.Duration("fetch-timeout", 10*time.Second, "time limit of downloading one URL")
	allowLoopback := fs.Bool("fetch-allow-loopback", false, "let URLs reach loopback addresses (testing only)")
	viaNATS := fs.Bool("via-nats", false, "send the pictures to the workers through NATS (stream RESCANS, at lower priority than uploads) instead of checking them here; --nats-url defaults to "+defaultWorkerNATSURL)
	retroAll := fs.Bool("retro", false, "instead of a SOURCE: match every registered work against every past upload in the upload log, opening retro cases (and, with --nats-url, publishing retroactive verdicts)")
	no := natsFlags(fs, "")
	ro := registryFlags(fs)
	if err := fs.parse(args); err != nil {
		return err
	}
	if *retroAll {
		if fs.NArg() != 0 {
			return fmt.Errorf("%w: --retro takes no SOURCE", errUsage)
		}
		return runRetroAll(ctx, std, ro, no)
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: want one SOURCE (a directory, a manifest or -), got %d arguments", errUsage, fs.NArg())
	}
	rcfg, err := ro.config()
	if err != nil {
		return err
	}
	cfg.MaxBytes = rcfg.Hashing.MaxBytes
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if *progressEvery <= 0 {
		return fmt.Errorf("%w: --progress-every must be positive", errUsage)
	}
	src, err := rescanSource(std, fs.Arg(0), *all)
	if err != nil {
		return err
	}
	var report *rescan.Report
	if *reportName == "-" {
		report, err = rescan.NewReport(std.Stdout, false)
	} else if *reportName != "" {
		report, err = rescan.CreateReport(*reportName)
	}
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if report != nil {
		defer report.Close()
	}
	out := std.Stdout // the summary
	if *reportName == "-" {
		out = std.Stderr
	}

	dir := *stateDir
	if dir == "" {
		if ro.store.dataDir == "" {
			return fmt.Errorf("%w: --data-dir is empty: give --state-dir", errUsage)
		}
		dir = filepath.Join(ro.store.dataDir, "rescans", src.Key())
	}
	journal, err := rescan.OpenJournal(dir)
	if errors.Is(err, rescan.ErrBusy) {
		return fmt.Errorf("%s: another aura rescan of %s is running (its journal is in %s)", src, src, dir)
	}
	if err != nil {
		return err
	}
	defer journal.Close()
	// Name the source beside its journal, for whoever wonders what the directory is.
	_ = os.WriteFile(filepath.Join(dir, "source"), []byte(src.String()+"\n"), 0o600)
	log := newLogger(std, zapcore.WarnLevel).Named("rescan")
	if n := journal.Ignored(); n > 0 {
		log.Warn("journal lines ignored", zap.String("state_dir", dir), zap.Int("lines", n))
	}

	metrics := rescan.NewMetrics()
	if *listen != "" {
		stop, err := serveMetrics(*listen, metrics.Handler(), log)
		if err != nil {
			return err
		}
		defer stop()
	}
	fc := fetch.DefaultConfig()
	fc.Timeout, fc.AllowLoopback, fc.MaxBytes = *fetchTimeout, *allowLoopback, cfg.MaxBytes
	fetcher, err := fetch.New(fc)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	defer fetcher.CloseIdleConnections()

	deps := rescan.Deps{Fetcher: fetcher, Journal: journal, Report: report, Metrics: metrics, Log: log}
	if *viaNATS {
		remote, closeRemote, err := openRemoteRescan(ctx, no, dir, cfg.Force, log)
		if err != nil {
			return err
		}
		defer closeRemote()
		deps.Remote = remote
	} else {
		reg, err := ro.open(ctx, log)
		if err != nil {
			return err
		}
		defer reg.Close()
		deps.Checker, deps.Cases = reg, &review.Opener{Store: reg.cases, Hashing: reg.Config().Hashing}
	}
	runner, err := rescan.New(cfg, deps)
	if err != nil {
		return err
	}

	var bar sync.WaitGroup
	barCtx, stopBar := context.WithCancel(ctx)
	if !*quiet {
		p := &rescan.Progress{W: std.Stderr, Stats: runner.Stats, Terminal: isTerminal(std.Stderr), Every: *progressEvery, Width: terminalWidth(std.Stderr)}
		bar.Go(func() { p.Run(barCtx) })
	}
	sum, err := runner.Run(ctx, src)
	stopBar()
	bar.Wait()

	if err == nil && sum.NothingToDo() {
		fmt.Fprintf(out, "nothing to do: %d items already rescanned; --force to redo", sum.Earlier)
		if sum.EarlierErrors > 0 {
			fmt.Fprintf(out, " (%d of them failed: --retry-errors to retry those)", sum.EarlierErrors)
		}
		fmt.Fprintln(out)
		return nil
	}
	if err != nil && ctx.Err() == nil && sum.Items == 0 {
		return err // the source could not be read at all
	}
	if werr := sum.WriteTable(out); werr != nil && err == nil {
		err = werr
	}
	switch {
	case err != nil && ctx.Err() != nil:
		fmt.Fprintf(std.Stderr, "aura rescan: interrupted: %d items are in the journal (%s); run the same command again to resume\n", journal.Len(), dir)
		return exitError{1}
	case err != nil:
		return err
	case sum.Errors > 0:
		return exitError{1}
	}
	return nil
}

// rescanSource opens the source an argument names: "-" (stdin), a directory or a manifest.
func rescanSource(std IO, arg string, all bool) (rescan.Source, error) {
	if arg == "-" {
		if all {
			return nil, fmt.Errorf("%w: --all applies to a directory", errUsage)
		}
		if std.Stdin == nil {
			return nil, fmt.Errorf("%w: no stdin to read", errUsage)
		}
		return rescan.ReadManifest(std.Stdin, "stdin", rescan.Lines, ".")
	}
	info, err := os.Stat(arg)
	if err != nil {
		return nil, err
	}
	if info.IsDir() {
		return rescan.NewDir(arg, all)
	}
	if _, ok := rescan.FormatOf(arg); !ok {
		return nil, fmt.Errorf("%w: %s is not a directory, nor a manifest (.jsonl, .csv or .txt)", errUsage, arg)
	}
	if all {
		return nil, fmt.Errorf("%w: --all applies to a directory", errUsage)
	}
	return rescan.OpenManifest(arg)
}

// terminalWidth returns a function that measures w's terminal, or nil.
func terminalWidth(w io.Writer) func() int {
	f, ok := w.(*os.File)
	if !ok {
		return nil
	}
	return func() int {
		width, _, err := term.GetSize(int(f.Fd()))
		if err != nil {
			return 0
		}
		return width
	}
}

// serveMetrics serves h at http://addr/metrics until stop is called.
func serveMetrics(addr string, h http.Handler, log *zap.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server failed", zap.Error(err))
		}
	}()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	}, nil
}

// runRetroAll matches every enabled work against the whole upload log: "aura rescan --retro".
func runRetroAll(ctx context.Context, std IO, ro *registryOptions, no *natsOptions) error {
	log := newLogger(std, zapcore.WarnLevel).Named("retro")
	reg, err := ro.open(ctx, log)
	if err != nil {
		return err
	}
	defer reg.Close()
	uploads, ok := reg.store.(index.UploadLog)
	if !ok {
		return fmt.Errorf("the store %T keeps no upload log", reg.store)
	}
	start := time.Now()
	x := &retro.Index{}
	n, err := x.CatchUp(ctx, uploads)
	if err != nil {
		return err
	}
	r := &retro.Runner{
		Works: reg.store, Uploads: uploads, Index: x,
		Cases:      &review.Opener{Store: reg.cases, Hashing: reg.Config().Hashing},
		Suppressor: review.Suppressor{Store: reg.cases, Forgery: reg.Config().Thresholds.Forgery},
		Known:      review.FlaggedBefore(reg.cases),
		Thresholds: reg.Config().Thresholds, Log: log,
	}
	if no.cc.URL != "" {
		cc, err := no.config()
		if err != nil {
			return err
		}
		nc, err := worker.Connect(ctx, cc, log)
		if err != nil {
			return err
		}
		defer nc.Close()
		if r.Publish, err = worker.NewRetroPublisher(nc, worker.DefaultStreamsConfig(), "aura-rescan"); err != nil {
			return err
		}
	}
	var works, hits, flagged int
	_, err = reg.store.LoadWorks(ctx, func(e index.MatchEntry) error {
		if e.Disabled || e.Fingerprint == nil {
			return nil
		}
		res, err := r.MatchWork(ctx, e.ID, e.CreatorID, e.Fingerprint)
		if err != nil {
			return err
		}
		works++
		hits += res.Hits
		flagged += res.Flagged
		return nil
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(std.Stdout, "retro: %d works against %d past uploads in %v: %d matches, %d retro cases (the rest the creators' own uploads)\n",
		works, n, time.Since(start).Round(time.Millisecond), hits, flagged)
	return nil
}

// natsRescan checks rescan items through the workers (rescan.RemoteChecker).
type natsRescan struct{ c *worker.RescanClient }

// CheckRemote implements rescan.RemoteChecker. An item id that cannot be a submission id
// (spaces, non-ASCII, too long) goes as "h:" and 32 hex digits of its SHA-256; the case
// keeps its path as the source.
func (n natsRescan) CheckRemote(ctx context.Context, it rescan.RemoteItem) (*verdict.Verdict, string, error) {
	id := it.ID
	if !index.ValidSubmissionID(id) {
		sum := sha256.Sum256([]byte(id))
		id = "h:" + hex.EncodeToString(sum[:16])
	}
	r, err := n.c.Check(ctx, worker.RescanJob{Tenant: it.Tenant, ID: id, Creator: it.Creator, Source: it.Source, URL: it.URL, Data: it.Data})
	if err != nil {
		return nil, "", err
	}
	if r.Error != "" {
		return nil, "", errors.New(r.Error)
	}
	return r.Verdict, r.CaseID, nil
}

// openRemoteRescan connects to NATS and opens the rescan run kept in the state directory
// (file "run"; a new one with --force), so a resumed rescan reads the results it missed.
func openRemoteRescan(ctx context.Context, no *natsOptions, dir string, force bool, log *zap.Logger) (rescan.RemoteChecker, func(), error) {
	if no.cc.URL == "" {
		no.cc.URL = defaultWorkerNATSURL
	}
	cc, err := no.config()
	if err != nil {
		return nil, nil, err
	}
	runFile := filepath.Join(dir, "run")
	b, err := os.ReadFile(runFile)
	run := strings.TrimSpace(string(b))
	if err != nil || force || run == "" {
		var raw [8]byte
		_, _ = rand.Read(raw[:])
		run = hex.EncodeToString(raw[:])
		if err := os.WriteFile(runFile, []byte(run+"\n"), 0o600); err != nil {
			return nil, nil, err
		}
	}
	nc, err := worker.Connect(ctx, cc, log)
	if err != nil {
		return nil, nil, err
	}
	wc := worker.DefaultConfig()
	c, err := worker.NewRescanClient(ctx, nc, wc.Streams, run, wc.MaxInlineBytes)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return natsRescan{c}, func() { c.Close(); nc.Close() }, nil
}
