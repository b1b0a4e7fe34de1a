package eval

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"math"

	"golang.org/x/image/draw"
	"golang.org/x/image/math/f64"
)

// Pixel helpers. Every image handled here is an opaque, tightly packed *image.NRGBA with its
// origin at (0, 0): toNRGBA flattens transparency once, on the way in. Opaque NRGBA and RGBA
// pixels have the same bytes, so rgbaView lets image/draw, x/image/draw and image/jpeg take
// their fast paths, which exist for *image.RGBA but not *image.NRGBA, without a copy.

var white = color.NRGBA{255, 255, 255, 255}

// toNRGBA copies src into a new opaque image with its origin at (0, 0), flattening any
// transparency onto white (as Aura's decoder does).
func toNRGBA(src image.Image) *image.NRGBA {
	b := src.Bounds()
	dst := newCanvas(b.Dx(), b.Dy(), white)
	draw.Draw(rgbaView(dst), dst.Rect, src, b.Min, draw.Over)
	return dst
}

// rgbaView returns an *image.RGBA sharing img's pixels; valid because img is opaque.
func rgbaView(img *image.NRGBA) *image.RGBA {
	return &image.RGBA{Pix: img.Pix, Stride: img.Stride, Rect: img.Rect}
}

// newCanvas returns a w×h image filled with c (which must be opaque).
func newCanvas(w, h int, c color.NRGBA) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	copy(img.Pix, []uint8{c.R, c.G, c.B, c.A})
	for n := 4; n < len(img.Pix); n *= 2 {
		copy(img.Pix[n:], img.Pix[:n])
	}
	return img
}

// paste copies src onto dst with src's top-left corner at p.
func paste(dst, src *image.NRGBA, p image.Point) {
	draw.Draw(rgbaView(dst), src.Rect.Add(p), rgbaView(src), image.Point{}, draw.Src)
}

// crop returns a copy of the part r of img.
func crop(img *image.NRGBA, r image.Rectangle) *image.NRGBA {
	dst := image.NewNRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
	draw.Draw(rgbaView(dst), dst.Rect, rgbaView(img), r.Min, draw.Src)
	return dst
}

// fillRect composites c (which may be translucent) over the part r of dst.
func fillRect(dst *image.NRGBA, r image.Rectangle, c color.NRGBA) {
	draw.Draw(rgbaView(dst), r, image.NewUniform(c), image.Point{}, draw.Over)
}

// remap returns a w×h image whose pixel (x, y) is img's pixel at(x, y): flips and exact
// rotations.
func remap(img *image.NRGBA, w, h int, at func(x, y int) (int, int)) *image.NRGBA {
	dst := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		row := dst.Pix[y*dst.Stride:]
		for x := range w {
			sx, sy := at(x, y)
			copy(row[4*x:4*x+4], img.Pix[sy*img.Stride+4*sx:])
		}
	}
	return dst
}

// warp returns a w×h image, filled with fill, onto which img is drawn through the affine map
// s2d (source to destination coordinates, pixel centres at +0.5) with bilinear sampling of the
// 4 nearest pixels. (That is x/image/draw's ApproxBiLinear: exact for maps that do not shrink,
// like rotations, and 4× faster than its BiLinear kernel.)
func warp(img *image.NRGBA, w, h int, s2d f64.Aff3, fill color.NRGBA) *image.NRGBA {
	dst := newCanvas(w, h, fill)
	draw.ApproxBiLinear.Transform(rgbaView(dst), s2d, img, img.Rect, draw.Src, nil)
	return dst
}

// rotation returns the map that turns a w×h picture anticlockwise (as seen on screen, y
// pointing down) by deg degrees about its centre and puts that centre at the centre of a
// dw×dh canvas.
func rotation(w, h, dw, dh int, deg float64) f64.Aff3 {
	sin, cos := math.Sincos(deg * math.Pi / 180)
	cx, cy := float64(w)/2, float64(h)/2
	dx, dy := float64(dw)/2, float64(dh)/2
	return f64.Aff3{
		cos, sin, dx - cos*cx - sin*cy,
		-sin, cos, dy + sin*cx - cos*cy,
	}
}

