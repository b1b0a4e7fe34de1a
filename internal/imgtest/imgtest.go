// Package imgtest derives the copies a forger makes from synth's test pictures: mirrored,
// cropped and re-encoded JPEGs, so tests of registration and checking can build their
// fixtures in memory. It is for tests only.
package imgtest

import (
	"bytes"
	"image"
	"image/draw"
	"image/jpeg"

	"github.com/aura-art/aura/internal/synth"
)

// Photo returns a w×h photo-like JPEG at quality 90 (synth.JPEG).
func Photo(w, h int, seed uint64) []byte { return synth.JPEG(w, h, seed, 90) }

// Mirrored returns Photo(w, h, seed) flipped left to right, as a JPEG at quality 90.
func Mirrored(w, h int, seed uint64) []byte {
	src := synth.Photo(w, h, seed)
	dst := image.NewRGBA(src.Bounds())
	for y := range h {
		for x := range w {
			copy(dst.Pix[dst.PixOffset(w-1-x, y):][:4], src.Pix[src.PixOffset(x, y):][:4])
		}
	}
	return encode(dst, 90)
}

// Cropped returns the centre 80% of Photo(w, h, seed), as a JPEG at quality 90.
func Cropped(w, h int, seed uint64) []byte {
	src := synth.Photo(w, h, seed)
	r := image.Rect(w/10, h/10, w-w/10, h-h/10)
	dst := image.NewRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
	draw.Draw(dst, dst.Bounds(), src, r.Min, draw.Src)
	return encode(dst, 90)
}

// Reencoded returns Photo(w, h, seed) encoded at another quality: the same picture in
// other bytes.
func Reencoded(w, h int, seed uint64, quality int) []byte {
	return encode(synth.Photo(w, h, seed), quality)
}

func encode(m image.Image, quality int) []byte {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, m, &jpeg.Options{Quality: quality}); err != nil {
		panic(err) // encoding to memory cannot fail
	}
	return b.Bytes()
}
