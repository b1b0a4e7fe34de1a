package hashing

import (
	"bytes"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
	"math"
	"math/rand/v2"
	"testing"
)

// texture makes a w×h picture with structure at several scales (sums of random waves), so
// its hashes are well defined and different seeds give unrelated pictures.
func texture(w, h int, seed uint64) *image.RGBA {
	rng := rand.New(rand.NewPCG(seed, 7))
	type wave struct{ fx, fy, ph, amp float64 }
	var ws [3][]wave
	for c := range ws {
		for range 6 {
			ws[c] = append(ws[c], wave{rng.Float64()*8 - 4, rng.Float64()*8 - 4, rng.Float64() * 6.3, 20 + rng.Float64()*30})
		}
	}
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			var v [3]float64
			for c := range ws {
				v[c] = 128
				for _, k := range ws[c] {
					v[c] += k.amp * math.Sin(2*math.Pi*(k.fx*float64(x)/float64(w)+k.fy*float64(y)/float64(h))+k.ph)
				}
			}
			m.SetRGBA(x, y, color.RGBA{clamp8(float32(v[0])), clamp8(float32(v[1])), clamp8(float32(v[2])), 255})
		}
	}
	return m
}

func encodeJPEG(t testing.TB, m image.Image, q int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, m, &jpeg.Options{Quality: q}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encodePNG(t testing.TB, m image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// pad surrounds m with a border of colour c, frac of each side wide.
func pad(m image.Image, frac float64, c color.Color) *image.RGBA {
	b := m.Bounds()
	px, py := int(frac*float64(b.Dx())), int(frac*float64(b.Dy()))
	out := image.NewRGBA(image.Rect(0, 0, b.Dx()+2*px, b.Dy()+2*py))
	for i := range out.Pix {
		out.Pix[i] = 0
	}
	r, g, bl, a := c.RGBA()
	for y := range out.Bounds().Dy() {
		for x := range out.Bounds().Dx() {
			out.SetRGBA(x, y, color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(bl >> 8), uint8(a >> 8)})
		}
	}
	for y := range b.Dy() {
		for x := range b.Dx() {
			out.Set(px+x, py+y, m.At(b.Min.X+x, b.Min.Y+y))
		}
	}
	return out
}

// readFile reads a test file (a path relative to the package) or fails the test.
func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fingerprintOf decodes data with the default config and fails the test on error.
func fingerprintOf(t testing.TB, data []byte, p Purpose) *Fingerprint {
	t.Helper()
	img, err := DefaultConfig().Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	return img.Fingerprint(p)
}

// rotate270RGBA turns m 90° anticlockwise.
func rotate270RGBA(m *image.RGBA) *image.RGBA {
	b := m.Bounds()
	out := image.NewRGBA(image.Rect(0, 0, b.Dy(), b.Dx()))
	for y := range b.Dy() {
		for x := range b.Dx() {
			out.Set(y, b.Dx()-1-x, m.At(x, y))
		}
	}
	return out
}

func encodeGIF(t testing.TB, m image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := gif.Encode(&b, m, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encodeBMP(t testing.TB, m image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := bmp.Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encodeTIFF(t testing.TB, m image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := tiff.Encode(&b, m, &tiff.Options{Compression: tiff.Deflate}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// viewCount is the number of views a fingerprint of img must have.
func viewCount(img *Image, p Purpose) int {
	n := 8 + len(QueryVariants)
	if p == Reference {
		n = 1 + len(ReferenceVariants)
	}
	if img.trimmed() {
		if p == Reference {
			n++
		} else {
			n += 8
		}
	}
	if _, ok := openedView(&viewer{img: img}); ok {
		n++
	}
	return n
}
