package eval

import (
	"bytes"
	"flag"
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

var (
	samplesDir = flag.String("samples", "", "write each transform's output for the test picture (or -samples-src) to this directory as <name>.jpg")
	samplesSrc = flag.String("samples-src", "", "picture to use for -samples instead of the synthetic one")
)

// testPicture is a w×h textured picture: colour gradients, a sinusoidal pattern, an off-centre
// disc and a bar, so that flips and turns are all distinguishable.
func testPicture(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			fx, fy := float64(x)/float64(w), float64(y)/float64(h)
			t := 0.5 + 0.5*math.Sin(float64(x)/7+math.Cos(float64(y)/11)*3)
			c := color.RGBA{uint8(255 * fx), uint8(255 * fy), uint8(255 * t), 255}
			if math.Hypot(fx-0.3, fy-0.35) < 0.15 {
				c = color.RGBA{230, 40, 30, 255}
			}
			if fx > 0.6 && fx < 0.9 && fy > 0.7 && fy < 0.8 {
				c = color.RGBA{20, 20, 20, 255}
			}
			img.SetRGBA(x, y, c)
		}
	}
	return img
}

func seeded() *rand.Rand { return rand.New(rand.NewPCG(1, 2)) }

var groups = []string{"jpeg", "resize", "aspect", "crop", "crop_heavy", "flip", "rotate90", "rotate_small",
	"rotate_15", "brightness", "contrast", "gamma", "saturation", "hue", "greyscale", "blur", "noise",
	"caption", "watermark", "logo", "pad", "letterbox", "screenshot", "chain"}

func TestTransforms(t *testing.T) {
	src := testPicture(400, 300)
	// Expected output sizes (±1 pixel) of the geometric transforms of a 400×300 picture.
	sizes := map[string]image.Point{
		"jpeg_q30":           {400, 300},
		"resize_50":          {200, 150},
		"resize_25":          {100, 75},
		"aspect_4_3_to_wide": {520, 300},
		"aspect_squash":      {400, 225},
		"crop_95":            {380, 285},
		"crop_80":            {320, 240},
		"crop_80_offcentre":  {320, 240},
		"crop_60":            {240, 180},
		"flip_h":             {400, 300},
		"rotate_90":          {300, 400},
		"rotate_180":         {400, 300},
		"rotate_270":         {300, 400},
		"rotate_4_fill":      {400, 300},
		"caption":            {400, 300},
		"pad_10_white":       {480, 360},
		"pad_20_black":       {560, 420},
		"letterbox_16_9":     {533, 300},
		"chain_flip_resize":  {200, 150},
	}
	seen := map[string]bool{}
	for _, tr := range Transforms() {
		t.Run(tr.Name, func(t *testing.T) {
			if seen[tr.Name] {
				t.Errorf("duplicate name")
			}
			seen[tr.Name] = true
			if !slices.Contains(groups, tr.Group) {
				t.Errorf("group %q not in the allowed list", tr.Group)
			}
			if got, ok := ByName(tr.Name); !ok || got.Name != tr.Name {
				t.Errorf("ByName(%q) = %q, %v", tr.Name, got.Name, ok)
			}
			b, err := tr.Apply(src, seeded())
			if err != nil {
				t.Fatal(err)
			}
			out, err := Decode(b)
			if err != nil {
				t.Fatalf("output does not decode: %v", err)
			}
			again, err := tr.Apply(src, seeded())
			if err != nil || !bytes.Equal(b, again) {
				t.Errorf("not deterministic for equal seeds (err %v)", err)
			}
			size := out.Bounds().Size()
			if want, ok := sizes[tr.Name]; ok && (abs(size.X-want.X) > 1 || abs(size.Y-want.Y) > 1) {
				t.Errorf("size %v, want %v", size, want)
			}
			switch tr.Name {
			case "rotate_2", "rotate_4", "rotate_15", "chain_rotate_caption":
				if r := float64(size.X) / float64(size.Y); math.Abs(r-4.0/3) > 0.01 || size.X >= 400 {
					t.Errorf("size %v, want a smaller 4:3 picture", size)
				}
			case "screenshot", "chain_screenshot_jpeg":
				if want := 400 / 0.6; math.Abs(float64(size.X)-want) > 1 {
					t.Errorf("width %d, want %.0f", size.X, want)
				}
			case "letterbox_16_9":
				if want := float64(size.Y) * 16 / 9; math.Abs(float64(size.X)-want) > 1 {
					t.Errorf("size %v is not 16:9", size)
				}
			case "greyscale":
				if _, ok := out.(*image.Gray); !ok {
					t.Errorf("decodes as %T, want a single-channel JPEG", out)
				}
			}
		})
	}
	if _, ok := ByName("no_such_transform"); ok {
		t.Error("ByName found a transform that does not exist")
	}
}

