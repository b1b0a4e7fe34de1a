package eval

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/corona10/goimagehash"

	"github.com/aura-art/aura/hashing"
	"github.com/aura-art/aura/internal/synth"
)

// SpeedConfig is one run of the fingerprint speed benchmark.
type SpeedConfig struct {
	// Hashing is the configuration under test.
	Hashing hashing.Config
	// Duration is how long each measurement runs (at least three iterations). Default 3 s.
	Duration time.Duration
}

// SpeedRow compares the pipelines on one image.
type SpeedRow struct {
	Image string `json:"image"`
	Bytes int    `json:"bytes"`
	// Aura is the path from file bytes to a query fingerprint as configured; AuraGo the same
	// with Go's JPEG decoder; Naive is Go's decoder plus goimagehash's three hashes of the
	// full image.
	Aura   Measure `json:"aura"`
	AuraGo Measure `json:"aura_go_decoder"`
	Naive  Measure `json:"naive"`
	// Speedup is Naive's time over Aura's; SpeedupGo Naive's over AuraGo's.
	Speedup   float64 `json:"speedup"`
	SpeedupGo float64 `json:"speedup_go_decoder"`
	// Throughput is Aura's images per second with one goroutine per CPU.
	Throughput float64 `json:"throughput_per_s"`
}

// Measure is the cost of one pipeline on one image, on one goroutine.
type Measure struct {
	MsPerOp     float64 `json:"ms_per_op"`
	BytesPerOp  int64   `json:"go_bytes_per_op"`
	AllocsPerOp int64   `json:"allocs_per_op"`
}

// SpeedReport is the outcome of Speed.
type SpeedReport struct {
	Environment Environment `json:"environment"`
	Rows        []SpeedRow  `json:"rows"`
}

// Speed measures fingerprinting from file bytes against the naive pipeline, side by side in
// one process, on a 12-megapixel and a 1-megapixel photo-like JPEG (quality 90).
func Speed(ctx context.Context, cfg SpeedConfig) (*SpeedReport, error) {
	if cfg.Duration <= 0 {
		cfg.Duration = 3 * time.Second
	}
	goCfg := cfg.Hashing
	goCfg.FastJPEG = false
	rep := &SpeedReport{Environment: environment(cfg.Hashing)}
	for _, s := range []struct {
		name string
		w, h int
	}{{"12 MP JPEG (4000×3000)", 4000, 3000}, {"1 MP JPEG (1155×866)", 1155, 866}} {
		data := synth.JPEG(s.w, s.h, 1, 90)
		aura := func() error { return fingerprintBytes(cfg.Hashing, data) }
		row := SpeedRow{Image: s.name, Bytes: len(data)}
		var err error
		if row.Aura, err = measure(ctx, cfg.Duration, aura); err != nil {
			return nil, err
		}
		if row.AuraGo, err = measure(ctx, cfg.Duration, func() error { return fingerprintBytes(goCfg, data) }); err != nil {
			return nil, err
		}
		if row.Naive, err = measure(ctx, cfg.Duration, func() error { return naive(data) }); err != nil {
			return nil, err
		}
		row.Speedup = row.Naive.MsPerOp / row.Aura.MsPerOp
		row.SpeedupGo = row.Naive.MsPerOp / row.AuraGo.MsPerOp
		if row.Throughput, err = throughput(ctx, cfg.Duration, aura); err != nil {
			return nil, err
		}
		rep.Rows = append(rep.Rows, row)
	}
	return rep, nil
}

func fingerprintBytes(c hashing.Config, data []byte) error {
	img, err := c.Decode(data)
	if err != nil {
		return err
	}
	img.Fingerprint(hashing.Query)
	return nil
}

// naive is the baseline pipeline: decode the full image, hash it three times.
func naive(data []byte) error {
	m, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return err
	}
	if _, err := goimagehash.PerceptionHash(m); err != nil {
		return err
	}
	if _, err := goimagehash.DifferenceHash(m); err != nil {
		return err
	}
	_, err = goimagehash.AverageHash(m)
	return err
}

// measure runs f on this goroutine for about d (at least three times, after one warm-up)
// and reports its mean time and Go allocations.
func measure(ctx context.Context, d time.Duration, f func() error) (Measure, error) {
	if err := f(); err != nil {
		return Measure{}, err
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	n := 0
	for n < 3 || time.Since(start) < d {
		if err := ctx.Err(); err != nil {
			return Measure{}, err
		}
		if err := f(); err != nil {
			return Measure{}, err
		}
		n++
	}
	el := time.Since(start)
	runtime.ReadMemStats(&after)
	return Measure{
		MsPerOp:     float64(el.Microseconds()) / 1000 / float64(n),
		BytesPerOp:  int64(after.TotalAlloc-before.TotalAlloc) / int64(n),
		AllocsPerOp: int64(after.Mallocs-before.Mallocs) / int64(n),
	}, nil
}

// throughput runs f on one goroutine per CPU for about d and returns calls per second.
func throughput(ctx context.Context, d time.Duration, f func() error) (float64, error) {
	var n atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Since(start) < d && ctx.Err() == nil {
				if err := f(); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return 0, firstErr
	}
	return float64(n.Load()) / time.Since(start).Seconds(), ctx.Err()
}

// WriteMarkdown writes the speed table.
func (r *SpeedReport) WriteMarkdown(w io.Writer) error {
	e := r.Environment
	_, err := fmt.Fprintf(w, "%s, %s, %d CPUs, JPEG decoder: %s.\n\n", e.GoVersion, e.OS, e.CPUs, e.JPEG)
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "| image | Aura ms | Aura (Go decoder) ms | naive ms | speed-up | speed-up (Go decoder) | Aura Go MB/op | naive Go MB/op | Aura images/s, all CPUs |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|")
	for _, row := range r.Rows {
		_, err = fmt.Fprintf(w, "| %s | %.1f | %.1f | %.1f | %.1f× | %.1f× | %.2f | %.1f | %.0f |\n", row.Image,
			row.Aura.MsPerOp, row.AuraGo.MsPerOp, row.Naive.MsPerOp, row.Speedup, row.SpeedupGo,
			float64(row.Aura.BytesPerOp)/(1<<20), float64(row.Naive.BytesPerOp)/(1<<20), row.Throughput)
	}
	return err
}

// WriteJSON writes the report as indented JSON.
func (r *SpeedReport) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
