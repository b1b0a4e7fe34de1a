package web

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/aura-art/aura/hashing"
	"github.com/aura-art/aura/verdict"
)

// orientation is what the page does with a hashing.Orientation (by its String name):
// hashing's Match.Upload.Orientation says how the upload is turned relative to the work, so
// the page turns the work the same way to show it as the upload does.
type orientation struct {
	o hashing.Orientation
	// adj describes the turn as an adjective of "copy"; "" for the identity.
	adj string
	// transform turns the picture about its centre, in SVG (and CSS) transform syntax.
	// Functions apply right to left, y points down and rotate(90) is clockwise on screen, so
	// rotate(90) maps (x, y) to (−y, x), as hashing's orient does for Rot90.
	transform string
}

var orientations = map[string]orientation{
	hashing.Identity.String():   {o: hashing.Identity},
	hashing.Mirror.String():     {o: hashing.Mirror, adj: "mirrored", transform: "scale(-1,1)"},
	hashing.FlipV.String():      {o: hashing.FlipV, adj: "upside-down", transform: "scale(1,-1)"},
	hashing.Rot180.String():     {o: hashing.Rot180, adj: "turned 180°", transform: "rotate(180)"},
	hashing.Transpose.String():  {o: hashing.Transpose, adj: "transposed (flipped over its main diagonal)", transform: "rotate(-90) scale(-1,1)"},
	hashing.Rot90.String():      {o: hashing.Rot90, adj: "turned 90° clockwise", transform: "rotate(90)"},
	hashing.Rot270.String():     {o: hashing.Rot270, adj: "turned 90° anticlockwise", transform: "rotate(-90)"},
	hashing.Transverse.String(): {o: hashing.Transverse, adj: "transversed (flipped over its other diagonal)", transform: "rotate(90) scale(-1,1)"},
}

// lookupOrientation returns the page's handling of an orientation name; an unknown name is
// the identity.
func lookupOrientation(name string) orientation {
	if o, ok := orientations[name]; ok {
		return o
	}
	return orientations[hashing.Identity.String()]
}

// variantTransform is the SVG transform that shows the work as the upload shows it: turned
// by angle degrees anticlockwise, then by the orientation (as hashing's Variant applies
// them).
func variantTransform(m verdict.Match) string {
	var parts []string
	if t := lookupOrientation(m.Orientation).transform; t != "" {
		parts = append(parts, t)
	}
	if m.Angle != 0 {
		parts = append(parts, fmt.Sprintf("rotate(%d)", -m.Angle))
	}
	return strings.Join(parts, " ")
}

// evidence is a match in words.
type evidence struct {
	// Summary is one sentence: "very close: 94% similar; the upload is a mirrored, cropped
	// copy of the work."
	Summary string
	// Details are further sentences (the crop's extent, the trim, low detail).
	Details []string
	// Hashes explain each hash's distance.
	Hashes []hashLine
}

// hashLine is one hash's distance in words.
type hashLine struct {
	Name, What string
	Distance   int
	Words      string
}

// closeness puts a score into words, against the thresholds.
func closeness(score float64, th hashing.Thresholds) string {
	switch {
	case score >= 0.97:
		return "nearly identical"
	case score >= 0.9:
		return "very close"
	case score >= th.Forgery:
		return "close"
	case score >= th.Match:
		return "similar"
	default:
		return "weak"
	}
}

// distanceWords puts one hash's Hamming distance (of 64 bits) into words.
func distanceWords(d int) string {
	switch {
	case d == 0:
		return "identical"
	case d <= 5:
		return "nearly identical"
	case d <= 10:
		return "very similar"
	case d <= 16:
		return "similar"
	case d <= 24:
		return "somewhat different"
	default:
		return "different: unrelated pictures differ in about 32"
	}
}