// TestExactRotations checks the lossless geometry on pixels, before any JPEG coding.
func TestExactRotations(t *testing.T) {
	img := toNRGBA(testPicture(5, 3))
	at := func(m *image.NRGBA, x, y int) color.NRGBA { return m.NRGBAAt(x, y) }
	r90, r180, r270 := rotate90(img, nil), rotate180(img, nil), rotate270(img, nil)
	fh, fv := flipH(img, nil), flipV(img, nil)
	for y := range 3 {
		for x := range 5 {
			c := at(img, x, y)
			// Clockwise: the left column becomes the top row, read bottom to top.
			if at(r90, 2-y, x) != c || at(r180, 4-x, 2-y) != c || at(r270, y, 4-x) != c ||
				at(fh, 4-x, y) != c || at(fv, x, 2-y) != c {
				t.Fatalf("pixel (%d, %d) misplaced", x, y)
			}
		}
	}
}

// TestStraightenNoCorners checks that the straighten crop leaves no pixel uncovered by the turned
// picture: on a flat grey picture every output pixel must stay grey.
func TestStraightenNoCorners(t *testing.T) {
	grey := color.NRGBA{128, 128, 128, 255}
	for _, size := range []image.Point{{400, 300}, {301, 199}, {1024, 768}, {300, 1024}, {1000, 40}} {
		for _, deg := range []float64{2, 4, 15, -15, 45} {
			out := straighten(deg)(newCanvas(size.X, size.Y, grey), nil)
			for i := 0; i < len(out.Pix); i += 4 {
				if out.Pix[i] != 128 {
					t.Errorf("%v turned %v°: pixel %d is %v, not grey", size, deg, i/4, out.Pix[i:i+4])
					break
				}
			}
			// Same aspect ratio up to a pixel of rounding: |cw·h − ch·w| ≤ max(w, h).
			if cw, ch := out.Rect.Dx(), out.Rect.Dy(); abs(cw*size.Y-ch*size.X) > max(size.X, size.Y) {
				t.Errorf("%v turned %v°: %v has another aspect ratio", size, deg, out.Rect.Size())
			}
		}
	}
}

// TestLogoArea checks that the logo covers about 10% of the picture, whatever its shape.
func TestLogoArea(t *testing.T) {
	src := toNRGBA(testPicture(400, 300))
	for seed := range uint64(8) {
		out := logo(toNRGBA(src), rand.New(rand.NewPCG(seed, 0)))
		changed := 0
		for i := 0; i < len(out.Pix); i += 4 {
			if !bytes.Equal(out.Pix[i:i+3], src.Pix[i:i+3]) {
				changed++
			}
		}
		if f := float64(changed) / (400 * 300); math.Abs(f-0.10) > 0.01 {
			t.Errorf("seed %d: logo covers %.1f%% of the picture", seed, 100*f)
		}
	}
}

// TestNoise checks the noise's mean and standard deviation on a flat grey picture.
func TestNoise(t *testing.T) {
	out := noise(12)(newCanvas(300, 200, color.NRGBA{128, 128, 128, 255}), seeded())
	for c := range 3 {
		var sum, sq float64
		for i := c; i < len(out.Pix); i += 4 {
			d := float64(out.Pix[i]) - 128
			sum += d
			sq += d * d
		}
		n := float64(300 * 200)
		if mean, sd := sum/n, math.Sqrt(sq/n); math.Abs(mean) > 0.2 || math.Abs(sd-12) > 0.2 {
			t.Errorf("channel %d: mean %+.2f, sd %.2f; want 0, 12", c, mean, sd)
		}
	}
}

