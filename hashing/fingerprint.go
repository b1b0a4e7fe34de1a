package hashing

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// FormatVersion is the version of the fingerprint's binary and text forms, and of the
// recipe that computes it: fingerprints of different versions are not comparable. Views
// added to the recipe since (each view names its variant, so older fingerprints still
// compare) kept version 1; the opened view's flag (bit 6 of a view's orientation byte) is
// rejected as malformed by binaries from before it, so such binaries cannot read newer
// fingerprints: do not roll a deployment back past it.
const FormatVersion = 1

// Fingerprint is the perceptual identity of a picture: the hashes of several views of it.
// A query fingerprint holds the picture's eight orientations; a reference fingerprint (a
// registered work) holds the upright picture and the crops and rotations that copiers make.
// When trimming borders, pads or screenshot chrome leaves a smaller picture, both also hold
// views of that trimmed picture; and both hold an opened view of the whole picture unless it
// is flat once opened (Variant.Opened).
// Matching compares every query view with every reference view.
type Fingerprint struct {
	// Version is FormatVersion when computed by this package.
	Version uint8 `json:"version"`
	// LowDetail marks a picture with little structure (flat graphics, near-blank pictures),
	// whose hashes say little: it is matched with a stricter threshold.
	LowDetail bool `json:"low_detail,omitempty"`
	// Views are the hashed views; the first is always the whole picture, upright.
	Views []View `json:"views"`
}

// Purpose selects the views a fingerprint holds.
type Purpose uint8

const (
	// Query fingerprints are of uploads: the picture in its eight orientations, so a
	// mirrored or rotated copy is turned back before comparison.
	Query Purpose = iota
	// Reference fingerprints are of registered works: the upright picture plus the regions
	// and rotations listed in ReferenceVariants.
	Reference
)

// ReferenceVariants are the views of a registered work beyond the whole picture: crops to
// 80% of each side on a 7×7 grid of offsets (0, 3, 7, 10, 13, 17 and 20%: a copier's crop
// is then never more than 2% of a side away from one of them, and the centred crop is on
// it), the centre 60%, turns of 4° and 15° either way (the largest upright rectangle inside
// the turned picture), and the four 60% strips of LogoStrips. Each adds 30 bytes to a work.
// The list was chosen on the accuracy benchmark: at the 1e-6 threshold a 5×5 grid (5% steps)
// found 74% of off-centre crops and this one 94%, with no impostor pair above the threshold
// added; a 3×3 grid found 30%; and the strips took a logo over 10% of the area in a corner
// from 69% to 99.7%.
var ReferenceVariants = func() []Variant {
	var vs []Variant
	grid := []uint8{0, 3, 7, 10, 13, 17, 20}
	for _, y := range grid {
		for _, x := range grid {
			vs = append(vs, Variant{Region: Region{x, y, 80, 80}})
		}
	}
	vs = append(vs,
		Variant{Region: Region{20, 20, 60, 60}},
		Variant{Angle: 4}, Variant{Angle: -4},
		Variant{Angle: 15}, Variant{Angle: -15},
	)
	return append(vs, LogoStrips...)
}()

// LogoStrips are the left, right, top and bottom 60% of a picture, held by both query and
// reference fingerprints. A logo or badge in a corner (up to about 10% of the area, which
// reaches 30–40% into the picture) covers every other view of an upload, but one of these
// strips leaves it out, and the same strip of the work matches it. Two cropped views are
// only compared when they are of the same region (see Compare), so the strips add no
// chances for unrelated pictures to meet through other crops.
var LogoStrips = []Variant{
	{Region: Region{0, 0, 60, 100}},
	{Region: Region{40, 0, 60, 100}},
	{Region: Region{0, 0, 100, 60}},
	{Region: Region{0, 40, 100, 60}},
}

