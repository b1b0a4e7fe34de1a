package eval

import (
	"bytes"
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"slices"
	"sync"

	// Decoders for Decode.
	_ "image/gif"
	_ "image/jpeg"
	_ "image/png"
)

// Transform is one edit a copier might make to a picture.
type Transform struct {
	// Name is the transform's stable id in snake_case, e.g. "jpeg_q30", "crop_80_offcentre".
	Name string
	// Group is the family the transform is reported under: one of "jpeg", "resize", "aspect",
	// "crop", "crop_heavy", "flip", "rotate90", "rotate_small", "rotate_15", "brightness",
	// "contrast", "gamma", "saturation", "hue", "greyscale", "blur", "noise", "caption",
	// "watermark", "logo", "pad", "letterbox", "screenshot", "chain".
	Group string
	// Apply edits src and returns the encoded file a copier would upload: a JPEG of quality 90
	// unless the transform says otherwise. It does not modify src. rng is seeded by the caller
	// per (image, transform) and is the only source of randomness, so equal seeds give equal
	// bytes. Apply is safe for concurrent use with distinct rngs.
	Apply func(src image.Image, rng *rand.Rand) ([]byte, error)
}

// Transforms returns every transform, in a stable order.
func Transforms() []Transform { return slices.Clone(transforms) }

// ByName returns the transform with that name.
func ByName(name string) (Transform, bool) {
	i := slices.IndexFunc(transforms, func(t Transform) bool { return t.Name == name })
	if i < 0 {
		return Transform{}, false
	}
	return transforms[i], true
}

// Decode decodes a JPEG, PNG or GIF file, such as the output of Apply.
func Decode(b []byte) (image.Image, error) {
	img, _, err := image.Decode(bytes.NewReader(b))
	return img, err
}

var black = color.NRGBA{0, 0, 0, 255}

var transforms = []Transform{
	newTransform("jpeg_q95", "jpeg", jpegAt(95)),
	newTransform("jpeg_q50", "jpeg", jpegAt(50)),
	newTransform("jpeg_q30", "jpeg", jpegAt(30)),

	newTransform("resize_50", "resize", q90, scale(0.5, 0.5)),
	newTransform("resize_25", "resize", q90, scale(0.25, 0.25)),
	newTransform("aspect_4_3_to_wide", "aspect", q90, scale(1.3, 1)),
	newTransform("aspect_squash", "aspect", q90, scale(1, 0.75)),

	newTransform("crop_95", "crop", q90, centreCrop(0.95)),
	newTransform("crop_80", "crop", q90, centreCrop(0.80)),
	newTransform("crop_80_offcentre", "crop", q90, randomCrop(0.80)),
	newTransform("crop_60", "crop_heavy", q90, centreCrop(0.60)),

	newTransform("flip_h", "flip", q90, flipH),
	newTransform("flip_v", "flip", q90, flipV),
	newTransform("rotate_90", "rotate90", q90, rotate90),
	newTransform("rotate_180", "rotate90", q90, rotate180),
	newTransform("rotate_270", "rotate90", q90, rotate270),
	newTransform("rotate_2", "rotate_small", q90, straighten(2)),
	newTransform("rotate_4", "rotate_small", q90, straighten(4)),
	newTransform("rotate_4_fill", "rotate_small", q90, rotateFill(4)),
	newTransform("rotate_15", "rotate_15", q90, straighten(15)),

	newTransform("brightness_up30", "brightness", q90, curve(func(v float64) float64 { return v * 1.3 })),
	newTransform("brightness_down30", "brightness", q90, curve(func(v float64) float64 { return v * 0.7 })),
	newTransform("contrast_07", "contrast", q90, curve(contrast(0.7))),
	newTransform("contrast_13", "contrast", q90, curve(contrast(1.3))),
	newTransform("gamma_05", "gamma", q90, curve(gamma(0.5))),
	newTransform("gamma_2", "gamma", q90, curve(gamma(2))),
	newTransform("saturation_0", "saturation", q90, matrix(saturate(0))),
	newTransform("saturation_15", "saturation", q90, matrix(saturate(1.5))),
	newTransform("hue_shift", "hue", q90, matrix(hueRotate(90))),
	newTransform("greyscale", "greyscale", greyJPEG),

	newTransform("blur_2", "blur", q90, blur(2)),
	newTransform("noise", "noise", q90, noise(12)),

	newTransform("caption", "caption", q90, caption),
	newTransform("watermark_tiled", "watermark", q90, watermark),
	newTransform("logo_10", "logo", q90, logo),
	newTransform("pad_10_white", "pad", q90, pad(0.10, white)),
	newTransform("pad_20_white", "pad", q90, pad(0.20, white)),
	newTransform("pad_10_black", "pad", q90, pad(0.10, black)),
	newTransform("pad_20_black", "pad", q90, pad(0.20, black)),
	newTransform("letterbox_16_9", "letterbox", q90, letterbox),
	newTransform("screenshot", "screenshot", jpegAt(85), screenshot),

	newTransform("chain_crop_jpeg", "chain", jpegAt(50), randomCrop(0.80)),
	newTransform("chain_flip_resize", "chain", q90, flipH, scale(0.5, 0.5)),
	newTransform("chain_rotate_caption", "chain", q90, straighten(4), caption),
	newTransform("chain_screenshot_jpeg", "chain", resaved(85, 50), screenshot),
}

