package synth

import (
	"bytes"
	"image/jpeg"
	"testing"
)

func TestJPEGIsDecodableAndReproducible(t *testing.T) {
	a, b := JPEG(300, 200, 1, 90), JPEG(300, 200, 1, 90)
	if !bytes.Equal(a, b) {
		t.Fatal("same seed gave different bytes")
	}
	if bytes.Equal(a, JPEG(300, 200, 2, 90)) {
		t.Fatal("different seeds gave the same bytes")
	}
	m, err := jpeg.Decode(bytes.NewReader(a))
	if err != nil {
		t.Fatal(err)
	}
	if m.Bounds().Dx() != 300 || m.Bounds().Dy() != 200 {
		t.Fatalf("size %v", m.Bounds())
	}
}

// A camera photo of 12 MP is a few megabytes at quality 90; so must the synthetic one be,
// or decoding it would be unrealistically cheap.
func TestJPEGSizeIsPhotoLike(t *testing.T) {
	if testing.Short() {
		t.Skip("makes a 12 MP image")
	}
	n := len(JPEG(4000, 3000, 1, 90))
	if n < 2<<20 {
		t.Errorf("12 MP JPEG is %d bytes, want at least 2 MiB", n)
	}
}
