package hashing

import (
	"fmt"
	"image"
)

// Orientation is one of the eight symmetries of a rectangle: the identity, two mirrors, three
// rotations and the two diagonal flips. It names how a picture was turned.
type Orientation uint8

// The eight orientations. Rotations are clockwise.
const (
	Identity   Orientation = iota // as registered
	Mirror                        // flipped left to right
	FlipV                         // flipped top to bottom
	Rot180                        // turned half way
	Transpose                     // flipped over the main diagonal
	Rot90                         // turned 90° clockwise
	Rot270                        // turned 90° anticlockwise
	Transverse                    // flipped over the other diagonal
)

var orientationNames = [...]string{"identity", "mirror", "flip_v", "rot180", "transpose", "rot90", "rot270", "transverse"}

// String returns the orientation's stable name, as used in evidence and JSON.
func (o Orientation) String() string {
	if int(o) < len(orientationNames) {
		return orientationNames[o]
	}
	return fmt.Sprintf("orientation(%d)", uint8(o))
}

// Inverse returns the orientation that undoes o.
func (o Orientation) Inverse() Orientation {
	switch o {
	case Rot90:
		return Rot270
	case Rot270:
		return Rot90
	default:
		return o // every other element is its own inverse
	}
}

// exifToOrientation maps an EXIF orientation tag (1-8) to the transform that makes the stored
// pixels upright.
var exifToOrientation = [9]Orientation{1: Identity, 2: Mirror, 3: Rot180, 4: FlipV, 5: Transpose, 6: Rot90, 7: Transverse, 8: Rot270}

// Map returns where pixel (x, y) of a w×h picture lands when the picture is turned by o; the
// turned picture is h×w for Transpose and the orientations after it, else w×h.
func (o Orientation) Map(x, y, w, h int) (int, int) {
	switch o {
	case Mirror:
		return w - 1 - x, y
	case FlipV:
		return x, h - 1 - y
	case Rot180:
		return w - 1 - x, h - 1 - y
	case Transpose:
		return y, x
	case Rot90:
		return h - 1 - y, x
	case Rot270:
		return y, w - 1 - x
	case Transverse:
		return h - 1 - y, w - 1 - x
	}
	return x, y
}

// turnedSize is the size of a w×h picture turned by o.
func (o Orientation) turnedSize(w, h int) (int, int) {
	if o >= Transpose {
		return h, w
	}
	return w, h
}

// orient returns g turned by o, as a new image with its origin at (0, 0).
func orient(g *image.Gray, o Orientation) *image.Gray {
	if o == Identity {
		return g
	}
	b := g.Bounds()
	w, h := b.Dx(), b.Dy()
	ow, oh := o.turnedSize(w, h)
	out := image.NewGray(image.Rect(0, 0, ow, oh))
	for y := range h {
		row := g.Pix[g.PixOffset(b.Min.X, b.Min.Y+y):]
		for x := range w {
			dx, dy := o.Map(x, y, w, h)
			out.Pix[dy*ow+dx] = row[x]
		}
	}
	return out
}

// OrientRGBA returns m turned by o, as a new image with its origin at (0, 0); m itself when o
// is the identity. It maps pixels as the fingerprint's views do, so a thumbnail turned by a
// match's orientation lines up with the picture it matched.
func OrientRGBA(m *image.RGBA, o Orientation) *image.RGBA {
	if o == Identity {
		return m
	}
	b := m.Bounds()
	w, h := b.Dx(), b.Dy()
	ow, oh := o.turnedSize(w, h)
	out := image.NewRGBA(image.Rect(0, 0, ow, oh))
	for y := range h {
		for x := range w {
			dx, dy := o.Map(x, y, w, h)
			src := m.PixOffset(b.Min.X+x, b.Min.Y+y)
			copy(out.Pix[out.PixOffset(dx, dy):out.PixOffset(dx, dy)+4], m.Pix[src:src+4])
		}
	}
	return out
}
