package hashing

import "image"

// openSide is the side, in pixels of the normalised picture, of the square that the opened
// view is opened with: a bright stroke narrower than this is removed. At the default
// normalised size (256 on the longer side) the letters of a tiled text watermark are
// 2–4 pixels wide. Chosen on the accuracy benchmark, where 3 and 7 recovered fewer tiled
// watermarks than 5.
const openSide = 5

// openedMinDetail is the detail (see detail) under which an opened picture gets no view: a
// dark picture whose bright details the opening removed (a night sky) is nearly flat once
// opened, and flat views of unrelated pictures meet. On the accuracy benchmark, without this
// cut an opened impostor pair raised the 1e-6 threshold and cost other transformations up
// to 2 points; with it at 10 (the low-detail cut) the opened views of two watermarked night
// skies were dropped.
const openedMinDetail = 8

// opened returns g after a grayscale opening with an openSide square: the minimum over the
// square, then the maximum. It removes bright structures narrower than the square (the
// strokes of a light watermark) and keeps larger shapes as they were.
func opened(g *image.Gray) *image.Gray {
	return rankFilter(rankFilter(g, false), true)
}

// rankFilter returns the minimum (or, with isMax, the maximum) of g over an openSide square
// around each pixel, clipped at the picture's edges, as two one-dimensional passes.
func rankFilter(g *image.Gray, isMax bool) *image.Gray {
	b := g.Bounds()
	w, h := b.Dx(), b.Dy()
	const r = openSide / 2
	better := func(a, c uint8) uint8 {
		if (c > a) == isMax {
			return c
		}
		return a
	}
	tmp := make([]uint8, w*h)
	for y := range h {
		row := g.Pix[(y+b.Min.Y-g.Rect.Min.Y)*g.Stride+b.Min.X-g.Rect.Min.X:][:w]
		out := tmp[y*w : (y+1)*w]
		for x := range w {
			v := row[x]
			for xx := max(0, x-r); xx <= min(w-1, x+r); xx++ {
				v = better(v, row[xx])
			}
			out[x] = v
		}
	}
	out := image.NewGray(image.Rect(0, 0, w, h))
	for y := range h {
		dst := out.Pix[y*w : (y+1)*w]
		copy(dst, tmp[y*w:(y+1)*w])
		for yy := max(0, y-r); yy <= min(h-1, y+r); yy++ {
			src := tmp[yy*w : (yy+1)*w]
			for x, v := range src {
				dst[x] = better(dst[x], v)
			}
		}
	}
	return out
}

// openedView is the opened view of a normalised picture (Variant.Opened), or false when the
// opened picture has too little detail to be worth one.
func openedView(vw *viewer) (View, bool) {
	px := vw.source(Variant{Opened: true, Region: Full})
	if detail(px) < openedMinDetail {
		return View{}, false
	}
	return View{Variant: Variant{Opened: true, Region: Full}, Hashes: hashesOf(px)}, true
}
