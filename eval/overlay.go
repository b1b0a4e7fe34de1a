package eval

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"sync"

	"golang.org/x/image/draw"
	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

// Overlays: things a copier adds on top of or around the picture.

var (
	boldFont    = sync.OnceValue(func() *opentype.Font { return mustParse(gobold.TTF) })
	regularFont = sync.OnceValue(func() *opentype.Font { return mustParse(goregular.TTF) })
)

func mustParse(ttf []byte) *opentype.Font {
	f, err := opentype.Parse(ttf)
	if err != nil {
		panic("eval: embedded Go font: " + err.Error())
	}
	return f
}

// newFace returns a face of f with an em of px pixels. A face is not safe for concurrent use,
// so each call of a transform makes its own (the parsed font is shared).
func newFace(f *opentype.Font, px float64) font.Face {
	face, err := opentype.NewFace(f, &opentype.FaceOptions{Size: max(px, 1), DPI: 72, Hinting: font.HintingNone})
	if err != nil {
		panic("eval: opentype.NewFace: " + err.Error()) // only for invalid options
	}
	return face
}

// drawText draws s in colour c with its baseline starting at (x, y).
func drawText(dst draw.Image, face font.Face, s string, x, y int, c color.Color) {
	d := font.Drawer{Dst: dst, Src: image.NewUniform(c), Face: face, Dot: fixed.P(x, y)}
	d.DrawString(s)
}

// textWidth is the advance width of s in pixels.
func textWidth(face font.Face, s string) int {
	return font.MeasureString(face, s).Ceil()
}

// fitText shortens s with an ellipsis until it is at most maxW pixels wide.
func fitText(face font.Face, s string, maxW int) string {
	r := []rune(s)
	for len(r) > 0 && textWidth(face, s) > maxW {
		r = r[:len(r)-1]
		s = string(r) + "…"
	}
	return s
}

// baseline returns the baseline that centres capital letters vertically in r.
func baseline(face font.Face, r image.Rectangle) int {
	return r.Min.Y + (r.Dy()+face.Metrics().CapHeight.Round())/2
}

// pick returns a random element of xs.
func pick(rng *rand.Rand, xs ...string) string { return xs[rng.IntN(len(xs))] }

// caption adds a band of translucent black across the bottom 12% of the picture with a
// seller's line of white bold text centred in it.
func caption(img *image.NRGBA, rng *rand.Rand) *image.NRGBA {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	band := image.Rect(0, h-max(int(math.Round(0.12*float64(h))), 1), w, h)
	fillRect(img, band, color.NRGBA{0, 0, 0, 160})

	text := fmt.Sprintf("© %d %s — %s %s", 2019+rng.IntN(7),
		pick(rng, "ArtHub Prints", "canvas_corner", "DecorDirect", "Poster Palace", "wallart.daily", "Gallery Outlet"),
		pick(rng, "buy prints at", "shop now at", "more at", "order canvas at"),
		pick(rng, "example.shop", "prints.example.com", "buy-art.example", "posters.example.net"))
	size := 0.5 * float64(band.Dy())
	face := newFace(boldFont(), size)
	if tw, maxW := textWidth(face, text), 0.94*float64(w); float64(tw) > maxW {
		face = newFace(boldFont(), size*maxW/float64(tw))
	}
	x := (w - textWidth(face, text)) / 2
	drawText(rgbaView(img), face, text, x, baseline(face, band), white)
	return img
}

