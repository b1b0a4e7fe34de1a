package hashing

import (
	"encoding/binary"
	"image"
)

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
	// Each pass takes the minimum (maximum) of the line with itself shifted by up to r
	// either way, in loops over whole slices.
	combine := combineMin
	if isMax {
		combine = combineMax
	}
	tmp := make([]uint8, w*h)
	for y := range h {
		row := g.Pix[g.PixOffset(b.Min.X, b.Min.Y+y):][:w]
		out := tmp[y*w : (y+1)*w]
		copy(out, row)
		for d := 1; d <= r && d < w; d++ {
			combine(out[:w-d], row[d:])
			combine(out[d:], row[:w-d])
		}
	}
	out := image.NewGray(image.Rect(0, 0, w, h))
	for y := range h {
		dst := out.Pix[y*w : (y+1)*w]
		copy(dst, tmp[y*w:(y+1)*w])
		for yy := max(0, y-r); yy <= min(h-1, y+r); yy++ {
			if yy != y {
				combine(dst, tmp[yy*w:(yy+1)*w])
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

// combineMin sets each dst[i] to min(dst[i], src[i]); combineMax to the maximum. They work on
// eight pixels at a time (minBytes, maxBytes): pixels are noise to a branch predictor, and a
// comparison a pixel made the opening most of an opened view's time.
func combineMin(dst, src []uint8) { combineBytes(dst, src, false) }

func combineMax(dst, src []uint8) { combineBytes(dst, src, true) }

func combineBytes(dst, src []uint8, isMax bool) {
	src = src[:len(dst)]
	i := 0
	if isMax {
		for ; i+8 <= len(dst); i += 8 {
			binary.LittleEndian.PutUint64(dst[i:], maxBytes(binary.LittleEndian.Uint64(dst[i:]), binary.LittleEndian.Uint64(src[i:])))
		}
		for ; i < len(dst); i++ {
			dst[i] = max(dst[i], src[i])
		}
		return
	}
	for ; i+8 <= len(dst); i += 8 {
		binary.LittleEndian.PutUint64(dst[i:], minBytes(binary.LittleEndian.Uint64(dst[i:]), binary.LittleEndian.Uint64(src[i:])))
	}
	for ; i < len(dst); i++ {
		dst[i] = min(dst[i], src[i])
	}
}

// Even and odd bytes are compared in 16-bit lanes: bit 8 of (x | 0x100) − y is set exactly
// when x ≥ y, and no lane borrows from the next.
const (
	evenBytes = 0x00ff00ff00ff00ff
	lanesNine = 0x0100010001000100
	lanesOne  = 0x0001000100010001
)

// minBytes returns the byte-wise minimum of a and b, as unsigned bytes.
func minBytes(a, b uint64) uint64 {
	ae, be := a&evenBytes, b&evenBytes
	ao, bo := a>>8&evenBytes, b>>8&evenBytes
	me := ((ae | lanesNine) - be) >> 8 & lanesOne * 0xff // 0xff in the lanes where a ≥ b
	mo := ((ao | lanesNine) - bo) >> 8 & lanesOne * 0xff
	return (be&me | ae&^me) | (bo&mo|ao&^mo)<<8
}

// maxBytes returns the byte-wise maximum of a and b, as unsigned bytes.
func maxBytes(a, b uint64) uint64 {
	ae, be := a&evenBytes, b&evenBytes
	ao, bo := a>>8&evenBytes, b>>8&evenBytes
	me := ((ae | lanesNine) - be) >> 8 & lanesOne * 0xff
	mo := ((ao | lanesNine) - bo) >> 8 & lanesOne * 0xff
	return (ae&me | be&^me) | (ao&mo|bo&^mo)<<8
}
