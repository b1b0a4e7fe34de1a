package hashing

import (
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"testing"
)

func TestAxisWeightsSumToOne(t *testing.T) {
	t.Parallel()
	for _, c := range [][2]int{{256, 64}, {300, 256}, {1000, 7}, {64, 9}, {10, 64}, {1, 1}, {5, 5}} {
		aw := newAxisWeights(c[0], c[1])
		for i, ws := range aw.w {
			var s float32
			for k, w := range ws {
				if j := aw.lo[i] + k; j < 0 || j >= c[0] {
					t.Fatalf("%v: output %d reads source %d", c, i, j)
				}
				s += w
			}
			if math.Abs(float64(s)-1) > 1e-5 {
				t.Errorf("%v: output %d weights sum to %v", c, i, s)
			}
		}
	}
}

func TestShrinkToGrayTypes(t *testing.T) {
	t.Parallel()
	r := image.Rect(0, 0, 4, 4)
	fill := func(m interface{ Set(int, int, color.Color) }, c color.Color) {
		for y := range 4 {
			for x := range 4 {
				m.Set(x, y, c)
			}
		}
	}
	red := color.NRGBA{255, 0, 0, 255}
	wantRed := uint8(math.Round(0.299 * 255))
	halfRed := color.NRGBA{255, 0, 0, 128} // half transparent over white
	wantHalf := uint8(math.Round(0.299*255*128/255 + 255*(1-128.0/255)))

	rgba := image.NewRGBA(r)
	fill(rgba, red)
	nrgba := image.NewNRGBA(r)
	fill(nrgba, halfRed)
	rgbaHalf := image.NewRGBA(r)
	fill(rgbaHalf, halfRed)
	gray16 := image.NewGray16(r)
	fill(gray16, color.Gray16{0x8080})
	cmyk := image.NewCMYK(r)
	fill(cmyk, color.CMYK{0, 255, 255, 0}) // red
	trans := image.NewNRGBA(r)             // fully transparent: white
	// A palette of two entries, pixels pointing past it: they read as the background.
	pal := image.NewPaletted(r, color.Palette{color.Black, color.White})
	for i := range pal.Pix {
		pal.Pix[i] = 200
	}
	ycc := image.NewYCbCr(r, image.YCbCrSubsampleRatio420)
	for i := range ycc.Y {
		ycc.Y[i] = 77
	}
	cases := []struct {
		name string
		m    image.Image
		want uint8
	}{
		{"rgba", rgba, wantRed},
		{"nrgba alpha", nrgba, wantHalf},
		{"rgba alpha", rgbaHalf, wantHalf},
		{"gray16", gray16, 0x80},
		{"cmyk", cmyk, wantRed},
		{"transparent", trans, 255},
		{"palette out of range", pal, 255},
		{"ycbcr", ycc, 77},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := shrinkToGray(c.m, 256)
			if g.Bounds() != r {
				t.Fatalf("bounds %v", g.Bounds())
			}
			for _, v := range g.Pix {
				if d := int(v) - int(c.want); d < -1 || d > 1 {
					t.Fatalf("luma %d, want %d±1", v, c.want)
				}
			}
		})
	}
}

func TestShrinkToGrayAveragesArea(t *testing.T) {
	t.Parallel()
	// A fine checkerboard must average to mid-gray, not alias.
	m := image.NewGray(image.Rect(0, 0, 1000, 600))
	for y := range 600 {
		for x := range 1000 {
			if (x+y)%2 == 0 {
				m.Pix[y*1000+x] = 255
			}
		}
	}
	g := shrinkToGray(m, 256)
	if g.Bounds().Dx() != 256 || g.Bounds().Dy() != 154 {
		t.Fatalf("size %v, want 256×154", g.Bounds())
	}
	for _, v := range g.Pix {
		if v < 120 || v > 135 {
			t.Fatalf("pixel %d, want about 128", v)
		}
	}
}

// TestResampleSums checks resample against its definition, summed the plain way in the same
// order: every output the weighted sum, over source rows, of the weighted sums along each
// row. The padded and unrolled row sums must give the same numbers, bit for bit, because
// fingerprints registered before them must still compare.
func TestResampleSums(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	sizes := [][4]int{
		{256, 192, 64, 64}, {205, 154, 64, 64}, {154, 115, 64, 64}, {240, 256, 64, 64},
		{64, 64, 9, 8}, {64, 64, 8, 8}, {64, 64, 16, 16}, {300, 7, 7, 3}, {10, 12, 64, 64},
		{3, 3, 2, 2}, {1, 1, 1, 1}, {5, 5, 5, 5}, {4, 9, 1, 2}, {1000, 20, 64, 5},
	}
	for _, sz := range sizes {
		iw, ih, ow, oh := sz[0], sz[1], sz[2], sz[3]
		px := make([]float32, iw*ih)
		for i := range px {
			px[i] = float32(rng.IntN(256))
		}
		xs, ys := newAxisWeights(iw, ow), newAxisWeights(ih, oh)
		want := make([]float32, ow*oh)
		for y := range ih {
			for i := range oh {
				for k, wy := range ys.w[i] {
					if ys.lo[i]+k != y {
						continue
					}
					for x := range ow {
						var s float32
						for kk, wx := range xs.w[x] {
							s += wx * px[y*iw+xs.lo[x]+kk]
						}
						want[i*ow+x] += wy * s
					}
				}
			}
		}
		got := resampleRows(func(y int) []float32 { return px[y*iw : (y+1)*iw] }, iw, ih, ow, oh)
		for i := range want {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Errorf("%v: output %d is %v, summed plainly %v", sz, i, got[i], want[i])
				break
			}
		}
	}
}
