package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap/zapcore"

	"github.com/aura-art/aura/hashing"
	"github.com/aura-art/aura/index"
	"github.com/aura-art/aura/internal/synth"
	"github.com/aura-art/aura/review"
	"github.com/aura-art/aura/worker"
)

// pipelineReport is the outcome of "aura bench pipeline".
type pipelineReport struct {
	GoVersion string `json:"go_version"`
	CPUs      int    `json:"cpus"`
	JPEG      string `json:"jpeg_decoder"`
	Image     string `json:"image"`
	// ImageBytes is the mean size of the submitted JPEGs.
	ImageBytes int `json:"image_bytes"`
	Works      int `json:"registered_works"`
	Workers    int `json:"workers"`
	// Concurrency is each worker's.
	Concurrency int `json:"concurrency"`
	// InFlight is each worker's (0: twice Concurrency).
	InFlight int `json:"in_flight"`
	// Window is how many submissions the throughput measurement kept in flight.
	Window int `json:"window"`
	// Store is the store's type: *index.BoltStore or *index.RedisStore.
	Store string `json:"store"`
	// Stages are the verdicts' own timings at half load: "queue" (publication to the
	// worker's start), "check" and "total" (the worker's start to its verdict's publication).
	Stages []stageLatency `json:"stages_at_half_load"`
	// ByURL reports that submissions carried URLs rather than inline images.
	ByURL bool `json:"by_url"`
	// SyncAlways reports whether JetStream and the store fsync every write.
	SyncAlways bool `json:"sync_always"`
	// SingleMS is the mean decode+fingerprint time of one image on one goroutine.
	SingleMS float64 `json:"single_fingerprint_ms"`
	// RawPerS is decode+fingerprint throughput with one goroutine per CPU.
	RawPerS float64 `json:"raw_fingerprint_per_s"`
	// PipelinePerS is submissions per second from publication to verdict received, with
	// the workers saturated.
	PipelinePerS float64 `json:"pipeline_per_s"`
	// Ratio is PipelinePerS / RawPerS.
	Ratio float64 `json:"pipeline_over_raw"`
	// LoadPerS is the open-loop rate of the latency run: half of PipelinePerS.
	LoadPerS float64 `json:"latency_load_per_s"`
	// Latencies of the latency run, publication to verdict received, in ms.
	P50MS float64 `json:"p50_ms"`
	P99MS float64 `json:"p99_ms"`
	MaxMS float64 `json:"max_ms"`
	// P99OverSingle is P99MS / SingleMS.
	P99OverSingle float64 `json:"p99_over_single"`
	// PerWorker counts the verdicts each worker decided in the throughput run.
	PerWorker map[string]int `json:"verdicts_per_worker"`
	// Duplicates counts verdicts received more than once (must be 0).
	Duplicates int `json:"duplicate_verdicts"`
	// Soak is the load test (--soak): submissions at SoakPerS for its duration, sampled
	// every window.
	SoakPerS float64      `json:"soak_per_s,omitempty"`
	Soak     []soakSample `json:"soak,omitempty"`
	// SoakWarmupS is the warm-up: windows that start within it are shown but not compared.
	SoakWarmupS float64 `json:"soak_warmup_s,omitempty"`
	// SoakRSSChange is the last window's RSS over the first window's after warm-up, minus 1;
	// SoakAnonChange the same of anonymous memory alone.
	SoakRSSChange  float64 `json:"soak_rss_change,omitempty"`
	SoakAnonChange float64 `json:"soak_anon_change,omitempty"`
	// SoakRSSSpread is the largest deviation of a window's mean RSS from the first window's
	// after warm-up, as a fraction: the load test's "flat within ±x".
	SoakRSSSpread float64 `json:"soak_rss_spread,omitempty"`
}

// soakSample is one window of the load test.
type soakSample struct {
	AtS float64 `json:"at_s"`
	// RSSMB is the window's mean RSS, read every second; RSSMaxMB its largest reading. A
	// reading alone swings with each garbage collection.
	RSSMB    float64 `json:"rss_mb"`
	RSSMaxMB float64 `json:"rss_max_mb"`
	// AnonMB and FileMB split the mean RSS into anonymous memory and mapped files (the
	// embedded store's mmap grows with the data it holds).
	AnonMB float64 `json:"rss_anon_mb"`
	FileMB float64 `json:"rss_file_mb"`
	HeapMB float64 `json:"heap_mb"`
	// LiveMB is the Go heap in use right after a collection: what the process holds on to.
	LiveMB     float64 `json:"live_heap_mb"`
	Goroutines int     `json:"goroutines"`
	Verdicts   int     `json:"verdicts"`
	P50MS      float64 `json:"p50_ms"`
	P99MS      float64 `json:"p99_ms"`
}

