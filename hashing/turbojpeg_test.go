package hashing

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// turboRequire skips the test when libturbojpeg cannot be loaded, except in
// CI (CI=true), where a missing library is a failure: CI must install
// libturbojpeg0 so the fast path is really exercised.
func turboRequire(t testing.TB) {
	t.Helper()
	if turboAvailable() {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("libturbojpeg not found but CI=true (apt-get install libturbojpeg0): %v", turboLoadErr)
	}
	t.Skip("libturbojpeg not found; apt-get install libturbojpeg0")
}

// turboTestPhoto returns a deterministic photo-like w x h RGBA image: smooth
// colour gradients and blobs plus mild per-pixel noise, so JPEG coding
// behaves as on a real photograph (neither flat nor pure noise).
func turboTestPhoto(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	rng := rand.New(rand.NewPCG(uint64(w), uint64(h)))
	for y := 0; y < h; y++ {
		fy := float64(y) / float64(h)
		row := img.Pix[y*img.Stride : y*img.Stride+4*w]
		for x := 0; x < w; x++ {
			fx := float64(x) / float64(w)
			d := math.Hypot(fx-0.6, fy-0.4)
			r := 120 + 90*math.Sin(fx*5+fy*3) + 20*math.Cos(d*25)
			g := 40 + 160*fy + 25*math.Sin(fx*11)
			b := 140 + 80*math.Cos(d*9) - 40*fx
			n := float64(rng.IntN(17) - 8)
			row[4*x+0] = turboClamp8(r + n)
			row[4*x+1] = turboClamp8(g + n)
			row[4*x+2] = turboClamp8(b + n)
			row[4*x+3] = 0xff
		}
	}
	return img
}

// turboClamp8 rounds v and clamps it to [0, 255].
func turboClamp8(v float64) uint8 {
	return uint8(math.Max(0, math.Min(255, math.Round(v))))
}

// turboTestJPEGCache memoizes turboTestJPEG results (the 12 MP encode takes
// about a second) across tests and benchmarks.
var turboTestJPEGCache sync.Map

// turboTestJPEG returns the turboTestPhoto(w, h) image encoded by image/jpeg
// (baseline, 4:2:0) at quality q, cached.
func turboTestJPEG(tb testing.TB, w, h, q int) []byte {
	tb.Helper()
	key := fmt.Sprintf("%dx%d@%d", w, h, q)
	if v, ok := turboTestJPEGCache.Load(key); ok {
		return v.([]byte)
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, turboTestPhoto(w, h), &jpeg.Options{Quality: q}); err != nil {
		tb.Fatalf("encode %s: %v", key, err)
	}
	v, _ := turboTestJPEGCache.LoadOrStore(key, buf.Bytes())
	return v.([]byte)
}

// turboStdlibGray decodes data with image/jpeg and converts the result to
// gray the way a generic Go fallback would (color.GrayModel on RGB).
func turboStdlibGray(t *testing.T, data []byte) *image.Gray {
	t.Helper()
	src, err := jpeg.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("image/jpeg decode: %v", err)
	}
	if g, ok := src.(*image.Gray); ok {
		return g
	}
	b := src.Bounds()
	out := image.NewGray(image.Rect(0, 0, b.Dx(), b.Dy()))
	ycc, _ := src.(*image.YCbCr)
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			var c color.Color
			if ycc != nil {
				c = ycc.YCbCrAt(b.Min.X+x, b.Min.Y+y)
			} else {
				c = src.At(b.Min.X+x, b.Min.Y+y)
			}
			out.Pix[y*out.Stride+x] = color.GrayModel.Convert(c).(color.Gray).Y
		}
	}
	return out
}

// turboMeanAbsDiff returns the mean and maximum absolute difference between
// two gray images of the same size.
func turboMeanAbsDiff(t *testing.T, a, b *image.Gray) (mean float64, maxDiff int) {
	t.Helper()
	if a.Bounds().Size() != b.Bounds().Size() {
		t.Fatalf("size mismatch: %v vs %v", a.Bounds(), b.Bounds())
	}
	w, h := a.Bounds().Dx(), a.Bounds().Dy()
	var sum int64
	for y := 0; y < h; y++ {
		ra := a.Pix[y*a.Stride : y*a.Stride+w]
		rb := b.Pix[y*b.Stride : y*b.Stride+w]
		for x := range ra {
			d := int(ra[x]) - int(rb[x])
			if d < 0 {
				d = -d
			}
			sum += int64(d)
			maxDiff = max(maxDiff, d)
		}
	}
	return float64(sum) / float64(w*h), maxDiff
}

