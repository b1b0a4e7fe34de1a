package web

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aura-art/aura/hashing"
	"github.com/aura-art/aura/index"
	"github.com/aura-art/aura/review"
	"github.com/aura-art/aura/verdict"
)

func TestDescribe(t *testing.T) {
	t.Parallel()
	th := hashing.DefaultThresholds
	tests := []struct {
		m    verdict.Match
		want string
	}{
		{verdict.Match{Score: 0.94, Orientation: "mirror", Region: hashing.Region{X: 10, Y: 10, W: 80, H: 80}},
			"very close: 94% similar; the upload is a mirrored, cropped copy of the work."},
		{verdict.Match{Score: 0.99, Orientation: "identity", Region: hashing.Full},
			"nearly identical: 99% similar; the upload is an unaltered copy of the whole work."},
		{verdict.Match{Score: 0.86, Orientation: "rot90"},
			"close: 86% similar; the upload is a turned 90° clockwise copy of the work."},
		{verdict.Match{Score: 0.80, Angle: -15, Trimmed: true},
			"similar: 80% similar; the upload is a rotated 15° clockwise, trimmed copy of the work."},
		{verdict.Match{Score: 0.5, Orientation: "no-such-orientation"},
			"weak: 50% similar; the upload is an unaltered copy of the whole work."},
		{verdict.Match{Score: 0.79, Region: hashing.Region{X: 40, W: 60, H: 100}, UploadRegion: hashing.Region{X: 40, W: 60, H: 100}},
			"similar: 79% similar; the upload is a partly covered or framed copy of the work."},
		{verdict.Match{Score: 0.79, Region: hashing.Full, UploadRegion: hashing.Region{X: 20, Y: 20, W: 60, H: 60}},
			"similar: 79% similar; the upload is a partly covered or framed copy of the work."},
		{verdict.Match{Score: 0.93, Orientation: "identity", Region: hashing.Full, Opened: true},
			"very close: 93% similar; the upload is a watermarked or overlaid copy of the work."},
	}
	for _, tc := range tests {
		if got := describe(tc.m, th).Summary; got != tc.want {
			t.Errorf("describe(%+v):\n got %q\nwant %q", tc.m, got, tc.want)
		}
	}
	e := describe(verdict.Match{Score: 0.5, Distances: hashing.Distances{P: 0, D: 9, A: 30}}, th)
	if e.Hashes[0].Words != "identical" || e.Hashes[1].Words != "very similar" || e.Hashes[2].Distance != 30 {
		t.Errorf("hash lines %+v", e.Hashes)
	}
	if len(e.Details) == 0 || e.Details[len(e.Details)-1] != "The score is below the match threshold of 72.5%." {
		t.Errorf("details %q: want the threshold named", e.Details)
	}
}

// TestDescribePartOfTheUpload checks the details of a match of a part of the upload: the same
// strip of both pictures (a logo over the rest) is not described as a crop of the work.
func TestDescribePartOfTheUpload(t *testing.T) {
	t.Parallel()
	strip := hashing.Region{X: 40, W: 60, H: 100}
	e := describe(verdict.Match{Score: 0.8, Region: strip, UploadRegion: strip}, hashing.DefaultThresholds)
	joined := strings.Join(e.Details, " ")
	if !strings.Contains(joined, "The same 60% × 100% of both pictures matched") || strings.Contains(joined, "It shows") {
		t.Errorf("same strip: details %q", e.Details)
	}
	e = describe(verdict.Match{Score: 0.8, Region: hashing.Full, UploadRegion: strip}, hashing.DefaultThresholds)
	if joined := strings.Join(e.Details, " "); !strings.Contains(joined, "The work matched 60% × 100% of the upload, starting 40% from its left") {
		t.Errorf("part of the upload: details %q", e.Details)
	}
	// However high its score, a match of a part of the upload is no likely forgery
	// (verdict.Classify calls it a derivative).
	m := verdict.Match{Score: 0.94, Orientation: "identity", Region: hashing.Full, UploadRegion: strip}
	if joined := strings.Join(describe(m, hashing.DefaultThresholds).Details, " "); strings.Contains(joined, "likely forgery") {
		t.Errorf("part of the upload at 0.94: details %q", joined)
	}
	m.UploadRegion = hashing.Region{}
	if joined := strings.Join(describe(m, hashing.DefaultThresholds).Details, " "); !strings.Contains(joined, "likely forgery") {
		t.Errorf("whole upload at 0.94: details %q, want a likely forgery", joined)
	}
}

func TestThresholdPct(t *testing.T) {
	t.Parallel()
	for in, want := range map[float64]string{0.725: "72.5%", 0.8: "80%", 0.85: "85%", 0.7212: "72.1%", 1: "100%"} {
		if got := thresholdPct(in); got != want {
			t.Errorf("thresholdPct(%v) = %q, want %q", in, got, want)
		}
	}
}

func TestPct(t *testing.T) {
	t.Parallel()
	for in, want := range map[float64]string{0: "0%", 0.999: "99%", 1: "100%", 0.94: "94%", -1: "0%", 0.76: "76%"} {
		if got := pct(in); got != want {
			t.Errorf("pct(%v) = %q, want %q", in, got, want)
		}
	}
}