// QueryVariants are the views of an upload beyond its eight orientations, each compared
// with every view of each work: its centre 60%, which a logo in a corner or a caption along
// an edge leaves untouched; its centre 94% and 88%, which drop the black corners of a
// picture turned a few degrees on its canvas (the reference's 4° views keep 89–94% of a
// side, depending on the aspect); its four corner crops to 80%, one of which misses any
// small overlay in a corner; and the LogoStrips.
var QueryVariants = append([]Variant{
	{Region: Region{20, 20, 60, 60}},
	{Region: Region{6, 6, 88, 88}},
	{Region: Region{3, 3, 94, 94}},
	{Region: Region{0, 0, 80, 80}},
	{Region: Region{20, 0, 80, 80}},
	{Region: Region{0, 20, 80, 80}},
	{Region: Region{20, 20, 80, 80}},
}, LogoStrips...)

// lowDetailBelow is the detail (standard deviation of the 16×16 picture, in gray levels)
// under which a picture counts as low-detail.
const lowDetailBelow = 10

// trimmed reports whether the content box differs enough from the whole picture to be
// worth views of its own: some side trimmed by at least 2% and 2 pixels.
func (img *Image) trimmed() bool {
	b, c := img.Gray.Bounds(), img.Content
	far := func(d, side int) bool { return d >= 2 && 50*d >= side }
	return far(c.Min.X-b.Min.X, b.Dx()) || far(b.Max.X-c.Max.X, b.Dx()) ||
		far(c.Min.Y-b.Min.Y, b.Dy()) || far(b.Max.Y-c.Max.Y, b.Dy())
}

// Detail measures how much structure the picture has: the standard deviation, in gray levels,
// of the whole picture downscaled to 16×16. Below 10 the picture counts as low-detail.
func (img *Image) Detail() float64 { return detail(viewSource(img, Variant{Region: Full})) }

// Fingerprint computes the fingerprint of a normalised image for a purpose. Each view costs
// about 0.25 ms on the development machine (a few milliseconds a fingerprint); it is safe for
// concurrent use.
func (img *Image) Fingerprint(p Purpose) *Fingerprint {
	fp := &Fingerprint{Version: FormatVersion}
	vw := &viewer{img: img}
	whole := vw.source(Variant{Region: Full})
	fp.LowDetail = detail(whole) < lowDetailBelow
	bases := []Variant{{Region: Full}}
	if img.trimmed() {
		bases = append(bases, Variant{Trimmed: true, Region: Full})
	}
	for _, b := range bases {
		src := whole
		if b.Trimmed {
			src = vw.source(b)
		}
		switch p {
		case Query:
			for o, h := range orientedHashes(src) {
				v := b
				v.Orientation = Orientation(o)
				fp.Views = append(fp.Views, View{v, h})
			}
		case Reference:
			fp.Views = append(fp.Views, View{b, hashesOf(src)})
		}
	}
	extra := QueryVariants
	if p == Reference {
		extra = ReferenceVariants
	}
	{
		for _, v := range extra {
			fp.Views = append(fp.Views, View{v, hashesOf(orientFloats(vw.source(v), hashSide, v.Orientation))})
		}
	}
	if v, ok := openedView(vw); ok {
		fp.Views = append(fp.Views, v)
	}
	return fp
}

// Binary form, version 1:
//
//	magic "AF" | version (1 byte) | flags (1 byte: bit 0 low detail) | view count (uvarint)
//	each view: orientation (bit 7: trimmed, bit 6: opened), angle, region x, y, w, h (1 byte each)
//	           | P, D, A (8 bytes each, big endian)
const (
	flagTrimmed = 0x80
	flagOpened  = 0x40
)

const (
	magic    = "AF"
	viewSize = 6 + 24
	maxViews = 1024
)

// textPrefix starts the text form: "afp1." followed by the binary form in unpadded base64url.
const textPrefix = "afp1."

// ErrBadFingerprint is returned by UnmarshalBinary and ParseFingerprint for malformed input.
var ErrBadFingerprint = errors.New("bad fingerprint")

