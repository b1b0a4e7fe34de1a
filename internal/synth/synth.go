// Package synth makes photo-like test pictures of any size, reproducibly from a seed, for
// benchmarks and tests that need large images without shipping them: smooth structure at
// several scales plus fine grain, so a JPEG of it costs what a camera photo costs to decode.
package synth

import (
	"bytes"
	"image"
	"image/jpeg"
	"math/rand/v2"
)

// Photo returns a w×h picture with structure at three scales and per-pixel grain.
func Photo(w, h int, seed uint64) *image.RGBA {
	rng := rand.New(rand.NewPCG(seed, 0x73796e7468))
	type grid struct {
		gw, gh int
		v      []float32
		amp    float32
	}
	var octaves []grid
	for _, o := range []struct {
		n   int
		amp float32
	}{{4, 90}, {16, 45}, {64, 20}} {
		g := grid{gw: o.n + 1, gh: o.n*h/max(w, 1) + 2, amp: o.amp}
		g.v = make([]float32, 3*g.gw*g.gh)
		for i := range g.v {
			g.v[i] = rng.Float32()*2 - 1
		}
		octaves = append(octaves, g)
	}
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	noise := rand.New(rand.NewPCG(seed, 1))
	for y := range h {
		for x := range w {
			var c [3]float32
			for ch := range c {
				c[ch] = 128
			}
			for _, g := range octaves {
				fx := float32(x) * float32(g.gw-1) / float32(w)
				fy := float32(y) * float32(g.gw-1) / float32(w)
				ix, iy := int(fx), int(fy)
				ix, iy = min(ix, g.gw-2), min(iy, g.gh-2)
				tx, ty := fx-float32(ix), fy-float32(iy)
				for ch := range c {
					at := func(i, j int) float32 { return g.v[3*(j*g.gw+i)+ch] }
					top := at(ix, iy)*(1-tx) + at(ix+1, iy)*tx
					bot := at(ix, iy+1)*(1-tx) + at(ix+1, iy+1)*tx
					c[ch] += g.amp * (top*(1-ty) + bot*ty)
				}
			}
			grain := float32(noise.IntN(13) - 6)
			p := m.Pix[y*m.Stride+4*x:]
			for ch := range c {
				p[ch] = clamp(c[ch] + grain)
			}
			p[3] = 255
		}
	}
	return m
}

// JPEG returns Photo(w, h, seed) encoded at the given quality.
func JPEG(w, h int, seed uint64, quality int) []byte {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, Photo(w, h, seed), &jpeg.Options{Quality: quality}); err != nil {
		panic(err) // encoding to memory cannot fail
	}
	return b.Bytes()
}

func clamp(v float32) uint8 {
	switch {
	case v <= 0:
		return 0
	case v >= 255:
		return 255
	}
	return uint8(v)
}