// mapChannels applies f (defined on 0..255, clamped after) to each of R, G and B, in place.
func mapChannels(img *image.NRGBA, f func(v float64) float64) {
	var lut [256]uint8
	for i := range lut {
		lut[i] = clamp8(f(float64(i)))
	}
	for i := 0; i < len(img.Pix); i += 4 {
		p := img.Pix[i : i+3 : i+3]
		p[0], p[1], p[2] = lut[p[0]], lut[p[1]], lut[p[2]]
	}
}

// colourMatrix replaces each pixel's (R, G, B) by m·(R, G, B), clamped, in place.
func colourMatrix(img *image.NRGBA, m [3][3]float64) {
	for i := 0; i < len(img.Pix); i += 4 {
		p := img.Pix[i : i+3 : i+3]
		r, g, b := float64(p[0]), float64(p[1]), float64(p[2])
		p[0] = clamp8(m[0][0]*r + m[0][1]*g + m[0][2]*b)
		p[1] = clamp8(m[1][0]*r + m[1][1]*g + m[1][2]*b)
		p[2] = clamp8(m[2][0]*r + m[2][1]*g + m[2][2]*b)
	}
}

// resample scales img to w×h with a Catmull-Rom filter, stretched when shrinking so that it
// averages away detail finer than the new pixels (as x/image/draw's CatmullRom does).
func resample(img *image.NRGBA, w, h int) *image.NRGBA {
	img = filter1D(img, taps1D(img.Rect.Dx(), w, catmullRom, 2), true)
	return filter1D(img, taps1D(img.Rect.Dy(), h, catmullRom, 2), false)
}

// gaussianBlur blurs img with a Gaussian of standard deviation sigma pixels.
func gaussianBlur(img *image.NRGBA, sigma float64) *image.NRGBA {
	g := func(x float64) float64 { return math.Exp(-x * x / (2 * sigma * sigma)) }
	img = filter1D(img, taps1D(img.Rect.Dx(), img.Rect.Dx(), g, 3*sigma), true)
	return filter1D(img, taps1D(img.Rect.Dy(), img.Rect.Dy(), g, 3*sigma), false)
}

func catmullRom(x float64) float64 {
	switch x = math.Abs(x); {
	case x < 1:
		return (3*x-5)*x*x/2 + 1
	case x < 2:
		return ((5-x)*x-8)*x/2 + 2
	}
	return 0
}

// A tap makes one output pixel of a 1-D filter: the weighted sum of the input pixels
// first, first+1, ... with weights w (fixed point, summing to 1<<16).
type tap struct {
	first int
	w     []int32
}

// taps1D returns the taps that filter a line of n pixels into m with kernel k, which is zero
// beyond radius. When shrinking, the kernel is stretched by n/m. Taps beyond the ends of the
// line fall on the end pixels.
func taps1D(n, m int, k func(float64) float64, radius float64) []tap {
	scale := float64(n) / float64(m)
	stretch := max(scale, 1)
	taps := make([]tap, m)
	for i := range taps {
		centre := (float64(i)+0.5)*scale - 0.5
		lo, hi := int(math.Ceil(centre-radius*stretch)), int(math.Floor(centre+radius*stretch))
		first, last := min(max(lo, 0), n-1), max(min(hi, n-1), 0)
		f := make([]float64, last-first+1)
		var sum float64
		for j := lo; j <= hi; j++ {
			v := k((float64(j) - centre) / stretch)
			f[min(max(j, 0), n-1)-first] += v
			sum += v
		}
		w := make([]int32, len(f))
		var total, peak int32
		for j := range f {
			w[j] = int32(math.Round(f[j] / sum * (1 << 16)))
			total += w[j]
			if w[j] > w[peak] {
				peak = int32(j)
			}
		}
		w[peak] += 1<<16 - total // exact, so that flat areas stay flat
		taps[i] = tap{first, w}
	}
	return taps
}