// turboBoxDown averages f x f blocks of g (edge blocks are partial), the
// reference for an exact 1/f TurboJPEG downscale.
func turboBoxDown(g *image.Gray, f int) *image.Gray {
	w, h := g.Bounds().Dx(), g.Bounds().Dy()
	out := image.NewGray(image.Rect(0, 0, (w+f-1)/f, (h+f-1)/f))
	for by := 0; by < out.Rect.Dy(); by++ {
		for bx := 0; bx < out.Rect.Dx(); bx++ {
			sum, n := 0, 0
			for y := by * f; y < min(h, by*f+f); y++ {
				for x := bx * f; x < min(w, bx*f+f); x++ {
					sum += int(g.Pix[y*g.Stride+x])
					n++
				}
			}
			out.Pix[by*out.Stride+bx] = uint8((sum + n/2) / n)
		}
	}
	return out
}

// turboCheckGray verifies the layout promised by turboDecodeGray.
func turboCheckGray(t *testing.T, img *image.Gray, w, h int) {
	t.Helper()
	if img == nil {
		t.Fatal("nil image without error")
	}
	if img.Rect != image.Rect(0, 0, w, h) {
		t.Fatalf("bounds = %v, want %dx%d at origin", img.Rect, w, h)
	}
	if img.Stride != w || len(img.Pix) != w*h {
		t.Fatalf("stride %d len %d, want stride %d len %d", img.Stride, len(img.Pix), w, w*h)
	}
}

// turboExpectedFactor computes the factor turboDecodeGray must pick from the
// fixed TurboJPEG set, independently of the loaded library.
func turboExpectedFactor(w, h, minW, minH int) turboScalingFactor {
	for _, f := range turboFixedFactors {
		if (w*int(f.num)+int(f.denom)-1)/int(f.denom) >= minW &&
			(h*int(f.num)+int(f.denom)-1)/int(f.denom) >= minH {
			return f
		}
	}
	return turboScalingFactor{1, 1}
}

// TestTurboPickScale checks the factor choice and TJSCALED arithmetic
// without needing the library.
func TestTurboPickScale(t *testing.T) {
	cases := []struct {
		w, h, minW, minH int
		want             turboScalingFactor
	}{
		{4000, 3000, 256, 256, turboScalingFactor{1, 8}},   // 500x375
		{4000, 3000, 600, 600, turboScalingFactor{1, 4}},   // 1000x750
		{4000, 3000, 1600, 1000, turboScalingFactor{1, 2}}, // 2000x1500
		{1000, 1000, 256, 256, turboScalingFactor{3, 8}},   // 375x375
		{333, 250, 64, 64, turboScalingFactor{3, 8}},       // 125x94; 1/4 gives 84x63
		{333, 250, 333, 250, turboScalingFactor{1, 1}},
		{333, 250, 1000, 10, turboScalingFactor{1, 1}}, // image smaller than wanted
		{100, 100, 0, 0, turboScalingFactor{1, 8}},
		{1, 1, 1, 1, turboScalingFactor{1, 8}},  // ceil keeps 1 pixel
		{17, 9, 3, 2, turboScalingFactor{1, 8}}, // 3x2
		{17, 9, 4, 2, turboScalingFactor{1, 4}}, // 5x3; 1/8 gives 3x2
	}
	for _, c := range cases {
		got := turboPickScale(turboFixedFactors, c.w, c.h, c.minW, c.minH)
		if got != c.want {
			t.Errorf("turboPickScale(%dx%d, min %dx%d) = %d/%d, want %d/%d",
				c.w, c.h, c.minW, c.minH, got.num, got.denom, c.want.num, c.want.denom)
		}
		if exp := turboExpectedFactor(c.w, c.h, c.minW, c.minH); got != exp {
			t.Errorf("turboExpectedFactor disagrees: %v vs %v", exp, got)
		}
	}
	if got := turboScaled(333, turboScalingFactor{3, 8}); got != 125 {
		t.Errorf("turboScaled(333, 3/8) = %d, want 125", got)
	}
}

