package eval

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/aura-art/aura/hashing"
)

// Targets are the recall each transform family must reach at a per-pair false-positive
// rate of 1e-6 (the foundation issue's figures). Families without a target report only.
var Targets = map[string]float64{
	"jpeg": 0.99, "resize": 0.99, "blur": 0.99, "gamma": 0.99, "brightness": 0.99,
	"contrast": 0.99, "noise": 0.99, "greyscale": 0.99, "saturation": 0.99, "hue": 0.99,
	"caption": 0.99, "watermark": 0.99,
	"flip": 0.98, "rotate90": 0.98,
	"crop": 0.90, "pad": 0.90, "letterbox": 0.90, "screenshot": 0.90, "logo": 0.90, "rotate_small": 0.90,
	"crop_heavy": 0.75, "rotate_15": 0.75,
}

// Report is the outcome of a run.
type Report struct {
	Environment Environment `json:"environment"`
	Originals   int         `json:"originals"`
	// CrossPackagePairs counts the impostor pairs whose pictures come from different
	// corpus packages.
	CrossPackagePairs int                `json:"cross_package_pairs"`
	Distractors       int                `json:"distractors"`
	ImpostorPairs     int                `json:"impostor_pairs"`
	Shipped           hashing.Thresholds `json:"shipped_thresholds"`
	BaselineDistance  int                `json:"baseline_distance"`
	// Operating are the operating points, in the order of every Row's recall columns:
	// the shipped thresholds, fixed false-positive rates of 1e-4 and 1e-6 on all impostor
	// pairs, and 1e-6 on the cross-package impostor pairs.
	Operating []OperatingPoint `json:"operating_points"`
	Rows      []Row            `json:"rows"`
	// TopImpostors are the best-scoring pairs of pictures that are not copies of each
	// other: what sets the threshold for a false-positive rate.
	TopImpostors []Impostor `json:"top_impostors"`
	Seconds      float64    `json:"seconds"`
}

// Impostor is a pair of unrelated pictures and how well they matched.
type Impostor struct {
	Query     string  `json:"query"`
	Original  string  `json:"original"`
	Score     float64 `json:"score"`
	LowDetail bool    `json:"low_detail,omitempty"`
	// SamePackage marks a pair from one corpus package, where variants of a work are common.
	SamePackage bool   `json:"same_package,omitempty"`
	Evidence    string `json:"evidence"`
}

// OperatingPoint is a pair of thresholds, one per system, and the false-positive rate each
// has on the impostor pairs.
type OperatingPoint struct {
	Name      string   `json:"name"`
	AuraScore float64  `json:"aura_min_score"`
	AuraFPR   Interval `json:"aura_fpr"`
	// AuraCrossFPR is the rate on cross-package impostor pairs only.
	AuraCrossFPR     Interval `json:"aura_cross_package_fpr"`
	BaselineMaxDist  int      `json:"baseline_max_distance"`
	BaselineFPR      Interval `json:"baseline_fpr"`
	BaselineCrossFPR Interval `json:"baseline_cross_package_fpr"`
}

// Row is the recall on one transform at each operating point.
type Row struct {
	Transform string     `json:"transform"`
	Group     string     `json:"group"`
	Target    float64    `json:"target,omitempty"`
	Errors    int        `json:"errors,omitempty"`
	Aura      []Interval `json:"aura"`
	Baseline  []Interval `json:"baseline"`
	// Misses are up to ten originals whose copy Aura missed at FPR 1e-6, worst first.
	Misses []Miss `json:"misses,omitempty"`
}

// Miss is a genuine pair that scored below the threshold.
type Miss struct {
	File      string  `json:"file"`
	Margin    float64 `json:"margin"`
	LowDetail bool    `json:"low_detail,omitempty"`
	Evidence  string  `json:"evidence,omitempty"`
	Error     string  `json:"error,omitempty"`
}

// Met reports whether the row reaches its target at a false-positive rate of 1e-6 on the
// cross-package impostor pairs (the last operating point).
func (r Row) Met() bool { return r.Target == 0 || r.Aura[len(r.Aura)-1].Value >= r.Target }

// Environment records what the run measured on.
type Environment struct {
	GoVersion string `json:"go_version"`
	OS        string `json:"os"`
	CPUs      int    `json:"cpus"`
	JPEG      string `json:"jpeg_decoder"`
	WorkSize  int    `json:"work_size"`
}