// filter1D applies taps along x (giving len(t) columns) or along y (giving len(t) rows).
func filter1D(img *image.NRGBA, t []tap, alongX bool) *image.NRGBA {
	w, h, step := len(t), img.Rect.Dy(), 4 // step: bytes between neighbours along the axis
	if !alongX {
		w, h, step = img.Rect.Dx(), len(t), img.Stride
	}
	dst := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		row := dst.Pix[y*dst.Stride:]
		for x := range w {
			var tp tap
			var o int // the first byte of the source line
			if alongX {
				tp, o = t[x], y*img.Stride
			} else {
				tp, o = t[y], 4*x
			}
			o += tp.first * step
			var r, g, b int32
			for _, wt := range tp.w {
				p := img.Pix[o : o+3 : o+3]
				r += wt * int32(p[0])
				g += wt * int32(p[1])
				b += wt * int32(p[2])
				o += step
			}
			row[4*x], row[4*x+1], row[4*x+2], row[4*x+3] = unfix(r), unfix(g), unfix(b), 255
		}
	}
	return dst
}

// unfix rounds a 16.16 fixed-point value to 0..255.
func unfix(v int32) uint8 { return uint8(min(max((v+1<<15)>>16, 0), 255)) }

// fillShape blends c over the pixels of dst in r according to sdf, a signed distance in pixels
// (negative inside), anti-aliased over one pixel.
func fillShape(dst *image.NRGBA, r image.Rectangle, c color.NRGBA, sdf func(x, y float64) float64) {
	r = r.Intersect(dst.Rect)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			cover := min(max(0.5-sdf(float64(x)+0.5, float64(y)+0.5), 0), 1) * float64(c.A) / 255
			if cover == 0 {
				continue
			}
			p := dst.Pix[y*dst.Stride+4*x:]
			p[0] = uint8(float64(p[0]) + (float64(c.R)-float64(p[0]))*cover + 0.5)
			p[1] = uint8(float64(p[1]) + (float64(c.G)-float64(p[1]))*cover + 0.5)
			p[2] = uint8(float64(p[2]) + (float64(c.B)-float64(p[2]))*cover + 0.5)
		}
	}
}

// roundedRect is the signed distance to the rectangle r with corners of the given radius.
func roundedRect(r image.Rectangle, radius float64) func(x, y float64) float64 {
	cx, cy := float64(r.Min.X+r.Max.X)/2, float64(r.Min.Y+r.Max.Y)/2
	hx, hy := float64(r.Dx())/2-radius, float64(r.Dy())/2-radius
	return func(x, y float64) float64 {
		qx, qy := math.Abs(x-cx)-hx, math.Abs(y-cy)-hy
		return math.Hypot(max(qx, 0), max(qy, 0)) + min(max(qx, qy), 0) - radius
	}
}

// disc is the signed distance to the circle of radius r about (cx, cy).
func disc(cx, cy, r float64) func(x, y float64) float64 {
	return func(x, y float64) float64 { return math.Hypot(x-cx, y-cy) - r }
}

// discBounds is the pixel rectangle covering the disc of radius r about (cx, cy).
func discBounds(cx, cy, r float64) image.Rectangle {
	return image.Rect(int(cx-r)-1, int(cy-r)-1, int(cx+r)+2, int(cy+r)+2)
}

// toGrey returns the Rec. 601 luma of img (the weights of color.GrayModel).
func toGrey(img *image.NRGBA) *image.Gray {
	g := image.NewGray(img.Rect)
	for i, j := 0, 0; i < len(img.Pix); i, j = i+4, j+1 {
		p := img.Pix[i : i+3 : i+3]
		g.Pix[j] = uint8((19595*uint32(p[0]) + 38470*uint32(p[1]) + 7471*uint32(p[2]) + 1<<15) >> 16)
	}
	return g
}

// encodeJPEG encodes img (an *image.RGBA view or an *image.Gray) as a JPEG.
func encodeJPEG(img image.Image, quality int) ([]byte, error) {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: quality}); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func clamp8(v float64) uint8 {
	return uint8(min(max(v+0.5, 0), 255))
}