// TestTurboCandidates checks the library search list and the
// AURA_TURBOJPEG / AURA_TURBOJPEG_LIB environment handling.
func TestTurboCandidates(t *testing.T) {
	env := func(kv map[string]string) func(string) string {
		return func(k string) string { return kv[k] }
	}
	if p, ok := turboCandidates("linux", env(nil)); !ok || len(p) != 2 || p[0] != "libturbojpeg.so.0" || p[1] != "libturbojpeg.so" {
		t.Errorf("linux defaults = %v, %v", p, ok)
	}
	if p, ok := turboCandidates("darwin", env(nil)); !ok || p[0] != "libturbojpeg.dylib" || p[1] != "/opt/homebrew/lib/libturbojpeg.dylib" {
		t.Errorf("darwin defaults = %v, %v", p, ok)
	}
	for _, v := range []string{"off", "OFF", " off ", "0", "false"} {
		if _, ok := turboCandidates("linux", env(map[string]string{"AURA_TURBOJPEG": v, "AURA_TURBOJPEG_LIB": "/x.so"})); ok {
			t.Errorf("AURA_TURBOJPEG=%q did not disable", v)
		}
	}
	if p, ok := turboCandidates("linux", env(map[string]string{"AURA_TURBOJPEG": "on", "AURA_TURBOJPEG_LIB": "/opt/x/libturbojpeg.so.0"})); !ok || len(p) != 1 || p[0] != "/opt/x/libturbojpeg.so.0" {
		t.Errorf("override = %v, %v", p, ok)
	}
}

// TestTurboOpenBadLibraries checks that unusable libraries give errors.
func TestTurboOpenBadLibraries(t *testing.T) {
	// A missing file and a library without TurboJPEG symbols must give an
	// error, never a panic (purego.RegisterLibFunc would panic).
	paths := []string{"/nonexistent/libturbojpeg.so.0"}
	if runtime.GOOS == "linux" {
		paths = append(paths, "libc.so.6")
	}
	lib, err := turboOpen(paths)
	if err == nil || lib != nil {
		t.Fatalf("turboOpen(%v) = %v, %v; want error", paths, lib, err)
	}
	t.Logf("expected error: %v", err)
	if _, err := turboOpen(nil); err == nil {
		t.Fatal("turboOpen(nil) succeeded")
	}
}

// TestTurboOpenFallsThrough checks that loading moves on to the next candidate.
func TestTurboOpenFallsThrough(t *testing.T) {
	turboRequire(t)
	// The first candidate fails, the second (the one that loaded globally) wins.
	lib, err := turboOpen([]string{"/nonexistent/libturbojpeg.so.0", turboVersion()})
	if err != nil {
		t.Fatal(err)
	}
	if lib.path != turboVersion() || len(lib.factors) == 0 || lib.factors[len(lib.factors)-1] != (turboScalingFactor{1, 1}) {
		t.Fatalf("lib path %q factors %v", lib.path, lib.factors)
	}
}

// TestTurboVersionAndFactors checks turboVersion and the scaling factors
// read through tjGetScalingFactors.
func TestTurboVersionAndFactors(t *testing.T) {
	turboRequire(t)
	v := turboVersion()
	if !strings.Contains(v, "turbojpeg") {
		t.Fatalf("turboVersion() = %q", v)
	}
	t.Logf("loaded %s; factors <= 1: %v", v, turboJPEG.factors)
	// libjpeg-turbo >= 1.2 supports all eighths.
	if len(turboJPEG.factors) != len(turboFixedFactors) {
		t.Errorf("factors = %v, want %v", turboJPEG.factors, turboFixedFactors)
	}
	for i := range turboJPEG.factors {
		if i < len(turboFixedFactors) && turboJPEG.factors[i] != turboFixedFactors[i] {
			t.Errorf("factor %d = %v, want %v", i, turboJPEG.factors[i], turboFixedFactors[i])
		}
	}
}