// affine is a 2D affine map of SVG's transform functions.
type affine struct{ a, b, c, d, e, f float64 } // x' = a x + c y + e; y' = b x + d y + f

func (m affine) then(n affine) affine { // n after m
	return affine{
		a: n.a*m.a + n.c*m.b, b: n.b*m.a + n.d*m.b,
		c: n.a*m.c + n.c*m.d, d: n.b*m.c + n.d*m.d,
		e: n.a*m.e + n.c*m.f + n.e, f: n.b*m.e + n.d*m.f + n.f,
	}
}

var fnRE = regexp.MustCompile(`(rotate|scale)\(([-0-9.]+)(?:,([-0-9.]+))?\)`)

// parseTransform reads the subset of SVG transform syntax variantTransform writes. The
// functions apply right to left.
func parseTransform(t *testing.T, s string) affine {
	t.Helper()
	m := affine{a: 1, d: 1}
	fns := fnRE.FindAllStringSubmatch(s, -1)
	for i := len(fns) - 1; i >= 0; i-- {
		v, _ := strconv.ParseFloat(fns[i][2], 64)
		var f affine
		switch fns[i][1] {
		case "rotate":
			r := v * math.Pi / 180
			f = affine{a: math.Cos(r), b: math.Sin(r), c: -math.Sin(r), d: math.Cos(r)}
		case "scale":
			y := v
			if fns[i][3] != "" {
				y, _ = strconv.ParseFloat(fns[i][3], 64)
			}
			f = affine{a: v, d: y}
		}
		m = m.then(f)
	}
	return m
}

// TestTransformsMatchOrient checks that the SVG transform the page applies to the work moves
// every pixel where the difference view's orientRGBA (hashing's pixel mapping) puts it.
func TestTransformsMatchOrient(t *testing.T) {
	t.Parallel()
	const w, h = 3, 2
	src := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			src.Pix[src.PixOffset(x, y)] = uint8(10*y + x + 1)
		}
	}
	for o := range hashing.Orientation(8) {
		out := hashing.OrientRGBA(src, o)
		m := parseTransform(t, variantTransform(verdict.Match{Orientation: o.String()}))
		ow, oh := out.Bounds().Dx(), out.Bounds().Dy()
		for y := range h {
			for x := range w {
				cx, cy := float64(x)+0.5-w/2.0, float64(y)+0.5-h/2.0
				tx, ty := m.a*cx+m.c*cy+m.e, m.b*cx+m.d*cy+m.f
				dx, dy := int(math.Round(tx+float64(ow)/2-0.5)), int(math.Round(ty+float64(oh)/2-0.5))
				if got, want := out.Pix[out.PixOffset(dx, dy)], src.Pix[src.PixOffset(x, y)]; got != want {
					t.Errorf("%v: the transform takes pixel (%d,%d) to (%d,%d), where orient put %d, not %d", o, x, y, dx, dy, got, want)
				}
			}
		}
	}
}

// TestOrientAnchors pins orientRGBA to hashing's documented directions.
func TestOrientAnchors(t *testing.T) {
	t.Parallel()
	src := image.NewRGBA(image.Rect(0, 0, 3, 2))
	src.Pix[0] = 9 // top-left
	where := map[hashing.Orientation]image.Point{
		hashing.Identity: {0, 0}, hashing.Mirror: {2, 0}, hashing.FlipV: {0, 1}, hashing.Rot180: {2, 1},
		hashing.Rot90:  {1, 0}, // clockwise: the top-left goes to the top-right of the 2×3 result
		hashing.Rot270: {0, 2}, hashing.Transpose: {0, 0}, hashing.Transverse: {1, 2},
	}
	for o, p := range where {
		out := hashing.OrientRGBA(src, o)
		if out.Pix[out.PixOffset(p.X, p.Y)] != 9 {
			t.Errorf("%v: the top-left pixel is not at %v", o, p)
		}
	}
}

// picture is a smooth test picture: a gradient with a bright disc off centre, so that
// mirrors and crops show.
func picture(x, y float64) color.RGBA {
	v := uint8(math.Min(255, x*0.8+y*0.3))
	c := color.RGBA{v, uint8(255 - int(v)), uint8(math.Min(255, y)), 255}
	if dx, dy := x-60, y-50; dx*dx+dy*dy < 30*30 {
		c = color.RGBA{250, 250, 240, 255}
	}
	return c
}

func encodeJPEG(t *testing.T, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func meanOf(t *testing.T, pngBytes []byte) float64 {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(pngBytes))
	if err != nil {
		t.Fatal(err)
	}
	r := img.(*image.RGBA)
	var sum float64
	for i := 0; i < len(r.Pix); i += 4 {
		sum += float64(r.Pix[i]) + float64(r.Pix[i+1]) + float64(r.Pix[i+2])
	}
	return sum / float64(len(r.Pix)/4*3)
}

