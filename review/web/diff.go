package web

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"math"

	"golang.org/x/image/draw"

	"github.com/aura-art/aura/hashing"
	"github.com/aura-art/aura/verdict"
)

// Limits of the difference view.
const (
	// diffSide is the long side of the difference picture.
	diffSide = 256
	// maxThumbSide caps a thumbnail's sides before it is decoded (a small JPEG can claim a
	// huge size).
	maxThumbSide = 2048
)

var errBadThumb = errors.New("thumbnail is not a JPEG of at most 2048×2048 pixels")

// decodeThumb decodes a JPEG thumbnail after checking its size.
func decodeThumb(b []byte) (*image.RGBA, error) {
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(b))
	if err != nil || cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width > maxThumbSide || cfg.Height > maxThumbSide {
		return nil, errBadThumb
	}
	img, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errBadThumb, err)
	}
	return toRGBA(img), nil
}

func toRGBA(img image.Image) *image.RGBA {
	if r, ok := img.(*image.RGBA); ok && r.Bounds().Min == (image.Point{}) {
		return r
	}
	b := img.Bounds()
	out := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(out, out.Bounds(), img, b.Min, draw.Src)
	return out
}

// diffPNG renders |upload − work| as a PNG: the work is cropped to the match's region,
// rotated by its angle and turned by its orientation (so it shows what the upload shows),
// both pictures are resized to the upload's aspect with a long side of diffSide pixels, and
// each pixel is the absolute difference of each channel, amplified diffGain times. Black is
// where they agree.
func diffPNG(upload, work []byte, m verdict.Match) ([]byte, error) {
	u, err := decodeThumb(upload)
	if err != nil {
		return nil, fmt.Errorf("upload: %w", err)
	}
	wk, err := decodeThumb(work)
	if err != nil {
		return nil, fmt.Errorf("work: %w", err)
	}
	view := workAsUpload(wk, m)
	ub := u.Bounds()
	w, h := diffSide, diffSide
	if ub.Dx() >= ub.Dy() {
		h = max(1, int(math.Round(float64(diffSide)*float64(ub.Dy())/float64(ub.Dx()))))
	} else {
		w = max(1, int(math.Round(float64(diffSide)*float64(ub.Dx())/float64(ub.Dy()))))
	}
	a := image.NewRGBA(image.Rect(0, 0, w, h))
	b := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.BiLinear.Scale(a, a.Bounds(), u, ub, draw.Src, nil)
	draw.BiLinear.Scale(b, b.Bounds(), view, view.Bounds(), draw.Src, nil)
	out := absDiff(a, b)
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(&buf, out); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// workAsUpload applies a match's variant to the work: its region, then its rotation, then its
// orientation, as hashing.Variant orders them.
func workAsUpload(img *image.RGBA, m verdict.Match) *image.RGBA {
	out := img
	if r := m.Region; !r.IsFull() {
		out = cropPercent(out, r)
	}
	if m.Angle != 0 {
		out = rotateInner(out, float64(m.Angle))
	}
	return hashing.OrientRGBA(out, lookupOrientation(m.Orientation).o)
}

// cropPercent returns the region of img given in percent, at least one pixel on a side.
func cropPercent(img *image.RGBA, r hashing.Region) *image.RGBA {
	w, h := img.Bounds().Dx(), img.Bounds().Dy()
	x0, y0 := int(r.X)*w/100, int(r.Y)*h/100
	x1, y1 := (int(r.X)+int(r.W))*w/100, (int(r.Y)+int(r.H))*h/100
	rect := image.Rect(x0, y0, max(x1, x0+1), max(y1, y0+1)).Intersect(img.Bounds())
	if rect.Empty() {
		return img
	}
	return toRGBA(img.SubImage(rect))
}

// rotateInner rotates img anticlockwise by deg degrees about its centre and keeps the
// largest upright rectangle of the same aspect inside it, as hashing does for a rotated view.
func rotateInner(img *image.RGBA, deg float64) *image.RGBA {
	w, h := float64(img.Bounds().Dx()), float64(img.Bounds().Dy())
	th := deg * math.Pi / 180
	sin, cos := math.Abs(math.Sin(th)), math.Abs(math.Cos(th))
	k := math.Min(w/(w*cos+h*sin), h/(w*sin+h*cos))
	ow, oh := max(1, int(w*k)), max(1, int(h*k))
	out := image.NewRGBA(image.Rect(0, 0, ow, oh))
	s, c := math.Sin(th), math.Cos(th)
	for v := range oh {
		for u := range ow {
			x := float64(u) + 0.5 - float64(ow)/2
			y := float64(v) + 0.5 - float64(oh)/2
			// Image y points down, so anticlockwise on screen is clockwise here.
			sx := c*x - s*y + w/2 - 0.5
			sy := s*x + c*y + h/2 - 0.5
			bilinearRGBA(img, sx, sy, out.Pix[out.PixOffset(u, v):])
		}
	}
	return out
}

// bilinearRGBA samples img at a real position, clamped to its edges, into dst[0:4].
func bilinearRGBA(img *image.RGBA, x, y float64, dst []uint8) {
	w, h := img.Bounds().Dx(), img.Bounds().Dy()
	x = math.Max(0, math.Min(float64(w-1), x))
	y = math.Max(0, math.Min(float64(h-1), y))
	x0, y0 := int(x), int(y)
	x1, y1 := min(x0+1, w-1), min(y0+1, h-1)
	fx, fy := x-float64(x0), y-float64(y0)
	for ch := range 4 {
		p := func(x, y int) float64 { return float64(img.Pix[img.PixOffset(x, y)+ch]) }
		top := p(x0, y0)*(1-fx) + p(x1, y0)*fx
		bot := p(x0, y1)*(1-fx) + p(x1, y1)*fx
		dst[ch] = uint8(math.Round(top*(1-fy) + bot*fy))
	}
}

// diffGain multiplies the difference so that the small differences of a re-encoded or
// recoloured copy show; a difference of a quarter of the range or more is white.
const diffGain = 4

// absDiff returns the per-channel absolute difference of two pictures of one size, times
// diffGain (clamped), opaque.
func absDiff(a, b *image.RGBA) *image.RGBA {
	out := image.NewRGBA(a.Bounds())
	for i := 0; i < len(out.Pix); i += 4 {
		for ch := range 3 {
			x, y := int(a.Pix[i+ch]), int(b.Pix[i+ch])
			out.Pix[i+ch] = uint8(min(255, diffGain*max(x-y, y-x)))
		}
		out.Pix[i+3] = 255
	}
	return out
}
