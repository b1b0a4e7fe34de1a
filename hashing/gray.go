package hashing

import (
	"image"
	"image/color"
	"math"
	"sync"
	"sync/atomic"
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
	// feeds[j] are the outputs that source index j contributes to, with their weights: the
	// same weights, indexed the other way, for reading the source a row at a time.
	feeds [][]feed
	// taps is the most weights of an output, and padded holds every output's weights padded
	// with zeros to taps, reading from padLo[i]: zeros before or after the weights change no
	// sum (s + 0·x is s), so the padded sums are the same numbers, without a loop of its
	// own length per output. An output's weights read indexes inside the source, so taps is
	// never more than the source's length and the padded window always fits in it.
	taps   int
	padded []float32
	padLo  []int
}

// feed is one output that a source index contributes to.
type feed struct {
	out int
	w   float32
}

func newAxisWeights(in, out int) *axisWeights {
	aw := &axisWeights{lo: make([]int, out), w: make([][]float32, out), feeds: make([][]feed, in)}
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
	for i, ws := range aw.w {
		for k, w := range ws {
			j := aw.lo[i] + k
			aw.feeds[j] = append(aw.feeds[j], feed{i, w})
		}
		aw.taps = max(aw.taps, len(ws))
	}
	aw.padded, aw.padLo = make([]float32, out*aw.taps), make([]int, out)
	for i, ws := range aw.w {
		lo, pad := aw.lo[i], aw.taps-len(ws)
		dst := aw.padded[i*aw.taps : (i+1)*aw.taps]
		if lo+aw.taps <= in {
			copy(dst, ws) // zeros after
		} else {
			copy(dst[pad:], ws) // zeros before
			lo -= pad
		}
		aw.padLo[i] = lo
	}
	return aw
}

// Resamplings of views repeat the same few sizes, so their axis weights are kept: up to
// maxCachedAxes pairs of sizes, each at most maxCachedSide.
const (
	maxCachedAxes = 1024
	maxCachedSide = 512
)

var (
	axes      sync.Map // in<<16 | out → *axisWeights
	axesCount atomic.Int32
)

// axisFor returns the weights of resampling in source pixels to out.
func axisFor(in, out int) *axisWeights {
	if in > maxCachedSide || out > maxCachedSide {
		return newAxisWeights(in, out)
	}
	key := in<<16 | out
	if aw, ok := axes.Load(key); ok {
		return aw.(*axisWeights)
	}
	aw := newAxisWeights(in, out)
	if axesCount.Load() < maxCachedAxes {
		if _, loaded := axes.LoadOrStore(key, aw); !loaded {
			axesCount.Add(1)
		}
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
	src := make([]float32, iw)
	return resampleRows(func(y int) []float32 { read(y, src); return src }, iw, ih, ow, oh)
}

// resampleRows is resample reading each source row as a slice of iw floats, which it does not
// modify or keep.
func resampleRows(row func(y int) []float32, iw, ih, ow, oh int) []float32 {
	xs, ys := axisFor(iw, ow), axisFor(ih, oh)
	out := make([]float32, ow*oh)
	hrow := make([]float32, ow)
	for y := range ih {
		if len(ys.feeds[y]) == 0 {
			continue
		}
		src := row(y)
		switch t := xs.taps; t {
		case 4:
			for i, lo := range xs.padLo {
				in := src[lo : lo+4 : lo+4]
				w := xs.padded[i*4 : i*4+4 : i*4+4]
				hrow[i] = w[0]*in[0] + w[1]*in[1] + w[2]*in[2] + w[3]*in[3]
			}
		case 5:
			for i, lo := range xs.padLo {
				in := src[lo : lo+5 : lo+5]
				w := xs.padded[i*5 : i*5+5 : i*5+5]
				hrow[i] = w[0]*in[0] + w[1]*in[1] + w[2]*in[2] + w[3]*in[3] + w[4]*in[4]
			}
		default:
			for i, lo := range xs.padLo {
				in := src[lo : lo+t]
				ws := xs.padded[i*t : i*t+t]
				ws = ws[:len(in)]
				var s float32
				for k, w := range ws {
					s += w * in[k]
				}
				hrow[i] = s
			}
		}
		for _, f := range ys.feeds[y] {
			dst := out[f.out*ow : (f.out+1)*ow]
			for i, v := range hrow {
				dst[i] += f.w * v
			}
		}
	}
	return out
}

// floatsOf returns the pixels of g, which has its origin at (0, 0), as floats, row by row.
func floatsOf(g *image.Gray) []float32 {
	w, h := g.Bounds().Dx(), g.Bounds().Dy()
	out := make([]float32, w*h)
	for y := range h {
		for x, v := range g.Pix[y*g.Stride : y*g.Stride+w] {
			out[y*w+x] = float32(v)
		}
	}
	return out
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