// TestTurboDecodeGrayMatchesStdlib compares scale-1 output with image/jpeg
// and checks reduced-scale dimensions for 12 MP, 1 MP and odd-sized JPEGs.
func TestTurboDecodeGrayMatchesStdlib(t *testing.T) {
	turboRequire(t)
	sizes := []struct{ w, h int }{{4000, 3000}, {1000, 1000}, {333, 250}}
	for _, s := range sizes {
		t.Run(fmt.Sprintf("%dx%d", s.w, s.h), func(t *testing.T) {
			if s.w*s.h > 4e6 && testing.Short() {
				t.Skip("12 MP case skipped in -short mode")
			}
			data := turboTestJPEG(t, s.w, s.h, 90)
			w, h, cs, err := turboHeader(data)
			if err != nil || w != s.w || h != s.h || cs != turboCSYCbCr {
				t.Fatalf("turboHeader = %d, %d, %d, %v", w, h, cs, err)
			}
			got, f, err := turboDecodeGrayFactor(data, s.w, s.h)
			if err != nil {
				t.Fatal(err)
			}
			if f != (turboScalingFactor{1, 1}) {
				t.Fatalf("factor %v, want 1/1", f)
			}
			turboCheckGray(t, got, s.w, s.h)
			want := turboStdlibGray(t, data)
			mean, maxd := turboMeanAbsDiff(t, got, want)
			t.Logf("scale 1: mean |diff| %.3f, max %d", mean, maxd)
			if mean > 2 {
				t.Fatalf("mean absolute difference %.3f > 2 levels", mean)
			}

			// Reduced scales: dimensions must be ceil(dim*num/denom) for the
			// smallest factor that still reaches the requested minimum.
			mins := [][2]int{{1, 1}, {32, 32}, {64, 64}, {256, 256}, {s.w / 3, s.h / 3}, {s.w/2 + 1, 1}, {s.w, s.h + 1}}
			for _, m := range mins {
				img, f, err := turboDecodeGrayFactor(data, m[0], m[1])
				if err != nil {
					t.Fatalf("min %v: %v", m, err)
				}
				ef := turboExpectedFactor(s.w, s.h, m[0], m[1])
				if f != ef {
					t.Fatalf("min %v: factor %d/%d, want %d/%d", m, f.num, f.denom, ef.num, ef.denom)
				}
				ew := (s.w*int(f.num) + int(f.denom) - 1) / int(f.denom)
				eh := (s.h*int(f.num) + int(f.denom) - 1) / int(f.denom)
				turboCheckGray(t, img, ew, eh)
				if f != (turboScalingFactor{1, 1}) && (ew < m[0] || eh < m[1]) {
					t.Fatalf("min %v: output %dx%d below the minimum", m, ew, eh)
				}
				// At 1/8 libjpeg keeps only each block's DC term, i.e. the 8x8
				// block mean: compare with a box-filtered full decode.
				if f == (turboScalingFactor{1, 8}) {
					mean, maxd := turboMeanAbsDiff(t, img, turboBoxDown(want, 8))
					t.Logf("scale 1/8 (%dx%d) vs 8x8 box mean: mean |diff| %.3f, max %d", ew, eh, mean, maxd)
					if mean > 2 {
						t.Fatalf("1/8 output differs from block means by %.3f", mean)
					}
				}
			}
		})
	}
}

