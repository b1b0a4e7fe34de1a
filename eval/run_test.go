package eval

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aura-art/aura/internal/synth"
)

// smallCorpus writes n synthetic photos and m distractors, two packages each, in the layout
// fixtures/build-corpus.sh makes.
func smallCorpus(t *testing.T, n, m int) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "images"), 0o755); err != nil {
		t.Fatal(err)
	}
	var lines bytes.Buffer
	for i := range n + m {
		kind := "photo"
		if i >= n {
			kind = "other"
		}
		name := fmt.Sprintf("images/p%d.jpg", i)
		if err := os.WriteFile(filepath.Join(dir, name), synth.JPEG(320, 240, uint64(100+i), 90), 0o644); err != nil {
			t.Fatal(err)
		}
		json.NewEncoder(&lines).Encode(Item{File: name, Package: fmt.Sprintf("pkg%d", i%2), Kind: kind, Width: 320, Height: 240})
	}
	if err := os.WriteFile(filepath.Join(dir, "corpus.jsonl"), lines.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestRunReport(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Corpus = smallCorpus(t, 8, 12)
	cfg.Originals, cfg.Distractors = 8, 12
	cfg.Transforms = []string{"jpeg_q50", "flip_h", "crop_80"}
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Every query against every original but its own.
	if want := (8*3+12)*8 - 8*3; rep.ImpostorPairs != want {
		t.Errorf("impostor pairs = %d, want %d", rep.ImpostorPairs, want)
	}
	if len(rep.Rows) != 3 || len(rep.Operating) != 4 {
		t.Fatalf("%d rows, %d operating points", len(rep.Rows), len(rep.Operating))
	}
	for _, row := range rep.Rows {
		if got := row.Aura[0]; got.N != 8 || got.Value < 1 {
			t.Errorf("%s: recall at the shipped thresholds %d/%d, want 8/8", row.Transform, got.Hits, got.N)
		}
	}
	if rep.Rows[1].Baseline[0].Value > 0.5 {
		t.Errorf("the baseline found %.0f%% of mirrored copies; it cannot undo a mirror", 100*rep.Rows[1].Baseline[0].Value)
	}
	var md, svg bytes.Buffer
	if err := rep.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteSVG(&svg); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| jpeg_q50 |", "| flip_h |", "fpr_1e-6_cross_package"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
	if !strings.HasPrefix(svg.String(), "<svg") || strings.Count(svg.String(), "<rect") < 7 {
		t.Errorf("svg has no bars:\n%s", svg.String())
	}
}

func TestThresholdFor(t *testing.T) {
	s := impostors{0.9, 0.8, 0.8, 0.5, 0.1}.sorted()
	// One pair in five may pass at rate 0.2: the threshold must reject the two 0.8s.
	if th := s.thresholdFor(0.2); th <= 0.8 || th > 0.9 {
		t.Errorf("thresholdFor(0.2) = %v", th)
	}
	if r := s.rateAt(0.8); r.Hits != 3 {
		t.Errorf("rateAt(0.8) counts %d, want 3", r.Hits)
	}
	if iv := wilson(0, 100); iv.Lo != 0 || iv.Hi < 0.03 || iv.Hi > 0.04 {
		t.Errorf("wilson(0,100) = %+v", iv)
	}
}