// A step is one pixel-level edit. It may change img in place and return it, or return a new
// image; either way the result is opaque, tightly packed, with its origin at (0, 0).
type step func(img *image.NRGBA, rng *rand.Rand) *image.NRGBA

// An encoder writes the final image as a file.
type encoder func(img *image.NRGBA) ([]byte, error)

// newTransform returns the transform that runs steps in order on a copy of its input and
// encodes the result with enc.
func newTransform(name, group string, enc encoder, steps ...step) Transform {
	return Transform{Name: name, Group: group, Apply: func(src image.Image, rng *rand.Rand) ([]byte, error) {
		img := toNRGBA(src)
		for _, s := range steps {
			img = s(img, rng)
		}
		return enc(img)
	}}
}

// Encoders.

var q90 = jpegAt(90)

// jpegAt saves a colour JPEG of the given quality.
func jpegAt(quality int) encoder {
	return func(img *image.NRGBA) ([]byte, error) { return encodeJPEG(rgbaView(img), quality) }
}

// greyJPEG saves the Rec. 601 luma as a single-channel JPEG of quality 90.
func greyJPEG(img *image.NRGBA) ([]byte, error) { return encodeJPEG(toGrey(img), 90) }

// resaved saves a JPEG of quality first, as an earlier copier did, then decodes it and saves
// the result again at quality then.
func resaved(first, then int) encoder {
	return func(img *image.NRGBA) ([]byte, error) {
		b, err := jpegAt(first)(img)
		if err != nil {
			return nil, err
		}
		dec, err := Decode(b)
		if err != nil {
			return nil, err
		}
		return jpegAt(then)(toNRGBA(dec))
	}
}

// Geometry.

// scale resizes by fx horizontally and fy vertically, to no less than 32 pixels a side (or the
// original size, if smaller).
func scale(fx, fy float64) step {
	return func(img *image.NRGBA, _ *rand.Rand) *image.NRGBA {
		w, h := img.Rect.Dx(), img.Rect.Dy()
		return resample(img, max(round(fx*float64(w)), min(w, 32)), max(round(fy*float64(h)), min(h, 32)))
	}
}

// centreCrop keeps the middle fraction f of each side.
func centreCrop(f float64) step {
	return func(img *image.NRGBA, _ *rand.Rand) *image.NRGBA {
		w, h := img.Rect.Dx(), img.Rect.Dy()
		cw, ch := round(f*float64(w)), round(f*float64(h))
		return crop(img, image.Rect(0, 0, cw, ch).Add(image.Pt((w-cw)/2, (h-ch)/2)))
	}
}