func TestDiffPNG(t *testing.T) {
	t.Parallel()
	const W, H = 200, 160
	work := image.NewRGBA(image.Rect(0, 0, W, H))
	for y := range H {
		for x := range W {
			work.SetRGBA(x, y, picture(float64(x), float64(y)))
		}
	}
	// The upload: the work's region (10%, 10%, 80%, 80%), mirrored, at another size.
	region := hashing.Region{X: 10, Y: 10, W: 80, H: 80}
	const UW, UH = 120, 96
	upload := image.NewRGBA(image.Rect(0, 0, UW, UH))
	for v := range UH {
		for u := range UW {
			sx := 0.1*W + (float64(UW-1-u)+0.5)*0.8*W/UW
			sy := 0.1*H + (float64(v)+0.5)*0.8*H/UH
			upload.SetRGBA(u, v, picture(sx, sy))
		}
	}
	uj, wj := encodeJPEG(t, upload), encodeJPEG(t, work)
	right, err := diffPNG(uj, wj, verdict.Match{Orientation: "mirror", Region: region})
	if err != nil {
		t.Fatal(err)
	}
	wrongTurn, _ := diffPNG(uj, wj, verdict.Match{Orientation: "identity", Region: region})
	noCrop, _ := diffPNG(uj, wj, verdict.Match{Orientation: "mirror"})
	mr, mt, mc := meanOf(t, right), meanOf(t, wrongTurn), meanOf(t, noCrop)
	t.Logf("mean difference: right variant %.1f, not mirrored %.1f, not cropped %.1f", mr, mt, mc)
	if mr > 6*diffGain { // the picture is amplified diffGain times: 6 levels of the raw difference
		t.Errorf("with the right variant the difference averages %.1f, want near 0", mr)
	}
	if mt < 3*mr+10 || mc < 3*mr+5 {
		t.Errorf("a wrong variant (%.1f, %.1f) is not clearly worse than the right one (%.1f)", mt, mc, mr)
	}
	img, _ := png.DecodeConfig(bytes.NewReader(right))
	if wantH := int(math.Round(diffSide * float64(UH) / UW)); img.Width != diffSide || img.Height != wantH {
		t.Errorf("diff is %d×%d, want %d×%d (the upload's aspect)", img.Width, img.Height, diffSide, wantH)
	}
	if _, err := diffPNG([]byte("not a jpeg"), wj, verdict.Match{}); err == nil {
		t.Error("diffPNG accepted an upload that is not a JPEG")
	}
	huge := encodeJPEG(t, image.NewGray(image.Rect(0, 0, 3000, 10)))
	if _, err := diffPNG(huge, wj, verdict.Match{}); err == nil {
		t.Error("diffPNG decoded a thumbnail wider than maxThumbSide")
	}
}

func TestRotateInnerKeepsCentre(t *testing.T) {
	t.Parallel()
	src := image.NewRGBA(image.Rect(0, 0, 41, 41))
	src.SetRGBA(20, 20, color.RGBA{255, 0, 0, 255})
	out := rotateInner(src, 30)
	b := out.Bounds()
	if b.Dx() >= 41 || b.Dx() < 25 {
		t.Errorf("rotated inner rectangle is %v, want smaller than the picture", b)
	}
	if r := out.RGBAAt(b.Dx()/2, b.Dy()/2).R; r == 0 {
		t.Error("the centre moved")
	}
}

// TestQueueCursorMatchesStore keeps queueCursor in step with the stores' queue key: listing
// after a case's cursor must start with the case after it.
func TestQueueCursorMatchesStore(t *testing.T) {
	t.Parallel()
	st, err := index.OpenBolt(filepath.Join(t.TempDir(), "aura.db"), index.BoltOptions{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cs, err := review.NewBoltStore(st.DB())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	base := time.Now().Add(-time.Hour)
	var ids []string
	for i := range 3 {
		c, _, err := cs.CreateCase(ctx, &review.Case{
			ID: fmt.Sprintf("c_%d", i), Kind: review.Upload, Tenant: "shop", SubjectID: fmt.Sprint(i),
			Matches: []verdict.Match{{WorkID: "w_1"}}, CreatedAt: base.Add(time.Duration(i%2) * time.Minute),
		})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.ID)
	}
	all, _, err := cs.ListCases(ctx, review.Filter{})
	if err != nil || len(all) != 3 {
		t.Fatalf("list: %d cases, %v", len(all), err)
	}
	for i := 0; i < len(all)-1; i++ {
		_, next, err := cs.ListCases(ctx, review.Filter{Limit: i + 1})
		if err != nil {
			t.Fatal(err)
		}
		if got := queueCursor(all[i].CreatedAt, all[i].ID); got != next {
			t.Errorf("queueCursor of case %d = %q, the store's cursor is %q", i, got, next)
		}
		page, _, err := cs.ListCases(ctx, review.Filter{After: queueCursor(all[i].CreatedAt, all[i].ID), Limit: 1})
		if err != nil || len(page) != 1 || page[0].ID != all[i+1].ID {
			t.Errorf("after case %d: %+v, %v; want case %s", i, page, err, all[i+1].ID)
		}
	}
}