func environment(c hashing.Config) Environment {
	return Environment{
		GoVersion: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH,
		CPUs: runtime.NumCPU(), JPEG: hashing.JPEGDecoder(c), WorkSize: c.WorkSize,
	}
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteMarkdown writes the report as Markdown: the operating points, then one row per
// transform with recall at each operating point for Aura and the baseline.
func (r *Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Originals %d, distractors %d, impostor pairs %d (%d cross-package); %s, %s, %d CPUs, JPEG decoder %s; %.0f s.\n\n",
		r.Originals, r.Distractors, r.ImpostorPairs, r.CrossPackagePairs, r.Environment.GoVersion, r.Environment.OS, r.Environment.CPUs, r.Environment.JPEG, r.Seconds)
	b.WriteString("| operating point | Aura min score | Aura FPR, all pairs | Aura FPR, cross-package | baseline max distance | baseline FPR, all pairs | baseline FPR, cross-package |\n|---|---|---|---|---|---|---|\n")
	for _, op := range r.Operating {
		fmt.Fprintf(&b, "| %s | %.3f | %s | %s | %d | %s | %s |\n", op.Name, op.AuraScore, rate(op.AuraFPR), rate(op.AuraCrossFPR), op.BaselineMaxDist, rate(op.BaselineFPR), rate(op.BaselineCrossFPR))
	}
	b.WriteString("\nRecall (95% CI) per transformation. Aura at its shipped thresholds and at per-pair FPR 1e-4 and 1e-6 (all impostor pairs, then cross-package pairs only); the baseline (goimagehash PerceptionHash of the full image) at distance ≤ ")
	fmt.Fprintf(&b, "%d and at the same FPRs. The target is checked on the last Aura column.\n\n", r.BaselineDistance)
	b.WriteString("| transform | target | Aura shipped | Aura @1e-4 | Aura @1e-6 | Aura @1e-6 cross | baseline ≤d | baseline @1e-4 | baseline @1e-6 | baseline @1e-6 cross |\n|---|---|---|---|---|---|---|---|---|---|\n")
	for _, row := range r.Rows {
		target := "–"
		if row.Target > 0 {
			mark := "✅"
			if !row.Met() {
				mark = "❌"
			}
			target = fmt.Sprintf("%.0f%% %s", 100*row.Target, mark)
		}
		fmt.Fprintf(&b, "| %s | %s", row.Transform, target)
		for _, iv := range row.Aura {
			fmt.Fprintf(&b, " | %s", pct(iv))
		}
		for _, iv := range row.Baseline {
			fmt.Fprintf(&b, " | %s", pct(iv))
		}
		b.WriteString(" |\n")
	}
	b.WriteString("\nBest-scoring impostor pairs (same-package pairs are often variants of one work):\n\n| score | query | original | same package | evidence |\n|---|---|---|---|---|\n")
	for _, im := range r.TopImpostors[:min(len(r.TopImpostors), 10)] {
		fmt.Fprintf(&b, "| %.3f | %s | %s | %v | %s |\n", im.Score, im.Query, im.Original, im.SamePackage, im.Evidence)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func pct(iv Interval) string {
	return fmt.Sprintf("%.1f%% (%.1f–%.1f)", 100*iv.Value, 100*iv.Lo, 100*iv.Hi)
}

func rate(iv Interval) string {
	return fmt.Sprintf("%.1e (%d/%d; ≤ %.1e)", iv.Value, iv.Hits, iv.N, iv.Hi)
}

// WriteSVG draws recall at FPR 1e-6 per transformation, Aura beside the baseline, as a
// horizontal bar chart.
func (r *Report) WriteSVG(w io.Writer) error {
	const (
		rowH, barH, left, width, top = 18, 7, 190, 420, 40
	)
	h := top + rowH*len(r.Rows) + 30
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="11">`+"\n", left+width+80, h)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/><text x="10" y="16" font-size="13">Recall at per-pair FPR 1e-6 (cross-package pairs): Aura (blue) vs goimagehash pHash baseline (grey); red: target</text>`+"\n")
	for i := 0; i <= 10; i += 2 {
		x := left + width*i/10
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#ddd"/><text x="%d" y="%d" text-anchor="middle">%d%%</text>`+"\n", x, top-8, x, h-24, x, h-10, i*10)
	}
	for i, row := range r.Rows {
		y := top + rowH*i
		a, bl := row.Aura[len(row.Aura)-1], row.Baseline[len(row.Baseline)-1]
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", left-6, y+11, row.Transform)
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="#2f6fd0"/>`+"\n", left, y+1, float64(width)*a.Value, barH)
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="#aaa"/>`+"\n", left, y+1+barH, float64(width)*bl.Value, barH)
		if row.Target > 0 {
			x := float64(left) + float64(width)*row.Target
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#d33" stroke-width="2"/>`+"\n", x, y, x, y+2*barH+2)
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d">%.1f%%</text>`+"\n", left+width+6, y+11, 100*a.Value)
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// progress is a progress bar on a terminal and periodic plain lines elsewhere.
type progress interface {
	Add(int) error
	Finish() error
}

type noProgress struct{}

func (noProgress) Add(int) error { return nil }
func (noProgress) Finish() error { return nil }

func newProgress(w io.Writer, total int, what string) progress {
	if w == nil {
		return noProgress{}
	}
	opts := []progressbar.Option{
		progressbar.OptionSetWriter(w), progressbar.OptionSetDescription(what),
		progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetPredictTime(true),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
	}
	if f, ok := w.(*os.File); !ok || !term.IsTerminal(int(f.Fd())) {
		opts = append(opts, progressbar.OptionSetRenderBlankState(false), progressbar.OptionThrottle(5e9))
	}
	return progressbar.NewOptions(total, opts...)
}
