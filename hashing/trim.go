package hashing

import "image"

// Content-box detection. A line (row or column) is flat when nearly all of its pixels are
// within flatTolerance of the line's median. Flat lines at the edges are borders, pads or
// letterbox bars; a thin band of detail at an edge that is cut off from the rest by flat
// lines (a caption strip on a pad, a browser's tab bar above a picture) is chrome.
const (
	flatTolerance = 12   // gray levels either side of the median
	flatFraction  = 0.96 // share of a line's pixels that must be within tolerance
	chromeMax     = 0.16 // widest edge band, as a share of the side, that may be chrome
	chromeGapMin  = 0.04 // narrowest flat gap, as a share of the side, that sets chrome apart
	minContent    = 0.10 // a box smaller than this share of a side is not trusted
)

// contentBox returns the rectangle of g that holds the picture, without uniform borders,
// pads, letterbox bars and flat margins with chrome. It returns g's bounds when nothing is
// to be trimmed or when what would be left is too small to trust (a flat picture).
func contentBox(g *image.Gray) image.Rectangle {
	full := g.Bounds()
	r := full
	for range 2 { // rows then columns, twice: each pass sees only the other's band
		before := r
		y0, y1 := trimLines(r.Dy(), lineFlatness(g, r, true), true)
		r.Min.Y, r.Max.Y = r.Min.Y+y0, r.Min.Y+y1
		x0, x1 := trimLines(r.Dx(), lineFlatness(g, r, false), false)
		r.Min.X, r.Max.X = r.Min.X+x0, r.Min.X+x1
		if r.Empty() {
			return full
		}
		if r == before {
			break // a second pass would see the same lines
		}
	}
	if float64(r.Dx()) < minContent*float64(full.Dx()) || float64(r.Dy()) < minContent*float64(full.Dy()) || r.Dx() < 8 || r.Dy() < 8 {
		return full
	}
	return r
}

// lineFlatness returns whether row (rows=true) or column i of r is flat, working each line
// out when it is first asked: trimming looks only at lines near the edges.
func lineFlatness(g *image.Gray, r image.Rectangle, rows bool) func(i int) bool {
	n, m := r.Dy(), r.Dx()
	if !rows {
		n, m = m, n
	}
	known := make([]int8, n) // 0 unknown, 1 flat, -1 not
	line := make([]uint8, m)
	return func(i int) bool {
		if known[i] == 0 {
			if rows {
				copy(line, g.Pix[g.PixOffset(r.Min.X, r.Min.Y+i):])
			} else {
				for j := range line {
					line[j] = g.Pix[g.PixOffset(r.Min.X+i, r.Min.Y+j)]
				}
			}
			known[i] = -1
			if flatLine(line) {
				known[i] = 1
			}
		}
		return known[i] > 0
	}
}

// flatLine reports whether nearly all of a line's pixels are within flatTolerance of its
// median.
func flatLine(line []uint8) bool {
	var hist [256]int32
	for _, v := range line {
		hist[v]++
	}
	m := len(line)
	med, acc := 0, int32(0)
	for v, c := range hist {
		acc += c
		if 2*acc >= int32(m) {
			med = v
			break
		}
	}
	var near int32
	for v := max(0, med-flatTolerance); v <= min(255, med+flatTolerance); v++ {
		near += hist[v]
	}
	return float64(near) >= flatFraction*float64(m)
}

// trimLines returns the half-open range of lines to keep: flat lines are peeled from both
// ends and, for rows, so is a thin edge band of detail followed by a flat gap (window chrome
// sits above and below a picture, seldom beside it).
func trimLines(n int, flat func(int) bool, chrome bool) (int, int) {
	lo, hi := 0, n
	maxBand := int(chromeMax * float64(n))
	minGap := max(2, int(chromeGapMin*float64(n)))
	// peel advances from the edge at i in direction d past flat lines and up to two chrome
	// bands, and returns the first line of content. A chrome band is at most maxBand lines,
	// which may include short flat runs, ended by a flat run of at least minGap lines.
	peel := func(i, d, stop int) int {
		for range 3 {
			if !chrome {
				for i != stop && flat(i) {
					i += d
				}
				return i
			}
			for i != stop && flat(i) {
				i += d
			}
			end := -1
			for j := i; j != stop && abs(j-i) <= maxBand; {
				if !flat(j) {
					j += d
					continue
				}
				k := j
				for k != stop && flat(k) {
					k += d
				}
				if abs(k-j) >= minGap {
					end = k
					break
				}
				j = k
			}
			if end < 0 || end == stop {
				return i
			}
			i = end
		}
		return i
	}
	lo = peel(0, 1, n)
	if lo == n {
		return 0, n
	}
	hi = peel(n-1, -1, lo-1) + 1
	return lo, hi
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}
