package hashing

import (
	"fmt"
	"image"

	"github.com/corona10/goimagehash/etcs"
	"github.com/corona10/goimagehash/transforms"
)

// The perception hash of a 64×64 picture is the sign, against their median, of the 8×8
// lowest frequencies of its two-dimensional DCT, which goimagehash computes as a 1D DCT of
// every row and then of every column. Only the first eight columns feed the hash, and every
// row of any of the picture's eight orientations is a row or a column of the picture, read
// forwards or backwards. So a pHasher transforms each such line once, keeps its eight lowest
// frequencies, and finishes each orientation with eight column transforms: the same
// operations on the same numbers as goimagehash's PerceptionHash of the turned picture, so
// the same bits (TestPerceptionHashIsGoimagehash), at a quarter of the transforms for the
// eight orientations and a little over half for one.

// lineKind says how a row of a turned picture reads the picture.
type lineKind uint8

const (
	rowsForward lineKind = iota
	rowsBackward
	colsForward
	colsBackward
	numLineKinds
)

// line is one row of a turned picture: the kind of line and which row or column it is.
type line struct {
	kind lineKind
	idx  uint8
}

// orientLines[o][y] is row y of a 64×64 picture turned by o.
var orientLines = func() (t [8][hashSide]line) {
	const n = hashSide
	for o := range Orientation(8) {
		var src [n * n]int // src[turned index] = index in the picture
		for y := range n {
			for x := range n {
				dx, dy := o.Map(x, y, n, n)
				src[dy*n+dx] = y*n + x
			}
		}
		for y := range n {
			s0, s1 := src[y*n], src[y*n+1]
			var l line
			switch s1 - s0 {
			case 1:
				l = line{rowsForward, uint8(s0 / n)}
			case -1:
				l = line{rowsBackward, uint8(s0 / n)}
			case n:
				l = line{colsForward, uint8(s0 % n)}
			case -n:
				l = line{colsBackward, uint8(s0 % n)}
			}
			for x := range n {
				if src[y*n+x] != l.at(x) {
					panic(fmt.Sprintf("hashing: row %d of orientation %v is not a line of the picture", y, o))
				}
			}
			t[o][y] = l
		}
	}
	return t
}()

// at is the index in the picture of the x-th pixel of the line.
func (l line) at(x int) int {
	const n = hashSide
	i := int(l.idx)
	switch l.kind {
	case rowsForward:
		return i*n + x
	case rowsBackward:
		return i*n + n - 1 - x
	case colsForward:
		return x*n + i
	default:
		return (n-1-x)*n + i
	}
}

// pHasher computes the perception hash of a 64×64 gray picture in any orientation.
type pHasher struct {
	luma  [hashSide * hashSide]float64
	lines [numLineKinds]*[hashSide][8]float64 // the low frequencies of each line, once needed
}

// newPHasher prepares g, which is 64×64, for hashing.
func newPHasher(g *image.Gray) *pHasher {
	h := new(pHasher)
	for y := range hashSide {
		row := g.Pix[y*g.Stride : y*g.Stride+hashSide]
		for x, v := range row {
			// goimagehash's luma of a gray pixel, in its order of operations: the
			// 16-bit channels of v are v·257, and v·257/256 is v.
			f := float64(v)
			h.luma[y*hashSide+x] = 0.299*f + 0.587*f + 0.114*f
		}
	}
	return h
}

// freqs returns the eight lowest frequencies of the 1D DCT of every line of a kind.
func (h *pHasher) freqs(k lineKind) *[hashSide][8]float64 {
	if f := h.lines[k]; f != nil {
		return f
	}
	f := new([hashSide][8]float64)
	var buf [hashSide]float64
	for i := range hashSide {
		l := line{k, uint8(i)}
		for x := range buf {
			buf[x] = h.luma[l.at(x)]
		}
		transforms.DCT1DFast64(buf[:])
		copy(f[i][:], buf[:8])
	}
	h.lines[k] = f
	return f
}

// hash is goimagehash's PerceptionHash of the picture turned by o.
func (h *pHasher) hash(o Orientation) Hash {
	var rows [hashSide]*[8]float64
	for y, l := range orientLines[o] {
		rows[y] = &h.freqs(l.kind)[l.idx]
	}
	var flat [64]float64 // goimagehash's FlattenPixelsFast64(…, 8, 8) of the 2D transform
	var col [hashSide]float64
	for u := range 8 {
		for y := range col {
			col[y] = rows[y][u]
		}
		transforms.DCT1DFast64(col[:])
		for v := range 8 {
			flat[8*v+u] = col[v]
		}
	}
	median := etcs.MedianOfPixelsFast64(flat[:])
	var hash Hash
	for i, c := range flat {
		if c > median {
			hash |= 1 << (63 - i)
		}
	}
	return hash
}

// perceptionHash is goimagehash's PerceptionHash of a 64×64 gray picture, bit for bit.
func perceptionHash(g *image.Gray) Hash { return newPHasher(g).hash(Identity) }