// randomCrop keeps fraction f of each side at an offset drawn uniformly from all that fit.
func randomCrop(f float64) step {
	return func(img *image.NRGBA, rng *rand.Rand) *image.NRGBA {
		w, h := img.Rect.Dx(), img.Rect.Dy()
		cw, ch := round(f*float64(w)), round(f*float64(h))
		return crop(img, image.Rect(0, 0, cw, ch).Add(image.Pt(rng.IntN(w-cw+1), rng.IntN(h-ch+1))))
	}
}

// flipH mirrors the picture left to right.
func flipH(img *image.NRGBA, _ *rand.Rand) *image.NRGBA {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	return remap(img, w, h, func(x, y int) (int, int) { return w - 1 - x, y })
}

// flipV mirrors the picture top to bottom.
func flipV(img *image.NRGBA, _ *rand.Rand) *image.NRGBA {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	return remap(img, w, h, func(x, y int) (int, int) { return x, h - 1 - y })
}

// rotate90 turns the picture a quarter turn clockwise.
func rotate90(img *image.NRGBA, _ *rand.Rand) *image.NRGBA {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	return remap(img, h, w, func(x, y int) (int, int) { return y, h - 1 - x })
}

// rotate180 turns the picture upside down.
func rotate180(img *image.NRGBA, _ *rand.Rand) *image.NRGBA {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	return remap(img, w, h, func(x, y int) (int, int) { return w - 1 - x, h - 1 - y })
}

// rotate270 turns the picture a quarter turn anticlockwise.
func rotate270(img *image.NRGBA, _ *rand.Rand) *image.NRGBA {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	return remap(img, h, w, func(x, y int) (int, int) { return w - 1 - y, x })
}

// straighten turns the picture deg degrees anticlockwise about its centre and crops it, as a
// photo editor's straighten tool does, to the largest centred rectangle of the original aspect
// ratio that lies wholly inside the turned picture.
func straighten(deg float64) step {
	return func(img *image.NRGBA, _ *rand.Rand) *image.NRGBA {
		w, h := float64(img.Rect.Dx()), float64(img.Rect.Dy())
		sin, cos := math.Sincos(deg * math.Pi / 180)
		sin, cos = math.Abs(sin), math.Abs(cos)
		// A centred k·w × k·h rectangle fits when its corners, turned back, lie in the picture.
		k := min(w/(w*cos+h*sin), h/(w*sin+h*cos))
		cw, ch := int(k*w), int(k*h)
		return warp(img, cw, ch, rotation(img.Rect.Dx(), img.Rect.Dy(), cw, ch, deg), black)
	}
}

// rotateFill turns the picture deg degrees anticlockwise about its centre on a canvas of the
// same size, filling the uncovered corners with black.
func rotateFill(deg float64) step {
	return func(img *image.NRGBA, _ *rand.Rand) *image.NRGBA {
		w, h := img.Rect.Dx(), img.Rect.Dy()
		return warp(img, w, h, rotation(w, h, w, h, deg), black)
	}
}

// pad adds a border of colour c on every side, fraction f of the side's length thick: pad(0.1)
// turns w×h into 1.2w × 1.2h.
func pad(f float64, c color.NRGBA) step {
	return func(img *image.NRGBA, _ *rand.Rand) *image.NRGBA {
		w, h := img.Rect.Dx(), img.Rect.Dy()
		bx, by := round(f*float64(w)), round(f*float64(h))
		canvas := newCanvas(w+2*bx, h+2*by, c)
		paste(canvas, img, image.Pt(bx, by))
		return canvas
	}
}

