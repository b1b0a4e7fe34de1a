package hashing

import (
	"image"
	"image/color"
	"image/draw"
	"math/rand/v2"
	"testing"
)

func TestContentBox(t *testing.T) {
	t.Parallel()
	pic := texture(200, 150, 5)
	screenshot := func() image.Image {
		// A browser showing the picture: a chrome bar on top, a dark viewport around it.
		m := image.NewRGBA(image.Rect(0, 0, 400, 330))
		draw.Draw(m, m.Bounds(), image.NewUniform(color.RGBA{32, 33, 36, 255}), image.Point{}, draw.Src)
		draw.Draw(m, image.Rect(0, 0, 400, 30), image.NewUniform(color.RGBA{222, 225, 230, 255}), image.Point{}, draw.Src)
		draw.Draw(m, image.Rect(10, 5, 120, 25), image.NewUniform(color.RGBA{255, 255, 255, 255}), image.Point{}, draw.Src)
		draw.Draw(m, image.Rect(100, 120, 300, 270), pic, image.Point{}, draw.Src)
		return m
	}()
	cases := []struct {
		name string
		m    image.Image
		want image.Rectangle // in the source's pixels
	}{
		{"plain", pic, pic.Bounds()},
		{"white pad", pad(pic, 0.2, color.White), image.Rect(40, 30, 240, 180)},
		{"black pad", pad(pic, 0.1, color.Black), image.Rect(20, 15, 220, 165)},
		{"screenshot", screenshot, image.Rect(100, 120, 300, 270)},
		{"flat", image.NewUniform(color.Gray{90}), image.Rect(0, 0, 0, 0)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := c.m
			if c.name == "flat" {
				m = image.NewGray(image.Rect(0, 0, 120, 80))
			}
			g := shrinkToGray(m, 1000) // no downscale: boxes in source pixels
			got := contentBox(g)
			want := c.want
			if want.Empty() {
				want = g.Bounds()
			}
			if !near(got, want, 2) {
				t.Errorf("content box %v, want %v±2", got, want)
			}
		})
	}
}

func near(a, b image.Rectangle, tol int) bool {
	return abs(a.Min.X-b.Min.X) <= tol && abs(a.Min.Y-b.Min.Y) <= tol && abs(a.Max.X-b.Max.X) <= tol && abs(a.Max.Y-b.Max.Y) <= tol
}

func TestTrimLines(t *testing.T) {
	t.Parallel()
	f, d := true, false
	line := func(parts ...any) []bool {
		var out []bool
		for i := 0; i < len(parts); i += 2 {
			for range parts[i+1].(int) {
				out = append(out, parts[i].(bool))
			}
		}
		return out
	}
	cases := []struct {
		name   string
		flat   []bool
		lo, hi int
	}{
		{"all detail", line(d, 100), 0, 100},
		{"all flat", line(f, 100), 0, 100},
		{"pads", line(f, 10, d, 80, f, 10), 10, 90},
		{"chrome", line(d, 8, f, 12, d, 70, f, 10), 20, 90},
		{"short gap is content", line(d, 8, f, 3, d, 79, f, 10), 0, 90},
		{"wide band is content", line(d, 30, f, 5, d, 65), 0, 100},
		{"narrow gap is content", line(d, 8, f, 1, d, 91), 0, 100},
	}
	if lo, hi := trimSlice(line(d, 8, f, 12, d, 70, f, 10), false); lo != 0 || hi != 90 {
		t.Errorf("columns: [%d,%d), want chrome kept: [0,90)", lo, hi)
	}
	for _, c := range cases {
		if lo, hi := trimSlice(c.flat, true); lo != c.lo || hi != c.hi {
			t.Errorf("%s: [%d,%d), want [%d,%d)", c.name, lo, hi, c.lo, c.hi)
		}
	}
}

func TestTrimLinesChromeWithGaps(t *testing.T) {
	t.Parallel()
	// Tab strip, a flat line, an address bar, then the viewport's flat gap and the picture.
	var flat []bool
	add := func(v bool, n int) {
		for range n {
			flat = append(flat, v)
		}
	}
	add(false, 4)
	add(true, 1)
	add(false, 4)
	add(true, 20)
	add(false, 60)
	add(true, 20)
	if lo, hi := trimSlice(flat, true); lo != 29 || hi != 89 {
		t.Errorf("[%d,%d), want [29,89)", lo, hi)
	}
}

// trimSlice is trimLines over a slice of flatness.
func trimSlice(flat []bool, chrome bool) (int, int) {
	return trimLines(len(flat), func(i int) bool { return flat[i] }, chrome)
}

// TestContentBoxLazy checks contentBox, which works out only the lines it looks at and stops
// when a pass trims nothing, against the plain procedure: every line's flatness, two passes.
func TestContentBoxLazy(t *testing.T) {
	t.Parallel()
	eager := func(g *image.Gray) image.Rectangle {
		full, r := g.Bounds(), g.Bounds()
		all := func(r image.Rectangle, rows bool) []bool {
			var out []bool
			if rows {
				for y := r.Min.Y; y < r.Max.Y; y++ {
					out = append(out, flatLine(g.Pix[y*g.Stride+r.Min.X:y*g.Stride+r.Max.X]))
				}
				return out
			}
			for x := r.Min.X; x < r.Max.X; x++ {
				var col []uint8
				for y := r.Min.Y; y < r.Max.Y; y++ {
					col = append(col, g.Pix[y*g.Stride+x])
				}
				out = append(out, flatLine(col))
			}
			return out
		}
		for range 2 {
			y0, y1 := trimSlice(all(r, true), true)
			r.Min.Y, r.Max.Y = r.Min.Y+y0, r.Min.Y+y1
			x0, x1 := trimSlice(all(r, false), false)
			r.Min.X, r.Max.X = r.Min.X+x0, r.Min.X+x1
			if r.Empty() {
				return full
			}
		}
		if float64(r.Dx()) < minContent*float64(full.Dx()) || float64(r.Dy()) < minContent*float64(full.Dy()) || r.Dx() < 8 || r.Dy() < 8 {
			return full
		}
		return r
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for k := range 300 {
		w, h := 40+rng.IntN(220), 40+rng.IntN(220)
		g := image.NewGray(image.Rect(0, 0, w, h))
		bg := uint8(rng.IntN(256))
		for i := range g.Pix {
			g.Pix[i] = bg + uint8(rng.IntN(5))
		}
		// A textured picture somewhere inside, sometimes with a band of detail at the top
		// or bottom edge (chrome, a caption), sometimes nothing at all.
		if k%7 != 0 {
			x0, y0 := rng.IntN(w/3), rng.IntN(h/3)
			x1, y1 := w-rng.IntN(w/3), h-rng.IntN(h/3)
			for y := y0; y < y1; y++ {
				for x := x0; x < x1; x++ {
					g.Pix[y*w+x] = uint8(rng.IntN(256))
				}
			}
		}
		if k%3 == 0 {
			band := 1 + rng.IntN(max(1, h/8))
			y0 := 0
			if k%2 == 0 {
				y0 = h - band
			}
			for y := y0; y < y0+band; y++ {
				for x := rng.IntN(w / 2); x < w; x += 2 {
					g.Pix[y*w+x] = uint8(rng.IntN(256))
				}
			}
		}
		if got, want := contentBox(g), eager(g); got != want {
			t.Fatalf("picture %d (%d×%d): contentBox %v, every line and both passes %v", k, w, h, got, want)
		}
	}
}
