package hashing

import (
	"image"
	"image/color"
	"testing"
)

// TestDecodeForDisplay checks that a JPEG is decoded in colour at a reduced scale, no smaller
// than asked, when libturbojpeg is used, and at full size by Go's decoder otherwise.
func TestDecodeForDisplay(t *testing.T) {
	t.Parallel()
	m := image.NewRGBA(image.Rect(0, 0, 2000, 1500))
	for y := range 1500 {
		for x := range 2000 {
			c := color.RGBA{200, 30, 30, 255} // red left, blue right
			if x >= 1000 {
				c = color.RGBA{30, 30, 200, 255}
			}
			m.SetRGBA(x, y, c)
		}
	}
	data := encodeJPEG(t, m, 90)
	check := func(img image.Image, wantW int) {
		t.Helper()
		b := img.Bounds()
		if wantW > 0 && b.Dx() != wantW {
			t.Errorf("decoded %v, want width %d", b, wantW)
		}
		if d := b.Dy()*4 - b.Dx()*3; b.Dx() < 512 || d < -4 || d > 4 {
			t.Errorf("decoded %v: smaller than asked or out of proportion", b)
		}
		left := color.RGBAModel.Convert(img.At(b.Min.X+b.Dx()/4, b.Min.Y+b.Dy()/2)).(color.RGBA)
		right := color.RGBAModel.Convert(img.At(b.Min.X+3*b.Dx()/4, b.Min.Y+b.Dy()/2)).(color.RGBA)
		if left.R < 150 || left.B > 80 || right.B < 150 || right.R > 80 {
			t.Errorf("colours lost: left %v, right %v", left, right)
		}
	}
	slow := DefaultConfig()
	slow.FastJPEG = false
	img, err := slow.DecodeForDisplay(data, 512)
	if err != nil {
		t.Fatal(err)
	}
	check(img, 2000)
	if !turboAvailable() {
		t.Skip("libturbojpeg not installed (apt-get install libturbojpeg0): the reduced decode is not tested")
	}
	img, err = DefaultConfig().DecodeForDisplay(data, 512)
	if err != nil {
		t.Fatal(err)
	}
	check(img, 750) // the smallest scale at least 512 wide: 1/4 gives 500, 3/8 gives 750
}