// watermark tiles a word, turned 30° anticlockwise, across the picture in white at 25%
// opacity: text 6% of the width high, stamps 25% of the width apart on a staggered grid whose
// phase is random.
func watermark(img *image.NRGBA, rng *rand.Rand) *image.NRGBA {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	face := newFace(boldFont(), 0.06*float64(w))
	text := pick(rng, "SAMPLE", "© stock", "PREVIEW")

	// Render the word once into a mask, then turn the mask.
	m := face.Metrics()
	flat := image.NewAlpha(image.Rect(0, 0, textWidth(face, text), (m.Ascent + m.Descent).Ceil()))
	drawText(flat, face, text, 0, m.Ascent.Ceil(), color.Opaque)
	fw, fh := float64(flat.Rect.Dx()), float64(flat.Rect.Dy())
	sin, cos := math.Sincos(30 * math.Pi / 180)
	tw, th := int(math.Ceil(fw*cos+fh*sin)), int(math.Ceil(fw*sin+fh*cos))
	stamp := image.NewAlpha(image.Rect(0, 0, tw, th))
	draw.BiLinear.Transform(stamp, rotation(flat.Rect.Dx(), flat.Rect.Dy(), tw, th, 30), flat, flat.Rect, draw.Src, nil)

	ink := image.NewUniform(color.NRGBA{255, 255, 255, 64})
	step := max(0.25*float64(w), 1)
	ox, oy := rng.Float64()*step, rng.Float64()*step
	dst := rgbaView(img)
	for row, y := 0, oy-step; y < float64(h)+step; row, y = row+1, y+step {
		shift := float64(row%2) * step / 2
		for x := ox - step + shift; x < float64(w)+step; x += step {
			at := image.Pt(int(x)-tw/2, int(y)-th/2)
			draw.DrawMask(dst, stamp.Rect.Add(at), ink, image.Point{}, stamp, image.Point{}, draw.Over)
		}
	}
	return img
}

// logo stamps an opaque logo covering 10% of the picture's area into a random corner, 3% of the
// shorter side from the edges: a rounded square with a letter or a disc with a short word, in a
// random colour.
func logo(img *image.NRGBA, rng *rand.Rand) *image.NRGBA {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	area := 0.10 * float64(w*h)
	square := rng.IntN(2) == 0
	side := math.Sqrt(area) // of the square, or the disc's diameter
	if !square {
		side = 2 * math.Sqrt(area/math.Pi)
	}
	margin := int(0.03 * float64(min(w, h)))
	s := max(min(int(side), min(w, h)-2*margin), 1)
	x, y := margin, margin
	if rng.IntN(2) == 1 {
		x = w - margin - s
	}
	if rng.IntN(2) == 1 {
		y = h - margin - s
	}
	box := image.Rect(x, y, x+s, y+s)
	r, g, b := hsvToRGB(rng.Float64(), 0.75, 0.8)
	bg := color.NRGBA{r, g, b, 255}

	var text string
	var face font.Face
	if square {
		fillShape(img, box, bg, roundedRect(box, 0.2*float64(s)))
		text = string(rune('A' + rng.IntN(26)))
		face = newFace(boldFont(), 0.7*float64(s))
	} else {
		rad := float64(s) / 2
		fillShape(img, box, bg, disc(float64(x)+rad, float64(y)+rad, rad))
		text = pick(rng, "ART", "SHOP", "PRINT", "DECO")
		face = newFace(boldFont(), 0.3*float64(s))
		face = newFace(boldFont(), 0.3*float64(s)*min(1, 0.75*float64(s)/float64(textWidth(face, text))))
	}
	drawText(rgbaView(img), face, text, x+(s-textWidth(face, text))/2, baseline(face, box), white)
	return img
}

// hsvToRGB converts a colour with hue, saturation and value in [0, 1] to 8-bit RGB.
func hsvToRGB(hue, s, v float64) (uint8, uint8, uint8) {
	f := func(n float64) uint8 {
		k := math.Mod(n+hue*6, 6)
		return clamp8(255 * (v - v*s*max(0, min(k, 4-k, 1))))
	}
	return f(5), f(3), f(1)
}

