package hashing_test

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"

	"github.com/aura-art/aura/hashing"
)

// A registered work and a mirrored, recompressed copy of it: the copy matches, and the
// evidence says it was mirrored.
func Example() {
	work := image.NewRGBA(image.Rect(0, 0, 320, 240))
	for y := range 240 {
		for x := range 320 {
			work.Set(x, y, color.RGBA{uint8(x * y % 251), uint8(x ^ y), uint8(3 * y), 255})
		}
	}
	mirrored := image.NewRGBA(work.Bounds())
	for y := range 240 {
		for x := range 320 {
			mirrored.Set(319-x, y, work.At(x, y))
		}
	}
	encode := func(m image.Image, q int) []byte {
		var b bytes.Buffer
		jpeg.Encode(&b, m, &jpeg.Options{Quality: q})
		return b.Bytes()
	}
	cfg := hashing.DefaultConfig()
	reg, err := cfg.Decode(encode(work, 95))
	if err != nil {
		panic(err)
	}
	up, err := cfg.Decode(encode(mirrored, 60))
	if err != nil {
		panic(err)
	}
	m := hashing.Compare(up.Fingerprint(hashing.Query), reg.Fingerprint(hashing.Reference))
	fmt.Println(m.Upload.Orientation, hashing.DefaultThresholds.Accept(m, false))
	// Output: mirror true
}