// MarshalBinary encodes the fingerprint in its versioned binary form. It never fails.
func (f *Fingerprint) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, 4+binary.MaxVarintLen16+viewSize*len(f.Views))
	b = append(b, magic...)
	b = append(b, f.Version, 0)
	if f.LowDetail {
		b[3] |= 1
	}
	b = binary.AppendUvarint(b, uint64(len(f.Views)))
	for _, v := range f.Views {
		o := byte(v.Orientation)
		if v.Trimmed {
			o |= flagTrimmed
		}
		if v.Opened {
			o |= flagOpened
		}
		b = append(b, o, byte(v.Angle), v.Region.X, v.Region.Y, v.Region.W, v.Region.H)
		b = binary.BigEndian.AppendUint64(b, uint64(v.P))
		b = binary.BigEndian.AppendUint64(b, uint64(v.D))
		b = binary.BigEndian.AppendUint64(b, uint64(v.A))
	}
	return b, nil
}

// UnmarshalBinary decodes the binary form. Any malformation, an unknown version included,
// is ErrBadFingerprint.
func (f *Fingerprint) UnmarshalBinary(b []byte) error {
	bad := func(why string) error { return fmt.Errorf("hashing: %w: %s", ErrBadFingerprint, why) }
	if len(b) < 5 || string(b[:2]) != magic {
		return bad("no magic")
	}
	if b[2] != FormatVersion {
		return bad(fmt.Sprintf("version %d, want %d", b[2], FormatVersion))
	}
	if b[3]&^1 != 0 {
		return bad("unknown flags")
	}
	n, k := binary.Uvarint(b[4:])
	if k <= 0 || n == 0 || n > maxViews {
		return bad("view count")
	}
	rest := b[4+k:]
	if uint64(len(rest)) != n*viewSize {
		return bad(fmt.Sprintf("%d view bytes for %d views", len(rest), n))
	}
	views := make([]View, n)
	for i := range views {
		p := rest[i*viewSize:]
		v := View{Variant: Variant{
			Trimmed: p[0]&flagTrimmed != 0, Opened: p[0]&flagOpened != 0, Orientation: Orientation(p[0] &^ (flagTrimmed | flagOpened)),
			Angle: int8(p[1]), Region: Region{p[2], p[3], p[4], p[5]},
		}}
		if v.Orientation > Transverse || !v.Region.valid() {
			return bad(fmt.Sprintf("view %d variant", i))
		}
		v.P = Hash(binary.BigEndian.Uint64(p[6:]))
		v.D = Hash(binary.BigEndian.Uint64(p[14:]))
		v.A = Hash(binary.BigEndian.Uint64(p[22:]))
		views[i] = v
	}
	*f = Fingerprint{Version: b[2], LowDetail: b[3]&1 != 0, Views: views}
	return nil
}

// String returns the text form: "afp1." and the binary form in unpadded base64url.
func (f *Fingerprint) String() string {
	b, _ := f.MarshalBinary()
	return textPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// MarshalText returns the text form.
func (f *Fingerprint) MarshalText() ([]byte, error) { return []byte(f.String()), nil }

// UnmarshalText parses the text form.
func (f *Fingerprint) UnmarshalText(b []byte) error {
	s, ok := strings.CutPrefix(string(b), textPrefix)
	if !ok {
		return fmt.Errorf("hashing: %w: text form must start with %q", ErrBadFingerprint, textPrefix)
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return fmt.Errorf("hashing: %w: %v", ErrBadFingerprint, err)
	}
	return f.UnmarshalBinary(raw)
}

// ParseFingerprint parses the text form that String returns.
func ParseFingerprint(s string) (*Fingerprint, error) {
	f := new(Fingerprint)
	if err := f.UnmarshalText([]byte(s)); err != nil {
		return nil, err
	}
	return f, nil
}
