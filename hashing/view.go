package hashing

import (
	"fmt"
	"image"
	"math"
	"strings"

	"github.com/corona10/goimagehash"
)

// Region is a rectangle of a picture's content box in percent of its width and height.
// The zero Region means the whole picture.
type Region struct {
	X uint8 `json:"x"`
	Y uint8 `json:"y"`
	W uint8 `json:"w"`
	H uint8 `json:"h"`
}

// Full is the region covering the whole picture.
var Full = Region{0, 0, 100, 100}

// IsFull reports whether r covers the whole picture.
func (r Region) IsFull() bool { return r == Full || r == Region{} }

// rect returns the region in pixels of a w×h picture, at least one pixel on a side.
func (r Region) rect(w, h int) image.Rectangle {
	if r.IsFull() {
		return image.Rect(0, 0, w, h)
	}
	x0, y0 := int(r.X)*w/100, int(r.Y)*h/100
	x1, y1 := (int(r.X)+int(r.W))*w/100, (int(r.Y)+int(r.H))*h/100
	return image.Rect(x0, y0, max(x1, x0+1), max(y1, y0+1)).Intersect(image.Rect(0, 0, w, h))
}

// valid reports whether the region lies inside the picture and is not empty.
func (r Region) valid() bool {
	return r.IsFull() || (r.W > 0 && r.H > 0 && int(r.X)+int(r.W) <= 100 && int(r.Y)+int(r.H) <= 100)
}

// Variant says which view of a picture a set of hashes describes: a region of it, turned by
// an angle and by one of the eight orientations, in that order.
type Variant struct {
	// Trimmed views are of the picture's content box (borders, pads and chrome trimmed)
	// rather than of the whole picture; Region is then relative to the box.
	Trimmed bool `json:"trimmed,omitempty"`
	// Opened views are of the whole picture after a grayscale opening (the minimum, then the
	// maximum, over a 5×5 square of the normalised picture), which removes bright strokes
	// thinner than that, such as the letters of a light tiled watermark. An opened view is
	// only compared with an opened view.
	Opened bool `json:"opened,omitempty"`
	// Orientation is applied last.
	Orientation Orientation `json:"orientation"`
	// Angle is a rotation in whole degrees, anticlockwise, after which the largest upright
	// rectangle inside the rotated picture is kept. Zero for none.
	Angle int8 `json:"angle,omitempty"`
	// Region is the part of the picture, before rotation.
	Region Region `json:"region"`
}

// String describes the variant in the words used in evidence, for example "identity",
// "mirror", "crop(10,10,80,80)", "rotate(15)+crop(0,0,80,80)".
func (v Variant) String() string {
	var parts []string
	if v.Trimmed {
		parts = append(parts, "trim")
	}
	if v.Opened {
		parts = append(parts, "opened")
	}
	if !v.Region.IsFull() {
		parts = append(parts, fmt.Sprintf("crop(%d,%d,%d,%d)", v.Region.X, v.Region.Y, v.Region.W, v.Region.H))
	}
	if v.Angle != 0 {
		parts = append(parts, fmt.Sprintf("rotate(%d)", v.Angle))
	}
	if v.Orientation != Identity || len(parts) == 0 || ((v.Trimmed || v.Opened) && len(parts) == 1) {
		parts = append(parts, v.Orientation.String())
	}
	return strings.Join(parts, "+")
}

// View is one variant of a picture and its hashes.
type View struct {
	Variant
	Hashes
}

// Side of the square picture that the perception hash is computed from; goimagehash
// resizes to this size, so handing it this size makes its resize a no-op.
const hashSide = 64

// viewSource is the 64×64 picture of one variant of a normalised image, before its
// orientation is applied.
func viewSource(img *Image, v Variant) []float32 { return (&viewer{img: img}).source(v) }

// viewer makes the 64×64 pictures of the views of one normalised image, reading its pixels as
// floats once for all of them.
type viewer struct {
	img    *Image
	luma   []float32 // img.Gray as floats, row by row, once a view needs them
	opened *viewer   // of img opened (Variant.Opened), once a view needs it
}

// source is the 64×64 picture of variant v, before its orientation is applied.
func (vw *viewer) source(v Variant) []float32 {
	if v.Opened {
		if vw.opened == nil {
			o := *vw.img
			o.Gray = opened(vw.img.Gray)
			vw.opened = &viewer{img: &o}
		}
		v.Opened = false
		return vw.opened.source(v)
	}
	g := vw.img.Gray
	if v.Trimmed {
		g = g.SubImage(vw.img.Content).(*image.Gray)
	}
	if v.Angle != 0 {
		return rotatedSource(g, float64(v.Angle))
	}
	if vw.luma == nil {
		vw.luma = floatsOf(vw.img.Gray)
	}
	b := g.Bounds()
	rr := v.Region.rect(b.Dx(), b.Dy()).Add(b.Min)
	stride := vw.img.Gray.Bounds().Dx()
	return resampleRows(func(y int) []float32 {
		off := (rr.Min.Y+y)*stride + rr.Min.X
		return vw.luma[off : off+rr.Dx()]
	}, rr.Dx(), rr.Dy(), hashSide, hashSide)
}