// TestTurboDecodeGrayscaleJPEG decodes a single-component JPEG.
func TestTurboDecodeGrayscaleJPEG(t *testing.T) {
	turboRequire(t)
	src := turboTestPhoto(640, 480)
	gray := image.NewGray(src.Bounds())
	for i := range gray.Pix {
		p := src.Pix[4*i : 4*i+3]
		gray.Pix[i] = color.GrayModel.Convert(color.RGBA{p[0], p[1], p[2], 0xff}).(color.Gray).Y
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, gray, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	w, h, cs, err := turboHeader(data)
	if err != nil || w != 640 || h != 480 || cs != turboCSGray {
		t.Fatalf("turboHeader = %d, %d, %d, %v; want 640, 480, gray", w, h, cs, err)
	}
	got, err := turboDecodeGray(data, 640, 480)
	if err != nil {
		t.Fatal(err)
	}
	turboCheckGray(t, got, 640, 480)
	mean, maxd := turboMeanAbsDiff(t, got, turboStdlibGray(t, data))
	t.Logf("grayscale: mean |diff| %.3f, max %d", mean, maxd)
	if mean > 2 {
		t.Fatalf("mean absolute difference %.3f > 2", mean)
	}
	small, err := turboDecodeGray(data, 100, 100)
	if err != nil {
		t.Fatal(err)
	}
	turboCheckGray(t, small, 160, 120) // 1/4
}

// TestTurboDecodeProgressive decodes testdata/progressive.jpg.
func TestTurboDecodeProgressive(t *testing.T) {
	turboRequire(t)
	// testdata/progressive.jpg: 320x240 colour, made with
	// `cjpeg -progressive -quality 85` (libjpeg-turbo-progs 2.1.5).
	data := readFile(t, filepath.Join("testdata", "progressive.jpg"))
	w, h, cs, err := turboHeader(data)
	if err != nil || w != 320 || h != 240 || cs != turboCSYCbCr {
		t.Fatalf("turboHeader = %d, %d, %d, %v", w, h, cs, err)
	}
	got, err := turboDecodeGray(data, 320, 240)
	if err != nil {
		t.Fatal(err)
	}
	turboCheckGray(t, got, 320, 240)
	mean, maxd := turboMeanAbsDiff(t, got, turboStdlibGray(t, data))
	t.Logf("progressive: mean |diff| %.3f, max %d", mean, maxd)
	if mean > 2 {
		t.Fatalf("mean absolute difference %.3f > 2", mean)
	}
	small, f, err := turboDecodeGrayFactor(data, 80, 60)
	if err != nil {
		t.Fatal(err)
	}
	if f != (turboScalingFactor{1, 4}) {
		t.Fatalf("factor %v, want 1/4", f)
	}
	turboCheckGray(t, small, 80, 60)
}

// TestTurboDecodeCMYKUnsupported checks that CMYK and YCCK JPEGs yield
// errTurboUnsupported and that image/jpeg can take over.
func TestTurboDecodeCMYKUnsupported(t *testing.T) {
	turboRequire(t)
	// testdata/cmyk.jpg and ycck.jpg: 96x64, four components with an Adobe
	// marker (transform 0 and 2), written by libjpeg with in_color_space
	// JCS_CMYK and jpeg_set_colorspace(JCS_CMYK / JCS_YCCK).
	for _, c := range []struct {
		file string
		cs   int
	}{{"cmyk.jpg", turboCSCMYK}, {"ycck.jpg", turboCSYCCK}} {
		data := readFile(t, filepath.Join("testdata", c.file))
		w, h, cs, err := turboHeader(data)
		if err != nil || w != 96 || h != 64 || cs != c.cs {
			t.Fatalf("%s: turboHeader = %d, %d, %d, %v; want 96, 64, %d", c.file, w, h, cs, err, c.cs)
		}
		img, err := turboDecodeGray(data, 8, 8)
		if !errors.Is(err, errTurboUnsupported) || img != nil {
			t.Fatalf("%s: turboDecodeGray = %v, %v; want errTurboUnsupported", c.file, img, err)
		}
		// The pure-Go fallback must be able to take over.
		g, err := jpeg.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s: image/jpeg fallback: %v", c.file, err)
		}
		if _, ok := g.(*image.CMYK); !ok || g.Bounds().Dx() != 96 {
			t.Fatalf("%s: image/jpeg gave %T %v", c.file, g, g.Bounds())
		}
	}
}

