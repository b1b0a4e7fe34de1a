package hashing

import (
	"image"
	"image/color"
	"math"
)

// Luma weights (ITU-R BT.601), the same weights a JPEG encoder uses for its Y plane, so a
// JPEG decoded straight to gray and a PNG converted here agree.
const (
	lumaR = 0.299
	lumaG = 0.587
	lumaB = 0.114
)

// background is the luma that transparent pixels are flattened onto: white.
const background = 255.0

// axisWeights maps one axis of a resampling: output i reads source indexes lo[i], lo[i]+1, ...
// with weights w[i]. Downscaling averages each output pixel over its area in the source (a
// box filter with fractional edges); upscaling interpolates linearly.
type axisWeights struct {
	lo []int
	w  [][]float32
}

func newAxisWeights(in, out int) axisWeights {
	aw := axisWeights{lo: make([]int, out), w: make([][]float32, out)}
	scale := float64(in) / float64(out)
	for i := range out {
		if scale <= 1 {
			c := (float64(i)+0.5)*scale - 0.5
			lo := int(math.Floor(c))
			f := float32(c - float64(lo))
			switch {
			case lo < 0:
				aw.lo[i], aw.w[i] = 0, []float32{1}
			case lo >= in-1:
				aw.lo[i], aw.w[i] = in-1, []float32{1}
			default:
				aw.lo[i], aw.w[i] = lo, []float32{1 - f, f}
			}
			continue
		}
		a, b := float64(i)*scale, float64(i+1)*scale
		lo, hi := int(math.Floor(a)), int(math.Ceil(b))
		if hi > in {
			hi = in
		}
		ws := make([]float32, hi-lo)
		for j := lo; j < hi; j++ {
			ws[j-lo] = float32((math.Min(b, float64(j+1)) - math.Max(a, float64(j))) / scale)
		}
		aw.lo[i], aw.w[i] = lo, ws
	}
	return aw
}

// lumaReader writes the luma of source row y (relative to the image's bounds), alpha
// flattened onto white, into dst, which has one element per source column.
type lumaReader func(y int, dst []float32)

// newLumaReader picks a fast row reader for the common concrete image types and a generic
// one for the rest. It never indexes a palette out of range: missing entries read as the
// background.
func newLumaReader(src image.Image) lumaReader {
	b := src.Bounds()
	w := b.Dx()
	switch m := src.(type) {
	case *image.Gray:
		return func(y int, dst []float32) {
			row := m.Pix[y*m.Stride : y*m.Stride+w]
			for x, v := range row {
				dst[x] = float32(v)
			}
		}
	case *image.YCbCr:
		return func(y int, dst []float32) {
			row := m.Y[y*m.YStride : y*m.YStride+w]
			for x, v := range row {
				dst[x] = float32(v)
			}
		}
	case *image.NYCbCrA:
		return func(y int, dst []float32) {
			row := m.Y[y*m.YStride : y*m.YStride+w]
			arow := m.A[y*m.AStride : y*m.AStride+w]
			for x, v := range row {
				a := float32(arow[x]) / 255
				dst[x] = float32(v)*a + background*(1-a)
			}
		}
	case *image.RGBA:
		return func(y int, dst []float32) {
			row := m.Pix[y*m.Stride : y*m.Stride+4*w]
			for x := range w {
				p := row[4*x : 4*x+4 : 4*x+4]
				a := float32(p[3]) / 255
				dst[x] = lumaR*float32(p[0]) + lumaG*float32(p[1]) + lumaB*float32(p[2]) + background*(1-a)
			}
		}
	case *image.NRGBA:
		return func(y int, dst []float32) {
			row := m.Pix[y*m.Stride : y*m.Stride+4*w]
			for x := range w {
				p := row[4*x : 4*x+4 : 4*x+4]
				a := float32(p[3]) / 255
				dst[x] = (lumaR*float32(p[0])+lumaG*float32(p[1])+lumaB*float32(p[2]))*a + background*(1-a)
			}
		}
	case *image.Paletted:
		var lut [256]float32
		for i := range lut {
			lut[i] = background
		}
		for i, c := range m.Palette {
			if i >= len(lut) {
				break
			}
			lut[i] = lumaOf(c)
		}
		return func(y int, dst []float32) {
			row := m.Pix[y*m.Stride : y*m.Stride+w]
			for x, v := range row {
				dst[x] = lut[v]
			}
		}
	default:
		return func(y int, dst []float32) {
			for x := range w {
				dst[x] = lumaOf(src.At(b.Min.X+x, b.Min.Y+y))
			}
		}
	}
}