// rotatedSource rotates g anticlockwise by deg degrees about its centre, keeps the largest
// upright rectangle of the same aspect that holds no corner, and samples it to 64×64
// (bilinear at twice the size, then an area filter).
func rotatedSource(g *image.Gray, deg float64) []float32 {
	w, h := float64(g.Bounds().Dx()), float64(g.Bounds().Dy())
	th := deg * math.Pi / 180
	sin, cos := math.Abs(math.Sin(th)), math.Abs(math.Cos(th))
	// Largest rectangle with the picture's aspect inside the rotated picture.
	k := math.Min(w/(w*cos+h*sin), h/(w*sin+h*cos))
	iw, ih := w*k, h*k
	const n = 2 * hashSide
	big := make([]float32, n*n)
	s, c := math.Sin(th), math.Cos(th)
	for v := range n {
		for u := range n {
			// Point in the rotated frame, relative to the centre.
			x := (float64(u)+0.5)/n*iw - iw/2
			y := (float64(v)+0.5)/n*ih - ih/2
			// Back into the source: rotate by +deg (image y points down, so anticlockwise on
			// screen is clockwise in these coordinates).
			sx := c*x - s*y + w/2 - 0.5
			sy := s*x + c*y + h/2 - 0.5
			big[v*n+u] = bilinear(g, sx, sy)
		}
	}
	return resample(func(y int, dst []float32) { copy(dst, big[y*n:(y+1)*n]) }, n, n, hashSide, hashSide)
}

// bilinear samples g at a real position, clamping to the edges.
func bilinear(g *image.Gray, x, y float64) float32 {
	w, h := g.Bounds().Dx(), g.Bounds().Dy()
	x = math.Max(0, math.Min(float64(w-1), x))
	y = math.Max(0, math.Min(float64(h-1), y))
	x0, y0 := int(x), int(y)
	x1, y1 := min(x0+1, w-1), min(y0+1, h-1)
	fx, fy := float32(x-float64(x0)), float32(y-float64(y0))
	o := g.Bounds().Min
	p := func(x, y int) float32 { return float32(g.Pix[g.PixOffset(o.X+x, o.Y+y)]) }
	top := p(x0, y0)*(1-fx) + p(x1, y0)*fx
	bot := p(x0, y1)*(1-fx) + p(x1, y1)*fx
	return top*(1-fy) + bot*fy
}

// orientFloats turns a square n×n float picture by o.
func orientFloats(px []float32, n int, o Orientation) []float32 {
	if o == Identity {
		return px
	}
	out := make([]float32, len(px))
	for y := range n {
		for x := range n {
			dx, dy := o.Map(x, y, n, n)
			out[dy*n+dx] = px[y*n+x]
		}
	}
	return out
}

// hashesOf computes the three goimagehash hashes of a 64×64 picture.
func hashesOf(px []float32) Hashes {
	d, a := smallHashes(px)
	return Hashes{P: perceptionHash(toGray(px, hashSide, hashSide)), D: d, A: a}
}

// orientedHashes computes the hashes of a 64×64 picture in each of its eight orientations,
// sharing the perception hash's transforms between them (pHasher).
func orientedHashes(px []float32) [8]Hashes {
	ph := newPHasher(toGray(px, hashSide, hashSide))
	var hs [8]Hashes
	for o := range Orientation(8) {
		d, a := smallHashes(orientFloats(px, hashSide, o))
		hs[o] = Hashes{P: ph.hash(o), D: d, A: a}
	}
	return hs
}

// smallHashes computes goimagehash's difference and average hashes of a 64×64 picture. They
// get their 9×8 and 8×8 inputs from it through the area filter, so goimagehash never resizes
// anything and never sees an image it did not get from here.
func smallHashes(px []float32) (d, a Hash) {
	rows := func(y int) []float32 { return px[y*hashSide : (y+1)*hashSide] }
	g9 := toGray(resampleRows(rows, hashSide, hashSide, 9, 8), 9, 8)
	g8 := toGray(resampleRows(rows, hashSide, hashSide, 8, 8), 8, 8)
	dh, err2 := goimagehash.DifferenceHash(g9)
	ah, err3 := goimagehash.AverageHash(g8)
	if err2 != nil || err3 != nil {
		// goimagehash only fails on a nil image; these never are.
		panic(fmt.Sprintf("hashing: goimagehash failed on a small image: %v %v", err2, err3))
	}
	return Hash(dh.GetHash()), Hash(ah.GetHash())
}

// detail measures how much a 64×64 picture varies: the standard deviation of its pixels
// after an area downscale to 16×16, so noise and JPEG artefacts count little.
func detail(px []float32) float64 {
	small := resample(func(y int, dst []float32) { copy(dst, px[y*hashSide:(y+1)*hashSide]) }, hashSide, hashSide, 16, 16)
	var sum, sq float64
	for _, v := range small {
		sum += float64(v)
		sq += float64(v) * float64(v)
	}
	n := float64(len(small))
	mean := sum / n
	return math.Sqrt(math.Max(0, sq/n-mean*mean))
}