// Colours of Chrome's light theme and its image viewer.
var (
	chromeStrip  = color.NRGBA{0xde, 0xe1, 0xe6, 0xff}
	chromeTab    = color.NRGBA{0xff, 0xff, 0xff, 0xff}
	chromeTab2   = color.NRGBA{0xec, 0xef, 0xf1, 0xff}
	chromeField  = color.NRGBA{0xf1, 0xf3, 0xf4, 0xff}
	chromeIcon   = color.NRGBA{0x5f, 0x63, 0x68, 0xff}
	chromeText   = color.NRGBA{0x3c, 0x40, 0x43, 0xff}
	chromeBorder = color.NRGBA{0xda, 0xdc, 0xe0, 0xff}
	viewerDark   = color.NRGBA{0x20, 0x21, 0x24, 0xff}
)

// screenshot puts the picture, unscaled, in the middle of a browser window showing it, as a
// screen grab would: the window is round(w/0.6) wide, so the picture takes 60% of its width.
// Its chrome is a tab strip and a toolbar, each 2.5% of the window width high (4% of the height
// of a 16:10 window); below them the viewport is Chrome's image viewer, flat #202124. The window
// is 16:10 unless the picture needs it taller (4% of the width of dark margin above and below).
func screenshot(img *image.NRGBA, rng *rand.Rand) *image.NRGBA {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	W := int(math.Round(float64(w) / 0.6))
	row := max(int(math.Round(0.025*float64(W))), 8)
	H := max(int(math.Round(0.625*float64(W))), 2*row+h+2*int(0.04*float64(W)))
	canvas := newCanvas(W, H, viewerDark)
	view := rgbaView(canvas)
	fr := float64(row)

	// Tab strip with one or two tabs (the first is the active one, joined to the toolbar).
	fillRect(canvas, image.Rect(0, 0, W, row), chromeStrip)
	small := newFace(regularFont(), 0.42*fr)
	tabW := min(int(0.22*float64(W)), 14*row)
	titles := []string{
		pick(rng, "Art print — Example Shop", "Canvas wall art | Decor", "Poster sale — 50% off", "image.jpeg (1024×768)"),
		pick(rng, "New Tab", "Search results", "Inbox (3)", "Gallery — Home"),
	}
	for i := range 1 + rng.IntN(2) {
		x0 := int(0.5*fr) + i*(tabW+int(0.2*fr))
		tab := image.Rect(x0, int(0.2*fr), x0+tabW, row)
		bg := chromeTab
		if i > 0 {
			bg = chromeTab2
		}
		// Extend the shape below the strip so only its top corners are rounded.
		shape := tab
		shape.Max.Y += row / 2
		fillShape(canvas, tab, bg, roundedRect(shape, 0.3*fr))
		text := fitText(small, titles[i], tabW-int(1.2*fr))
		drawText(view, small, text, x0+int(0.6*fr), baseline(small, tab), chromeText)
	}

	// Toolbar: back, forward and reload as grey dots, then the address field with a URL.
	bar := image.Rect(0, row, W, 2*row)
	fillRect(canvas, bar, chromeTab)
	fillRect(canvas, image.Rect(0, 2*row-1, W, 2*row), chromeBorder)
	for i := range 3 {
		cx, cy := (0.7+0.9*float64(i))*fr, float64(row)+fr/2
		fillShape(canvas, discBounds(cx, cy, 0.15*fr), chromeIcon, disc(cx, cy, 0.15*fr))
	}
	field := image.Rect(int(3*fr), row+int(0.15*fr), W-int(0.8*fr), 2*row-int(0.15*fr))
	fillShape(canvas, field, chromeField, roundedRect(field, float64(field.Dy())/2))
	url := fmt.Sprintf("https://%s/%s/%d.jpg",
		pick(rng, "www.example.shop", "prints.example.com", "cdn.example.net", "images.example.org"),
		pick(rng, "art/prints", "products/large", "uploads/2025/03", "media/catalog"),
		100000+rng.IntN(900000))
	drawText(view, small, fitText(small, url, field.Dx()-row), field.Min.X+row/2, baseline(small, field), chromeText)

	// The picture, centred in the viewport.
	paste(canvas, img, image.Pt((W-w)/2, 2*row+(H-2*row-h)/2))
	return canvas
}
