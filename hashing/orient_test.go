package hashing

import (
	"bytes"
	"image"
	"testing"
)

func TestOrientInverse(t *testing.T) {
	t.Parallel()
	g := shrinkToGray(texture(30, 20, 1), 256)
	for o := range Orientation(8) {
		back := orient(orient(g, o), o.Inverse())
		if !bytes.Equal(back.Pix, g.Pix) || back.Bounds() != g.Bounds() {
			t.Errorf("%v then its inverse is not the identity", o)
		}
	}
}

func TestOrientFloatsMatchesOrient(t *testing.T) {
	t.Parallel()
	g := shrinkToGray(texture(16, 16, 2), 256)
	px := make([]float32, len(g.Pix))
	for i, v := range g.Pix {
		px[i] = float32(v)
	}
	for o := range Orientation(8) {
		want := orient(g, o)
		got := toGray(orientFloats(px, 16, o), 16, 16)
		if !bytes.Equal(got.Pix, want.Pix) {
			t.Errorf("%v: orientFloats and orient disagree", o)
		}
	}
}

func TestOrientRot90IsClockwise(t *testing.T) {
	t.Parallel()
	g := image.NewGray(image.Rect(0, 0, 3, 2))
	g.Pix[0] = 9 // top-left
	r := orient(g, Rot90)
	if r.Bounds().Dx() != 2 || r.Bounds().Dy() != 3 {
		t.Fatalf("bounds %v", r.Bounds())
	}
	if r.GrayAt(1, 0).Y != 9 { // top-left goes to top-right
		t.Errorf("top-left did not go to the top-right")
	}
}

func TestOrientationNames(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for o := range Orientation(8) {
		if seen[o.String()] {
			t.Errorf("duplicate name %q", o)
		}
		seen[o.String()] = true
	}
	if Orientation(9).String() != "orientation(9)" {
		t.Errorf("unknown orientation name %q", Orientation(9).String())
	}
}