func runBenchPipeline(ctx context.Context, std IO, args []string) error {
	fs := newFlagSet(std, "bench pipeline", "[flags]")
	d := fs.Duration("duration", 10*time.Second, "how long each measurement runs")
	workers := fs.Int("workers", 1, "workers sharing the consumer (each with its own NATS connection)")
	concurrency := fs.Int("concurrency", runtime.GOMAXPROCS(0), "concurrency of each worker")
	inFlight := fs.Int("in-flight", 0, "submissions each worker holds at once (0: twice --concurrency)")
	window := fs.Int("window", 0, "submissions kept in flight by the throughput measurement (0: 4 × workers × in flight)")
	redisURL := fs.String("redis-url", "", "keep the registry, verdicts, cases and upload log in this Redis (under a key prefix of its own, deleted at the end) instead of the embedded store")
	batchDelay := fs.Duration("store-batch-delay", index.DefaultBoltOptions().BatchDelay, "how the embedded store's writes share commits: 0 a group commit (writes that arrive during a commit share the next; none waits), positive bbolt's Batch with this delay, negative each write alone")
	nworks := fs.Int("works", 1000, "synthetic works registered before measuring")
	nimages := fs.Int("images", 16, "distinct 1 MP JPEGs submitted in turn")
	jsonOut := fs.Bool("json", false, "print JSON instead of a Markdown table")
	byURL := fs.Bool("by-url", false, "submit image URLs (served by the benchmark over loopback HTTP) instead of inline images")
	syncAlways := fs.Bool("sync-always", true, "fsync JetStream and the store on every write, as \"aura serve\" does")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the pipeline runs to this file")
	soak := fs.Duration("soak", 0, "after the measurements, a load test: submit at --soak-load of the measured throughput for this long, sampling RSS and latency")
	soakLoad := fs.Float64("soak-load", 0.8, "the load test's rate, as a share of the measured pipeline throughput")
	soakRate := fs.Float64("soak-rate", 0, "the load test's rate in submissions/s (overrides --soak-load)")
	soakWindow := fs.Duration("soak-window", 30*time.Second, "the load test's sampling window")
	soakWarmup := fs.Duration("soak-warmup", 0, "the load test's warm-up, whose windows are shown but not compared (0: the longer of one window and the streams' duplicate windows, which the server fills with message ids until then)")
	memProfile := fs.String("memprofile", "", "write a heap profile at the end of the load test to this file")
	soakSVG := fs.String("soak-svg", "", "write the load test's RSS and p99 over time to this SVG file")
	verdictDedupe := fs.Duration("verdict-dedupe-window", worker.DefaultStreamsConfig().VerdictDuplicates, "the VERDICTS stream's duplicate window: the server holds every verdict's message id this long")
	hc := hashingFlags(fs)
	if err := fs.parse(args); err != nil {
		return err
	}
	h, err := hc()
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if *workers < 1 || *concurrency < 1 || *nimages < 1 || *d <= 0 {
		return fmt.Errorf("%w: --workers, --concurrency, --images and --duration must be positive", errUsage)
	}
	images := make([][]byte, *nimages)
	size := 0
	for i := range images {
		images[i] = synth.JPEG(1155, 866, uint64(i+1), 90)
		size += len(images[i])
	}
	rep := &pipelineReport{
		GoVersion: runtime.Version(), CPUs: runtime.GOMAXPROCS(0), JPEG: hashing.JPEGDecoder(h),
		Image: "1 MP JPEG (1155×866, quality 90)", ImageBytes: size / len(images),
		Works: *nworks, Workers: *workers, Concurrency: *concurrency, InFlight: *inFlight, SyncAlways: *syncAlways, ByURL: *byURL,
	}
	log := newLogger(std, zapcore.ErrorLevel)

	// Raw decode+fingerprint, the same images.
	fp := func(i int) error {
		img, err := h.Decode(images[i%len(images)])
		if err != nil {
			return err
		}
		img.Fingerprint(hashing.Query)
		return nil
	}
	for i := range images { // warm up
		if err := fp(i); err != nil {
			return err
		}
	}
	start, n := time.Now(), 0
	for time.Since(start) < *d/3 && ctx.Err() == nil {
		if err := fp(n); err != nil {
			return err
		}
		n++
	}
	rep.SingleMS = float64(time.Since(start).Microseconds()) / 1000 / float64(n)
	var count atomic.Int64
	var wg sync.WaitGroup
	start = time.Now()
	for g := range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := g; time.Since(start) < *d && ctx.Err() == nil; i++ {
				if fp(i) == nil {
					count.Add(1)
				}
			}
		})
	}
	wg.Wait()
	rep.RawPerS = float64(count.Load()) / time.Since(start).Seconds()

	// The pipeline: embedded NATS (sync always), the embedded store (fsync), the registry.
	dir, err := os.MkdirTemp("", "aura-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ec := worker.DefaultEmbeddedConfig()
	ec.Listen, ec.StoreDir, ec.SyncAlways = "127.0.0.1:0", filepath.Join(dir, "nats"), *syncAlways
	emb, err := worker.StartEmbedded(ec, log)
	if err != nil {
		return err
	}
	defer emb.Shutdown()
	store, err := openBenchStore(ctx, *redisURL, filepath.Join(dir, "aura.db"), index.BoltOptions{NoSync: !*syncAlways, BatchDelay: *batchDelay})
	if err != nil {
		return err
	}
	defer store.Close()
	rep.Store = fmt.Sprintf("%T", store.Store)
	m := index.NewMatcher()
	rcfg := index.DefaultRegistryConfig()
	rcfg.Hashing = h
	reg, err := index.NewRegistry(store.Store, m, rcfg, log)
	if err != nil {
		return err
	}
	bctx, cancel := context.WithCancel(ctx)
	var conns []func()
	defer func() { // after the workers and the matcher stopped
		for _, c := range conns {
			c()
		}
	}()
	var bg sync.WaitGroup
	defer bg.Wait()
	defer cancel()
	bg.Go(func() { _ = m.Run(bctx, store.Store, log) })
	<-m.Ready()
	for i := range *nworks {
		if _, err := reg.Register(ctx, synth.JPEG(160, 120, uint64(1_000_000+i), 85), index.WorkMeta{CreatorID: fmt.Sprintf("c%d", i%50)}); err != nil {
			return fmt.Errorf("register: %w", err)
		}
	}
	cc := worker.DefaultConnConfig()
	cc.URL = emb.ClientURL()
	wcfg := worker.DefaultConfig()
	wcfg.Concurrency, wcfg.InFlight = *concurrency, *inFlight
	wcfg.Streams.VerdictDuplicates = *verdictDedupe
	var urls []string
	if *byURL {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var i int
			if _, err := fmt.Sscanf(r.URL.Path, "/%d.jpg", &i); err != nil || i < 0 || i >= len(images) {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", "image/jpeg")
			_, _ = w.Write(images[i])
		}), ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		defer srv.Close()
		for i := range images {
			urls = append(urls, fmt.Sprintf("http://%s/%d.jpg", ln.Addr(), i))
		}
		wcfg.Fetch.AllowLoopback = true
	}
	cases, err := openCases(store.Store)
	if err != nil {
		return err
	}
	opener := &review.Opener{Store: cases, Hashing: h} // as serve does: cases and the upload log
	var ws []*worker.Worker
	for i := range *workers {
		nc, err := worker.Connect(ctx, cc, log)
		if err != nil {
			return err
		}
		conns = append(conns, nc.Close)
		c := wcfg
		c.ID = fmt.Sprintf("bench-%d", i+1)
		w, err := worker.New(nc, worker.Deps{Checker: reg, Store: store, Cases: opener, Uploads: store}, c, log)
		if err != nil {
			return err
		}
		ws = append(ws, w)
		bg.Go(func() { _ = w.Run(bctx) })
	}
	for _, w := range ws {
		for !w.Consuming() {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	nc, err := worker.Connect(ctx, cc, log)
	if err != nil {
		return err
	}
	defer nc.Close()
	client, err := worker.NewClient(nc, worker.ClientConfig{})
	if err != nil {
		return err
	}
	r := &pipelineRun{client: client, images: images, urls: urls}
	if err := r.start(bctx); err != nil {
		return err
	}
	defer r.stop()

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	// Throughput: a window of submissions in flight keeps every worker busy.
	if *window <= 0 {
		*window = 4 * *workers * wcfg.InFlightLimit()
	}
	rep.Window = *window
	if err := r.saturate(ctx, time.Second, *window); err != nil { // warm up
		return err
	}
	if err := r.saturate(ctx, *d, *window); err != nil {
		return err
	}
	rep.PipelinePerS = r.rate
	rep.Ratio = rep.PipelinePerS / rep.RawPerS
	rep.PerWorker, rep.Duplicates = r.perWorker, r.duplicates

	// Latency at half that load, open loop.
	rep.LoadPerS = rep.PipelinePerS / 2
	lat, err := r.openLoop(ctx, *d, rep.LoadPerS)
	if err != nil {
		return err
	}
	slices.Sort(lat)
	rep.P50MS, rep.P99MS, rep.MaxMS = quantile(lat, 0.50), quantile(lat, 0.99), lat[len(lat)-1]
	r.mu.Lock()
	for _, k := range []string{"queue", "check", "total"} {
		if v := r.stages[k]; len(v) > 0 {
			slices.Sort(v)
			rep.Stages = append(rep.Stages, stageLatency{Stage: k, P50MS: quantile(v, 0.50), P99MS: quantile(v, 0.99)})
		}
	}
	r.mu.Unlock()
	rep.P99OverSingle = rep.P99MS / rep.SingleMS
	rep.Duplicates += r.duplicates
	if *soak > 0 {
		rep.SoakPerS = rep.PipelinePerS * *soakLoad
		if *soakRate > 0 {
			rep.SoakPerS = *soakRate
		}
		fmt.Fprintf(std.Stderr, "bench: load test at %.1f submissions/s for %v\n", rep.SoakPerS, *soak)
		if rep.Soak, err = r.soak(ctx, *soak, *soakWindow, rep.SoakPerS, std.Stderr); err != nil {
			return err
		}
		rep.Duplicates += r.duplicates
		if *memProfile != "" {
			f, err := os.Create(*memProfile)
			if err != nil {
				return err
			}
			runtime.GC()
			err = errors.Join(pprof.WriteHeapProfile(f), f.Close())
			if err != nil {
				return err
			}
		}
		warmup := *soakWarmup
		if warmup <= 0 {
			warmup = max(*soakWindow, wcfg.Streams.Duplicates, wcfg.Streams.VerdictDuplicates)
		}
		rep.SoakWarmupS = warmup.Seconds()
		rep.compareSoak()
		if *soakSVG != "" {
			if err := os.WriteFile(*soakSVG, soakPlot(rep), 0o644); err != nil {
				return err
			}
		}
	}
	if *jsonOut {
		enc := json.NewEncoder(std.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return rep.writeMarkdown(std.Stdout)
}

// pipelineRun submits pictures and matches their verdicts to their submission times.
type pipelineRun struct {
	client *worker.Client
	images [][]byte
	urls   []string // when set, submitted instead of images
	watch  *worker.Watch
	seq    atomic.Int64

	mu      sync.Mutex
	sent    map[string]time.Time
	waiters map[string]chan struct{}
	seen    bitset // verdicts received, by submission number

	// Results of the last saturate.
	rate       float64
	perWorker  map[string]int
	duplicates int

	done   chan struct{}
	wg     sync.WaitGroup
	lat    []float64            // ms, of verdicts received since the last reset
	stages map[string][]float64 // ms, the same verdicts' own timings by stage
}

const benchTenant = "bench"

func (r *pipelineRun) start(ctx context.Context) error {
	w, err := r.client.WatchVerdicts(ctx, benchTenant)
	if err != nil {
		return err
	}
	r.watch, r.done = w, make(chan struct{})
	r.sent, r.waiters, r.perWorker, r.stages = map[string]time.Time{}, map[string]chan struct{}{}, map[string]int{}, map[string][]float64{}
	r.wg.Go(func() {
		for {
			v, err := w.Next(ctx)
			if err != nil {
				return
			}
			now := time.Now()
			r.mu.Lock()
			if n, ok := benchSubmissionNumber(v.SubmissionID); ok && r.seen.testAndSet(n) {
				r.duplicates++
			}
			r.perWorker[v.WorkerID]++
			if t, ok := r.sent[v.SubmissionID]; ok {
				r.lat = append(r.lat, float64(now.Sub(t).Microseconds())/1000)
				for k, ms := range v.TimingsMS {
					r.stages[k] = append(r.stages[k], ms)
				}
				delete(r.sent, v.SubmissionID)
			}
			if ch, ok := r.waiters[v.SubmissionID]; ok {
				close(ch)
				delete(r.waiters, v.SubmissionID)
			}
			r.mu.Unlock()
		}
	})
	return nil
}

func (r *pipelineRun) stop() {
	_ = r.watch.Close()
	r.wg.Wait()
}

// benchSubmissionNumber is the number in a submission id the benchmark made ("b12").
func benchSubmissionNumber(id string) (int, bool) {
	digits, ok := strings.CutPrefix(id, "b")
	n, err := strconv.Atoi(digits)
	return n, ok && err == nil && n >= 0
}

// bitset is a growable set of small non-negative numbers: the load test's record of which
// submissions had a verdict, a bit each where a map of ids would grow by tens of bytes a
// submission and show up as memory growth in the test itself.
type bitset []uint64

// testAndSet adds n and reports whether it was already there.
func (b *bitset) testAndSet(n int) bool {
	w, bit := n/64, uint64(1)<<(n%64)
	if w >= len(*b) {
		*b = append(*b, make([]uint64, w+1-len(*b))...)
	}
	had := (*b)[w]&bit != 0
	(*b)[w] |= bit
	return had
}

// submit publishes one picture and returns a channel closed when its verdict arrives.
func (r *pipelineRun) submit(ctx context.Context) (<-chan struct{}, error) {
	n := r.seq.Add(1)
	id := "b" + strconv.FormatInt(n, 10)
	ch := make(chan struct{})
	r.mu.Lock()
	r.sent[id], r.waiters[id] = time.Now(), ch
	r.mu.Unlock()
	img := worker.Image{Data: r.images[int(n)%len(r.images)]}
	if r.urls != nil {
		img = worker.Image{URL: r.urls[int(n)%len(r.urls)]}
	}
	_, err := r.client.Submit(ctx, &worker.Submission{
		SchemaVersion: worker.SchemaVersion, ID: id, Tenant: benchTenant, Creator: "bench", Image: img,
	})
	return ch, err
}

// saturate keeps window submissions in flight for d, each of window publishers submitting
// its next picture once the verdict of its last has arrived, and sets rate to the verdicts
// received per second, and perWorker to who decided them.
func (r *pipelineRun) saturate(ctx context.Context, d time.Duration, window int) error {
	r.mu.Lock()
	r.perWorker, r.duplicates = map[string]int{}, 0
	r.mu.Unlock()
	var done atomic.Int64
	var wg sync.WaitGroup
	var errOnce sync.Once
	var firstErr error
	start := time.Now()
	for range window {
		wg.Go(func() {
			for time.Since(start) < d && ctx.Err() == nil {
				ch, err := r.submit(ctx)
				if err != nil {
					errOnce.Do(func() { firstErr = err })
					return
				}
				select {
				case <-ch:
				case <-time.After(time.Minute):
					errOnce.Do(func() { firstErr = errors.New("bench: no verdict within a minute") })
					return
				}
				if time.Since(start) <= d {
					done.Add(1)
				}
			}
		})
	}
	wg.Wait()
	r.rate = float64(done.Load()) / d.Seconds()
	r.mu.Lock()
	r.lat = r.lat[:0]
	r.mu.Unlock()
	return firstErr
}

// openLoop submits at rate per second for d, regardless of verdicts, and returns the
// latencies (ms) of every submission, waiting for the last verdicts.
func (r *pipelineRun) openLoop(ctx context.Context, d time.Duration, rate float64) ([]float64, error) {
	if rate <= 0 {
		return nil, errors.New("bench: no throughput to take half of")
	}
	r.mu.Lock()
	r.lat, r.duplicates, r.stages = r.lat[:0], 0, map[string][]float64{}
	r.mu.Unlock()
	interval := time.Duration(float64(time.Second) / rate)
	var chans []<-chan struct{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	var firstErr error
	start := time.Now()
	for i := 0; time.Since(start) < d && ctx.Err() == nil; i++ {
		if wait := time.Until(start.Add(time.Duration(i) * interval)); wait > 0 {
			time.Sleep(wait)
		}
		wg.Go(func() {
			ch, err := r.submit(ctx)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstErr == nil {
				firstErr = err
			}
			chans = append(chans, ch)
		})
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	timeout := time.After(time.Minute)
	for _, ch := range chans {
		select {
		case <-ch:
		case <-timeout:
			return nil, errors.New("bench: verdicts missing after a minute")
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.lat), nil
}

func (rep *pipelineReport) writeMarkdown(w io.Writer) error {
	_, err := fmt.Fprintf(w, `%s, %d CPUs, JPEG decoder: %s; %s, %d bytes on average; %d registered works; %d worker(s) × concurrency %d, in flight %d (0: twice the concurrency); throughput measured with %d submissions in flight; store %s; fsync on every write: %v; images by URL: %v.

| measure | value |
| --- | --- |
| single-image decode+fingerprint | %.2f ms |
| raw decode+fingerprint, all CPUs | %.1f images/s |
| pipeline, publish → verdict received | %.1f submissions/s (%.0f%% of raw) |
| latency at %.1f submissions/s (half the pipeline's) | p50 %.1f ms, p99 %.1f ms (%.1f× single), max %.1f ms |
| the verdicts' own timings at half load | %s |
| verdicts per worker | %v |
| duplicate verdicts | %d |
%s`, rep.GoVersion, rep.CPUs, rep.JPEG, rep.Image, rep.ImageBytes, rep.Works, rep.Workers, rep.Concurrency, rep.InFlight, rep.Window, rep.Store, rep.SyncAlways, rep.ByURL,
		rep.SingleMS, rep.RawPerS, rep.PipelinePerS, 100*rep.Ratio, rep.LoadPerS, rep.P50MS, rep.P99MS, rep.P99OverSingle, rep.MaxMS,
		rep.stagesMarkdown(), rep.PerWorker, rep.Duplicates, rep.soakMarkdown())
	return err
}

// soak submits at rate per second for d, open loop, and samples every window the
// process's RSS and Go heap and the latencies of the verdicts received in the window.
func (r *pipelineRun) soak(ctx context.Context, d, window time.Duration, rate float64, progress io.Writer) ([]soakSample, error) {
	r.mu.Lock()
	r.lat, r.duplicates, r.stages = r.lat[:0], 0, map[string][]float64{}
	r.mu.Unlock()
	interval := time.Duration(float64(time.Second) / rate)
	start := time.Now()
	next := start.Add(window)
	var samples []soakSample
	var errs atomic.Value
	var wg sync.WaitGroup
	var memMu sync.Mutex
	var mem [][]float64 // readings of VmRSS, RssAnon, RssFile since the last sample
	readMem := func() {
		m := procStatus("VmRSS:", "RssAnon:", "RssFile:")
		memMu.Lock()
		mem = append(mem, m)
		memMu.Unlock()
	}
	memCtx, stopMem := context.WithCancel(ctx)
	var memWG sync.WaitGroup
	memWG.Go(func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				readMem()
			case <-memCtx.Done():
				return
			}
		}
	})
	defer func() { stopMem(); memWG.Wait() }()
	sample := func(now time.Time) {
		r.mu.Lock()
		lat := slices.Clone(r.lat)
		// The stage timings are not reported per window; dropping them keeps the record
		// from growing with every verdict of the load test.
		r.lat, r.stages = r.lat[:0], map[string][]float64{}
		r.mu.Unlock()
		slices.Sort(lat)
		var ms, live runtime.MemStats
		runtime.ReadMemStats(&ms)
		runtime.GC()
		runtime.ReadMemStats(&live)
		readMem()
		memMu.Lock()
		readings := mem
		mem = nil
		memMu.Unlock()
		var mean [3]float64
		var rssMax float64
		for _, m := range readings {
			for i := range mean {
				mean[i] += m[i] / float64(len(readings))
			}
			rssMax = max(rssMax, m[0])
		}
		s := soakSample{AtS: now.Sub(start).Seconds(), RSSMB: mean[0], RSSMaxMB: rssMax, AnonMB: mean[1], FileMB: mean[2], HeapMB: float64(ms.HeapInuse) / (1 << 20),
			LiveMB: float64(live.HeapInuse) / (1 << 20), Goroutines: runtime.NumGoroutine(), Verdicts: len(lat), P50MS: quantile(lat, 0.5), P99MS: quantile(lat, 0.99)}
		samples = append(samples, s)
		fmt.Fprintf(progress, "bench: %5.0fs  rss mean %6.1f MB, max %6.1f (anon %6.1f, files %6.1f)  heap %6.1f MB, live %6.1f  %5d goroutines  %5d verdicts  p50 %6.1f ms  p99 %6.1f ms\n",
			s.AtS, s.RSSMB, s.RSSMaxMB, s.AnonMB, s.FileMB, s.HeapMB, s.LiveMB, s.Goroutines, s.Verdicts, s.P50MS, s.P99MS)
	}
	for i := 0; ctx.Err() == nil; i++ {
		at := start.Add(time.Duration(i) * interval)
		if at.Sub(start) >= d {
			break
		}
		if wait := time.Until(at); wait > 0 {
			time.Sleep(wait)
		}
		if now := time.Now(); !now.Before(next) {
			sample(now)
			next = next.Add(window)
		}
		wg.Go(func() {
			if _, err := r.submit(ctx); err != nil {
				errs.CompareAndSwap(nil, err)
			}
		})
	}
	wg.Wait()
	if now := time.Now(); len(samples) == 0 || now.Sub(start).Seconds()-samples[len(samples)-1].AtS > window.Seconds()/2 {
		sample(now) // the last window, unless it is a sliver
	}
	if err, _ := errs.Load().(error); err != nil {
		return samples, err
	}
	deadline := time.Now().Add(time.Minute) // every verdict must still come
	for {
		r.mu.Lock()
		left := len(r.waiters)
		r.mu.Unlock()
		if left == 0 {
			return samples, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return samples, fmt.Errorf("bench: %d verdicts missing a minute after the load test", left)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// procStatus returns the named kB fields of /proc/self/status in MB (Linux; zeros
// elsewhere).
func procStatus(names ...string) []float64 {
	out := make([]float64, len(names))
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return out
	}
	for _, l := range strings.Split(string(b), "\n") {
		for i, n := range names {
			if v, ok := strings.CutPrefix(l, n); ok {
				var kb float64
				fmt.Sscanf(strings.TrimSpace(v), "%f", &kb)
				out[i] = kb / 1024
			}
		}
	}
	return out
}

// compareSoak sets the load test's RSS change and spread against the first window that
// starts after the warm-up, when at least two do.
func (rep *pipelineReport) compareSoak() {
	first := 1 + slices.IndexFunc(rep.Soak, func(s soakSample) bool { return s.AtS >= rep.SoakWarmupS })
	if first == 0 || first >= len(rep.Soak)-1 {
		return
	}
	base, last := rep.Soak[first], rep.Soak[len(rep.Soak)-1]
	rep.SoakRSSChange = last.RSSMB/base.RSSMB - 1
	rep.SoakAnonChange = last.AnonMB/base.AnonMB - 1
	for _, w := range rep.Soak[first:] {
		rep.SoakRSSSpread = max(rep.SoakRSSSpread, math.Abs(w.RSSMB/base.RSSMB-1))
	}
}

func (rep *pipelineReport) soakMarkdown() string {
	if len(rep.Soak) == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\nLoad test at %.1f submissions/s: mean RSS of the last window against the first after warm-up (%.0f s) %+.1f%% (anonymous memory %+.1f%%); every window's mean within ±%.1f%% of the first after warm-up.\n\n| at | RSS mean MB | RSS max MB | anonymous MB | mapped files MB | Go heap MB | live heap MB | verdicts | p50 ms | p99 ms |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n", rep.SoakPerS, rep.SoakWarmupS, 100*rep.SoakRSSChange, 100*rep.SoakAnonChange, 100*rep.SoakRSSSpread)
	for _, s := range rep.Soak {
		fmt.Fprintf(&b, "| %.0f s | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %d | %.1f | %.1f |\n", s.AtS, s.RSSMB, s.RSSMaxMB, s.AnonMB, s.FileMB, s.HeapMB, s.LiveMB, s.Verdicts, s.P50MS, s.P99MS)
	}
	return b.String()
}

// soakPlot draws the load test's RSS and p99 over time as an SVG.
func soakPlot(rep *pipelineReport) []byte {
	const w, h, pad = 720.0, 300.0, 50.0
	ss := rep.Soak
	maxT, maxRSS, maxP99 := 1.0, 1.0, 1.0
	for _, s := range ss {
		maxT, maxRSS, maxP99 = max(maxT, s.AtS), max(maxRSS, s.RSSMB), max(maxP99, s.P99MS)
	}
	maxRSS, maxP99 = maxRSS*1.2, maxP99*1.2
	x := func(t float64) float64 { return pad + (w-2*pad)*t/maxT }
	y := func(v, top float64) float64 { return h - pad - (h-2*pad)*v/top }
	line := func(val func(soakSample) float64, top float64) string {
		var b strings.Builder
		for i, s := range ss {
			fmt.Fprintf(&b, "%s%.1f,%.1f", map[bool]string{true: "", false: " "}[i == 0], x(s.AtS), y(val(s), top))
		}
		return b.String()
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" font-family="sans-serif" font-size="12">`+"\n", w, h)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/><text x="%.0f" y="20">aura bench pipeline --soak: %.1f submissions/s, RSS change after warm-up %+.1f%%</text>`+"\n", pad, rep.SoakPerS, 100*rep.SoakRSSChange)
	fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="black"/><line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="black"/>`+"\n", pad, h-pad, w-pad, h-pad, pad, pad, pad, h-pad)
	fmt.Fprintf(&b, `<polyline fill="none" stroke="#1f77b4" stroke-width="2" points="%s"/>`+"\n", line(func(s soakSample) float64 { return s.RSSMB }, maxRSS))
	fmt.Fprintf(&b, `<polyline fill="none" stroke="#d62728" stroke-width="2" points="%s"/>`+"\n", line(func(s soakSample) float64 { return s.P99MS }, maxP99))
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" fill="#1f77b4">RSS (MB, 0–%.0f)</text><text x="%.0f" y="%.0f" fill="#d62728">p99 latency (ms, 0–%.0f)</text>`+"\n", pad+10, pad-5, maxRSS, pad+200, pad-5, maxP99)
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f">0</text><text x="%.0f" y="%.0f" text-anchor="end">%.0f s</text>`+"\n", pad, h-pad+15, w-pad, h-pad+15, maxT)
	b.WriteString("</svg>\n")
	return []byte(b.String())
}

// benchStore is the pipeline benchmark's store: the registry, the verdicts and the upload
// log, and a Close that also removes what a Redis store wrote.
type benchStore struct {
	index.Store
	worker.VerdictStore
	index.UploadLog
	close func() error
}

func (s benchStore) Close() error { return s.close() }

// openBenchStore opens the embedded store at path, or, with a Redis URL, a Redis store
// under a key prefix of its own whose keys Close deletes.
func openBenchStore(ctx context.Context, redisURL, path string, bo index.BoltOptions) (benchStore, error) {
	if redisURL == "" {
		s, err := index.OpenBolt(path, bo)
		if err != nil {
			return benchStore{}, err
		}
		return benchStore{s, s, s, s.Close}, nil
	}
	prefix := fmt.Sprintf("aura-bench-%d-%d", os.Getpid(), time.Now().UnixNano())
	s, err := index.OpenRedis(ctx, index.RedisOptions{URL: redisURL, Prefix: prefix})
	if err != nil {
		return benchStore{}, err
	}
	return benchStore{s, s, s, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		var err error
		it := s.Client().Scan(ctx, 0, "{"+prefix+":*", 1000).Iterator()
		for it.Next(ctx) && err == nil {
			err = s.Client().Unlink(ctx, it.Val()).Err()
		}
		return errors.Join(err, it.Err(), s.Close())
	}}, nil
}

// quantile is the p-quantile (0 ≤ p < 1) of sorted values, 0 of none.
func quantile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(p*float64(len(sorted))))]
}

// stageLatency is one stage's latency over the verdicts of the half-load run.
type stageLatency struct {
	Stage string  `json:"stage"`
	P50MS float64 `json:"p50_ms"`
	P99MS float64 `json:"p99_ms"`
}

func (rep *pipelineReport) stagesMarkdown() string {
	var b strings.Builder
	for i, s := range rep.Stages {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s p50 %.1f ms, p99 %.1f ms", s.Stage, s.P50MS, s.P99MS)
	}
	return b.String()
}