// lumaOf converts one colour to luma in [0, 255], flattened onto the background.
func lumaOf(c color.Color) float32 {
	if c == nil {
		return background
	}
	r, g, bl, a := c.RGBA() // alpha-premultiplied, 16 bit
	l := (lumaR*float32(r) + lumaG*float32(g) + lumaB*float32(bl)) / 257
	return l + background*(1-float32(a)/0xffff)
}

// fitWithin returns the size of a w×h picture scaled so that its longer side is at most
// maxSide, never upscaled, and never smaller than one pixel.
func fitWithin(w, h, maxSide int) (int, int) {
	if w <= maxSide && h <= maxSide {
		return w, h
	}
	if w >= h {
		return maxSide, max(1, int(math.Round(float64(h)*float64(maxSide)/float64(w))))
	}
	return max(1, int(math.Round(float64(w)*float64(maxSide)/float64(h)))), maxSide
}

// shrinkToGray converts src to 8-bit luma and downscales it with an area filter, in one pass
// over the source rows, so that its longer side is at most maxSide.
func shrinkToGray(src image.Image, maxSide int) *image.Gray {
	b := src.Bounds()
	ow, oh := fitWithin(b.Dx(), b.Dy(), maxSide)
	out := resample(newLumaReader(src), b.Dx(), b.Dy(), ow, oh)
	return toGray(out, ow, oh)
}

// resample reads an in × ih picture row by row and resamples it to ow × oh, returning the
// result as row-major floats.
func resample(read lumaReader, iw, ih, ow, oh int) []float32 {
	xs, ys := newAxisWeights(iw, ow), newAxisWeights(ih, oh)
	// For each source row, the output rows it feeds and with what weight.
	type feed struct {
		row int
		w   float32
	}
	feeds := make([][]feed, ih)
	for i := range oh {
		for k, w := range ys.w[i] {
			j := ys.lo[i] + k
			feeds[j] = append(feeds[j], feed{i, w})
		}
	}
	out := make([]float32, ow*oh)
	src := make([]float32, iw)
	hrow := make([]float32, ow)
	for y := range ih {
		if len(feeds[y]) == 0 {
			continue
		}
		read(y, src)
		for i := range ow {
			var s float32
			lo := xs.lo[i]
			for k, w := range xs.w[i] {
				s += w * src[lo+k]
			}
			hrow[i] = s
		}
		for _, f := range feeds[y] {
			dst := out[f.row*ow : (f.row+1)*ow]
			for i, v := range hrow {
				dst[i] += f.w * v
			}
		}
	}
	return out
}

// grayRegionReader reads rows of a rectangle of a gray image as floats.
func grayRegionReader(g *image.Gray, r image.Rectangle) lumaReader {
	return func(y int, dst []float32) {
		off := g.PixOffset(r.Min.X, r.Min.Y+y)
		for x, v := range g.Pix[off : off+r.Dx()] {
			dst[x] = float32(v)
		}
	}
}

// toGray rounds and clamps floats into an 8-bit gray image.
func toGray(px []float32, w, h int) *image.Gray {
	g := image.NewGray(image.Rect(0, 0, w, h))
	for i, v := range px {
		g.Pix[i] = clamp8(v)
	}
	return g
}

func clamp8(v float32) uint8 {
	switch {
	case v <= 0:
		return 0
	case v >= 255:
		return 255
	default:
		return uint8(v + 0.5)
	}
}