// TestTurboDecodeBadInput feeds empty, truncated, stray-byte and random
// inputs: each must give an error or an image, never a crash.
func TestTurboDecodeBadInput(t *testing.T) {
	turboRequire(t)
	good := turboTestJPEG(t, 1000, 1000, 90)

	// Empty input: rejected before any C call.
	for _, d := range [][]byte{nil, {}} {
		if img, err := turboDecodeGray(d, 8, 8); !errors.Is(err, errTurboEmpty) || img != nil {
			t.Fatalf("empty: %v, %v", img, err)
		}
		if _, _, _, err := turboHeader(d); !errors.Is(err, errTurboEmpty) {
			t.Fatalf("empty header: %v", err)
		}
	}

	// Truncated at half: libjpeg warns "Premature end of JPEG file"; with
	// TJFLAG_STOPONWARNING that is an error flagged as a warning.
	for _, m := range []int{1000, 256, 8} {
		img, err := turboDecodeGray(good[:len(good)/2], m, m)
		var ce *turboCallError
		if err == nil || img != nil || !errors.As(err, &ce) || !ce.Warning() {
			t.Fatalf("truncated (min %d): %v, %v; want a warning error", m, img, err)
		}
		if !strings.HasPrefix(err.Error(), "hashing: turbojpeg: ") {
			t.Fatalf("error not wrapped: %q", err)
		}
		t.Logf("truncated (min %d): %v", m, err)
	}

	// Stray bytes before the EOI marker: libjpeg only warns ("Corrupt JPEG
	// data: N extraneous bytes before marker 0xd9"), which turboDecodeGray
	// reports as a warning error; image/jpeg accepts the file, so this is a
	// case the caller's fallback recovers.
	stray := append(bytes.Clone(good[:len(good)-2]), 'a', 'b', 'c', 0xff, 0xd9)
	img, err := turboDecodeGray(stray, 64, 64)
	var ce *turboCallError
	if err == nil || img != nil || !errors.As(err, &ce) || !ce.Warning() {
		t.Fatalf("stray bytes: %v, %v; want a warning error", img, err)
	}
	t.Logf("stray bytes: %v", err)
	if _, err := jpeg.Decode(bytes.NewReader(stray)); err != nil {
		t.Logf("note: image/jpeg also rejects stray bytes: %v", err)
	}

	// Random bytes, random bytes behind a JPEG SOI, a lone SOI, header only.
	rng := rand.New(rand.NewPCG(1, 2))
	noise := make([]byte, 4096)
	for i := range noise {
		noise[i] = byte(rng.Uint32())
	}
	sos := bytes.Index(good, []byte{0xff, 0xda})
	inputs := map[string][]byte{
		"random":      noise,
		"soi+random":  append([]byte{0xff, 0xd8}, noise...),
		"soi":         {0xff, 0xd8},
		"one byte":    {0xff},
		"header only": good[:sos],
		"to SOS":      good[:sos+14],
	}
	for name, d := range inputs {
		img, err := turboDecodeGray(d, 64, 64)
		if err == nil {
			t.Logf("%s: decoded %v", name, img.Rect) // allowed: image or error
			continue
		}
		if img != nil {
			t.Fatalf("%s: image and error", name)
		}
		t.Logf("%s: %v", name, err)
		if _, _, _, err := turboHeader(d); err == nil && name == "random" {
			t.Fatalf("%s: header accepted noise", name)
		}
	}
}

// TestTurboDecodeMutations decodes many randomly corrupted JPEGs.
func TestTurboDecodeMutations(t *testing.T) {
	turboRequire(t)
	// Flip random bytes of a small valid JPEG many times: every result must
	// be a well-formed image or an error, never a crash or a bad buffer.
	good := turboTestJPEG(t, 333, 250, 90)
	rng := rand.New(rand.NewPCG(3, 4))
	n := 400
	if testing.Short() {
		n = 100
	}
	var ok, failed int
	for i := 0; i < n; i++ {
		d := bytes.Clone(good)
		for k := 0; k < 1+rng.IntN(8); k++ {
			d[rng.IntN(len(d))] = byte(rng.Uint32())
		}
		if rng.IntN(4) == 0 {
			d = d[:rng.IntN(len(d))+1]
		}
		img, f, err := turboDecodeGrayFactor(d, 64, 64)
		if err != nil {
			failed++
			continue
		}
		ok++
		w, h, _, herr := turboHeader(d)
		if herr != nil {
			t.Fatalf("decode ok but header failed: %v", herr)
		}
		turboCheckGray(t, img, turboScaled(w, f), turboScaled(h, f))
	}
	t.Logf("%d mutated inputs: %d decoded, %d errors", n, ok, failed)
}