// describe says what a match found, in words a moderator reads at a glance.
func describe(m verdict.Match, th hashing.Thresholds) evidence {
	var adjs []string
	if a := lookupOrientation(m.Orientation).adj; a != "" {
		adjs = append(adjs, a)
	}
	if m.Angle != 0 {
		dir, a := "anticlockwise", m.Angle
		if a < 0 {
			dir, a = "clockwise", -a
		}
		adjs = append(adjs, fmt.Sprintf("rotated %d° %s", a, dir))
	}
	// sameCrop: the same part of both pictures matched (a logo or caption over the rest).
	partial := !m.UploadRegion.IsFull()
	sameCrop := partial && m.UploadRegion == m.Region
	if !m.Region.IsFull() && !sameCrop {
		adjs = append(adjs, "cropped")
	}
	if m.Trimmed {
		adjs = append(adjs, "trimmed")
	}
	if partial {
		adjs = append(adjs, "partly covered or framed")
	}
	if m.Opened {
		adjs = append(adjs, "watermarked or overlaid")
	}
	what := "an unaltered copy of the whole work"
	if len(adjs) > 0 {
		what = "a " + strings.Join(adjs, ", ") + " copy of the work"
	}
	e := evidence{Summary: fmt.Sprintf("%s: %s similar; the upload is %s.", closeness(m.Score, th), pct(m.Score), what)}
	switch r := m.UploadRegion; {
	case sameCrop:
		e.Details = append(e.Details, fmt.Sprintf("The same %d%% × %d%% of both pictures matched, starting %d%% from the left and %d%% from the top (the box); the rest of the upload differs, as under a logo, a caption or another overlay.", r.W, r.H, r.X, r.Y))
	case partial:
		e.Details = append(e.Details, fmt.Sprintf("The work matched %d%% × %d%% of the upload, starting %d%% from its left and %d%% from its top; the rest of the upload differs, as under a logo, a caption or a frame.", r.W, r.H, r.X, r.Y))
	}
	if !m.Region.IsFull() && !sameCrop {
		r := m.Region
		e.Details = append(e.Details, fmt.Sprintf("It shows %d%% × %d%% of the work, starting %d%% from its left and %d%% from its top (the box).", r.W, r.H, r.X, r.Y))
	}
	if m.Trimmed {
		e.Details = append(e.Details, "Borders, padding or screenshot chrome were trimmed before matching.")
	}
	if m.Opened {
		e.Details = append(e.Details, "The pictures matched once thin bright strokes were removed from both: the upload carries a light overlay, such as a tiled watermark, that the work does not.")
	}
	floor := th.Match
	if m.LowDetail {
		floor = th.LowDetail
		e.Details = append(e.Details, fmt.Sprintf("One of the pictures has little detail, so the match was held to the stricter threshold of %s.", thresholdPct(th.LowDetail)))
	}
	switch {
	case m.Score < floor:
		e.Details = append(e.Details, fmt.Sprintf("The score is below the match threshold of %s.", thresholdPct(floor)))
	case m.Score >= th.Forgery && m.Whole():
		e.Details = append(e.Details, fmt.Sprintf("At or above %s for the whole, unturned picture: a likely forgery.", thresholdPct(th.Forgery)))
	}
	d := m.Distances
	e.Hashes = []hashLine{
		{Name: "pHash", What: "overall structure", Distance: d.P, Words: distanceWords(d.P)},
		{Name: "dHash", What: "edges and gradients", Distance: d.D, Words: distanceWords(d.D)},
		{Name: "aHash", What: "light and dark areas", Distance: d.A, Words: distanceWords(d.A)},
	}
	return e
}

// thresholdPct writes a threshold as a percentage to a tenth of a point, so a threshold of
// 0.725 reads 72.5%, not the 72% that a score of 0.724 would seem to pass.
func thresholdPct(x float64) string {
	return strconv.FormatFloat(math.Round(x*1000)/10, 'f', -1, 64) + "%"
}

// pct formats a score in [0, 1] as a whole percentage, rounded down so that 0.999 is not
// shown as 100%.
func pct(score float64) string {
	p := int(score*100 + 1e-9)
	if p < 0 {
		p = 0
	}
	return fmt.Sprintf("%d%%", p)
}