// letterbox centres the picture on the smallest black 16:9 canvas that holds it: bars above and
// below a picture wider than 16:9, at its sides otherwise.
func letterbox(img *image.NRGBA, _ *rand.Rand) *image.NRGBA {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	cw, ch := w, h
	if 9*w > 16*h {
		ch = round(float64(w) * 9 / 16)
	} else {
		cw = round(float64(h) * 16 / 9)
	}
	canvas := newCanvas(cw, ch, black)
	paste(canvas, img, image.Pt((cw-w)/2, (ch-h)/2))
	return canvas
}

// Colour.

// curve applies f to each of R, G and B (0..255; results are clamped).
func curve(f func(v float64) float64) step {
	return func(img *image.NRGBA, _ *rand.Rand) *image.NRGBA {
		mapChannels(img, f)
		return img
	}
}

// contrast scales the distance from mid-grey by k.
func contrast(k float64) func(float64) float64 {
	return func(v float64) float64 { return (v-128)*k + 128 }
}

// gamma raises the value, as a fraction of 255, to the power g.
func gamma(g float64) func(float64) float64 {
	return func(v float64) float64 { return 255 * math.Pow(v/255, g) }
}

// matrix multiplies each pixel's (R, G, B) by m.
func matrix(m [3][3]float64) step {
	return func(img *image.NRGBA, _ *rand.Rand) *image.NRGBA {
		colourMatrix(img, m)
		return img
	}
}

// saturate mixes each colour with its luma: luma + s·(c − luma), the matrix of CSS's
// saturate() filter (Rec. 709 luma).
func saturate(s float64) [3][3]float64 {
	luma := [3]float64{0.2126, 0.7152, 0.0722}
	var m [3][3]float64
	for i := range m {
		for j := range m[i] {
			m[i][j] = (1 - s) * luma[j]
			if i == j {
				m[i][j] += s
			}
		}
	}
	return m
}

// hueRotate turns hues by deg degrees, keeping luma: the matrix of CSS's hue-rotate() filter.
func hueRotate(deg float64) [3][3]float64 {
	sin, cos := math.Sincos(deg * math.Pi / 180)
	return [3][3]float64{
		{0.213 + cos*0.787 - sin*0.213, 0.715 - cos*0.715 - sin*0.715, 0.072 - cos*0.072 + sin*0.928},
		{0.213 - cos*0.213 + sin*0.143, 0.715 + cos*0.285 + sin*0.140, 0.072 - cos*0.072 - sin*0.283},
		{0.213 - cos*0.213 - sin*0.787, 0.715 - cos*0.715 + sin*0.715, 0.072 + cos*0.928 + sin*0.072},
	}
}

// Filters.

// blur is a separable Gaussian blur of standard deviation sigma pixels.
func blur(sigma float64) step {
	return func(img *image.NRGBA, _ *rand.Rand) *image.NRGBA { return gaussianBlur(img, sigma) }
}

// noise adds independent Gaussian noise of standard deviation sigma (of 255) to each of R, G
// and B. Since pixel values are integers, rounding v + sigma·z equals v + round(sigma·z); the
// rounded offsets are looked up by inverse CDF from 16 random bits, four channels per Uint64.
func noise(sigma float64) step {
	table := sync.OnceValue(func() *[1 << 16]int8 {
		var t [1 << 16]int8
		for i := range t {
			p := (float64(i) + 0.5) / (1 << 16)
			t[i] = int8(math.Round(sigma * math.Sqrt2 * math.Erfinv(2*p-1)))
		}
		return &t
	})
	return func(img *image.NRGBA, rng *rand.Rand) *image.NRGBA {
		t := table()
		var bits uint64
		for i, n := 0, 0; i < len(img.Pix); i++ {
			if i%4 == 3 {
				continue // alpha
			}
			if n%4 == 0 {
				bits = rng.Uint64()
			}
			img.Pix[i] = uint8(min(max(int(img.Pix[i])+int(t[uint16(bits)]), 0), 255))
			bits >>= 16
			n++
		}
		return img
	}
}

func round(v float64) int { return int(math.Round(v)) }