// TestTurboConcurrent decodes good and bad inputs from many goroutines.
func TestTurboConcurrent(t *testing.T) {
	turboRequire(t)
	// Decode good and bad inputs from many goroutines at once: results must
	// match serial decodes byte for byte and every error must carry the
	// message of its own input (libjpeg messages live in thread-local storage,
	// which is why decodes lock the OS thread).
	good := turboTestJPEG(t, 1000, 1000, 90)
	small := turboTestJPEG(t, 333, 250, 90)
	truncated := good[:len(good)/2]
	notJPEG := bytes.Repeat([]byte("not a jpeg "), 100)

	refGood, err := turboDecodeGray(good, 250, 250)
	if err != nil {
		t.Fatal(err)
	}
	refSmall, err := turboDecodeGray(small, 333, 250)
	if err != nil {
		t.Fatal(err)
	}
	_, errTrunc := turboDecodeGray(truncated, 8, 8)
	_, errNot := turboDecodeGray(notJPEG, 8, 8)
	if errTrunc == nil || errNot == nil || errTrunc.Error() == errNot.Error() {
		t.Fatalf("need two distinct errors, got %v / %v", errTrunc, errNot)
	}

	const workers, iters = 8, 12
	var wg sync.WaitGroup
	errc := make(chan error, workers*iters)
	for g := 0; g < workers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < iters; i++ {
				switch (g + i) % 4 {
				case 0:
					img, err := turboDecodeGray(good, 250, 250)
					if err != nil || !bytes.Equal(img.Pix, refGood.Pix) {
						errc <- fmt.Errorf("good: %v", err)
					}
				case 1:
					img, err := turboDecodeGray(small, 333, 250)
					if err != nil || !bytes.Equal(img.Pix, refSmall.Pix) {
						errc <- fmt.Errorf("small: %v", err)
					}
				case 2:
					if _, err := turboDecodeGray(truncated, 8, 8); err == nil || err.Error() != errTrunc.Error() {
						errc <- fmt.Errorf("truncated: got %v, want %v", err, errTrunc)
					}
				case 3:
					if _, err := turboDecodeGray(notJPEG, 8, 8); err == nil || err.Error() != errNot.Error() {
						errc <- fmt.Errorf("not jpeg: got %v, want %v", err, errNot)
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
}

// turboChildEnv marks the child process started by TestTurboDisabledByEnv.
const turboChildEnv = "AURA_TURBOJPEG_TEST_CHILD"

// TestTurboDisabledByEnv checks AURA_TURBOJPEG=off in a child process.
func TestTurboDisabledByEnv(t *testing.T) {
	if os.Getenv(turboChildEnv) == "1" {
		// Child: AURA_TURBOJPEG=off must make every entry point report
		// unavailability so the caller takes the pure-Go path.
		if turboAvailable() || turboVersion() != "" {
			t.Fatalf("disabled but available: %q", turboVersion())
		}
		if _, err := turboDecodeGray([]byte{0xff, 0xd8}, 8, 8); !errors.Is(err, errTurboUnavailable) {
			t.Fatalf("turboDecodeGray: %v, want errTurboUnavailable", err)
		}
		if _, _, _, err := turboHeader([]byte{0xff, 0xd8}); !errors.Is(err, errTurboUnavailable) {
			t.Fatalf("turboHeader: %v, want errTurboUnavailable", err)
		}
		return
	}
	// Parent: the load happens once per process, so re-run this test in a
	// fresh process with the library disabled.
	exe, err := os.Executable()
	if err != nil {
		t.Skipf("cannot find test binary: %v", err)
	}
	cmd := exec.Command(exe, "-test.run=^TestTurboDisabledByEnv$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), turboChildEnv+"=1", "AURA_TURBOJPEG=off")
	out, err := cmd.CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("--- PASS: TestTurboDisabledByEnv")) {
		t.Fatalf("child failed: %v\n%s", err, out)
	}
}