// TestConcurrent runs every transform from many goroutines at once (run it with -race) and
// checks the outputs equal those of a serial run.
func TestConcurrent(t *testing.T) {
	src := testPicture(120, 90)
	all := Transforms()
	want := make([][]byte, len(all))
	for i, tr := range all {
		want[i], _ = tr.Apply(src, seeded())
	}
	for i, tr := range all {
		for range 2 {
			t.Run(tr.Name, func(t *testing.T) {
				t.Parallel()
				if got, err := tr.Apply(src, seeded()); err != nil || !bytes.Equal(got, want[i]) {
					t.Errorf("differs from the serial run (err %v)", err)
				}
			})
		}
	}
}

// TestInputTypes checks that inputs of any layout and origin are converted, with transparency
// flattened onto white.
func TestInputTypes(t *testing.T) {
	rgba := testPicture(40, 30)
	ycc := image.NewYCbCr(image.Rect(10, 20, 50, 50), image.YCbCrSubsampleRatio420)
	grey := image.NewGray(image.Rect(0, 0, 40, 30))
	clear := image.NewNRGBA(image.Rect(0, 0, 40, 30)) // fully transparent
	for _, src := range []image.Image{rgba, ycc, grey, clear, rgba.SubImage(image.Rect(5, 5, 45, 35))} {
		img := toNRGBA(src)
		if img.Rect != image.Rect(0, 0, src.Bounds().Dx(), src.Bounds().Dy()) {
			t.Errorf("%T: rect %v", src, img.Rect)
		}
		if src == clear && img.NRGBAAt(3, 3) != white {
			t.Errorf("transparent pixel became %v, want white", img.NRGBAAt(3, 3))
		}
		if _, err := mustByName(t, "rotate_15").Apply(src, seeded()); err != nil {
			t.Errorf("%T: %v", src, err)
		}
	}
}

// TestTiny checks that small and extreme pictures do not break any transform.
func TestTiny(t *testing.T) {
	for _, size := range []image.Point{{1, 1}, {7, 5}, {3, 200}, {300, 20}} {
		src := testPicture(size.X, size.Y)
		for _, tr := range Transforms() {
			b, err := tr.Apply(src, seeded())
			if err == nil {
				_, err = Decode(b)
			}
			if err != nil {
				t.Errorf("%v %s: %v", size, tr.Name, err)
			}
		}
	}
}

func mustByName(t *testing.T, name string) Transform {
	t.Helper()
	tr, ok := ByName(name)
	if !ok {
		t.Fatalf("no transform %q", name)
	}
	return tr
}

// TestSamples writes every transform's output for the lead to look at:
//
//	go test ./eval -run TestSamples -samples /tmp/eval-samples [-samples-src photo.jpg]
func TestSamples(t *testing.T) {
	if *samplesDir == "" {
		t.Skip("no -samples directory")
	}
	var src image.Image = testPicture(1024, 768)
	if *samplesSrc != "" {
		b, err := os.ReadFile(*samplesSrc)
		if err != nil {
			t.Fatal(err)
		}
		if src, err = Decode(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(*samplesDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tr := range Transforms() {
		b, err := tr.Apply(src, rand.New(rand.NewPCG(uint64(len(tr.Name)), 7)))
		if err != nil {
			t.Fatalf("%s: %v", tr.Name, err)
		}
		if err := os.WriteFile(filepath.Join(*samplesDir, tr.Name+".jpg"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// BenchmarkTransforms times each transform on a 1024×768 JPEG-decoded (*image.YCbCr) picture.
func BenchmarkTransforms(b *testing.B) {
	jpg, err := encodeJPEG(testPicture(1024, 768), 90)
	if err != nil {
		b.Fatal(err)
	}
	src, err := Decode(jpg)
	if err != nil {
		b.Fatal(err)
	}
	for _, tr := range Transforms() {
		b.Run(tr.Name, func(b *testing.B) {
			b.ReportAllocs()
			rng := seeded()
			for b.Loop() {
				if _, err := tr.Apply(src, rng); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func abs(x int) int { return max(x, -x) }
