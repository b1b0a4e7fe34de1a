package eval

import (
	"bytes"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"
	"testing"

	"github.com/aura-art/aura/hashing"
)

// TestFixturesSurviveOverlaysAndTurns checks the transformations the fingerprint was last
// tuned for on the credited fixture photos and artworks: a logo in each corner, a 4° turn on
// a black canvas, gamma 2, and a tiled watermark. Every copy must match its original at the
// shipped thresholds.
func TestFixturesSurviveOverlaysAndTurns(t *testing.T) {
	files, err := filepath.Glob("../fixtures/images/*.jpg")
	if err != nil || len(files) < 10 {
		t.Fatalf("fixtures: %v (%d files)", err, len(files))
	}
	cfg := hashing.DefaultConfig()
	// Each original once: its registered fingerprint, and its pixels for the transforms.
	type original struct {
		file string
		ref  *hashing.Fingerprint
		src  image.Image
	}
	var origs []original
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		ref, err := cfg.Decode(data)
		if err != nil {
			t.Fatal(err)
		}
		src, err := Decode(data)
		if err != nil {
			t.Fatal(err)
		}
		origs = append(origs, original{f, ref.Fingerprint(hashing.Reference), src})
	}
	for _, name := range []string{"logo_10", "rotate_4_fill", "gamma_2", "watermark_tiled"} {
		tr, _ := ByName(name)
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for _, o := range origs {
				// The logo's corner and shape come from the seed: four seeds cover
				// several corners of each picture.
				copiesMatch(t, tr, o.src, o.ref, o.file, name)
			}
		})
	}
}

// TestDarkFixturesSurviveWatermark checks the fixture photos darkened to half their levels,
// registered so, and copied with a light tiled watermark (four seeds each): every copy must
// match. On dark pictures the watermark's letters move the hashes of every plain view; the
// opened view (hashing.Variant.Opened) removes them. Without it, 3 of the 56 copies are missed.
func TestDarkFixturesSurviveWatermark(t *testing.T) {
	files, err := filepath.Glob("../fixtures/images/*.jpg")
	if err != nil || len(files) < 10 {
		t.Fatalf("fixtures: %v (%d files)", err, len(files))
	}
	cfg := hashing.DefaultConfig()
	tr, _ := ByName("watermark_tiled")
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		src, err := Decode(data)
		if err != nil {
			t.Fatal(err)
		}
		dark := toNRGBA(src)
		for i := range dark.Pix {
			if i%4 != 3 {
				dark.Pix[i] /= 2
			}
		}
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, dark, &jpeg.Options{Quality: 95}); err != nil {
			t.Fatal(err)
		}
		ref, err := cfg.Decode(buf.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		copiesMatch(t, tr, dark, ref.Fingerprint(hashing.Reference), f, "dark")
	}
}

// copiesMatch makes four copies of src with tr (seeded by file and tag) and reports each that
// does not match ref at the shipped thresholds.
func copiesMatch(t *testing.T, tr Transform, src image.Image, ref *hashing.Fingerprint, file, tag string) {
	t.Helper()
	cfg, th := hashing.DefaultConfig(), hashing.DefaultThresholds
	for seed := range uint64(4) {
		out, err := tr.Apply(src, seedFor(seed, file, tag))
		if err != nil {
			t.Fatal(err)
		}
		q, err := cfg.Decode(out)
		if err != nil {
			t.Fatal(err)
		}
		qFP := q.Fingerprint(hashing.Query)
		if m := hashing.Compare(qFP, ref); !th.Accept(m, qFP.LowDetail || ref.LowDetail) {
			t.Errorf("%s seed %d: not matched: %s", filepath.Base(file), seed, m.Describe())
		}
	}
}
