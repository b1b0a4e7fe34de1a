package hashing

import (
	"errors"
	"image"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"github.com/corona10/goimagehash"
	"github.com/google/go-cmp/cmp"
)

func TestHashStringRoundTrip(t *testing.T) {
	t.Parallel()
	for _, h := range []Hash{0, 1, 0xdeadbeefcafef00d, ^Hash(0)} {
		got, err := ParseHash(h.String())
		if err != nil || got != h {
			t.Errorf("ParseHash(%q) = %v, %v; want %v", h.String(), got, err, h)
		}
	}
	for _, bad := range []string{"", "123", "zzzzzzzzzzzzzzzz", "0123456789abcdef0"} {
		if _, err := ParseHash(bad); err == nil {
			t.Errorf("ParseHash(%q) succeeded", bad)
		}
	}
}

func TestHashDistance(t *testing.T) {
	t.Parallel()
	if d := Hash(0).Distance(^Hash(0)); d != 64 {
		t.Errorf("distance of complements = %d, want 64", d)
	}
	if d := Hash(0b1011).Distance(0b0001); d != 2 {
		t.Errorf("distance = %d, want 2", d)
	}
}

func sampleFingerprint() *Fingerprint {
	return &Fingerprint{Version: FormatVersion, LowDetail: true, Views: []View{
		{Variant{Region: Full}, Hashes{1, 2, 3}},
		{Variant{Orientation: Rot90, Angle: -15, Region: Region{10, 20, 60, 70}}, Hashes{^Hash(0), 0x8000000000000000, 42}},
	}}
}

func TestFingerprintRoundTrip(t *testing.T) {
	t.Parallel()
	fp := sampleFingerprint()
	b, err := fp.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if want := 5 + 2*viewSize; len(b) != want {
		t.Errorf("binary form is %d bytes, want %d", len(b), want)
	}
	var got Fingerprint
	if err := got.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(fp, &got); diff != "" {
		t.Errorf("binary round trip (-want +got):\n%s", diff)
	}
	parsed, err := ParseFingerprint(fp.String())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(fp, parsed); diff != "" {
		t.Errorf("text round trip (-want +got):\n%s", diff)
	}
}

// TestOpenedViewRoundTrip checks that an opened view keeps its flag through the binary form,
// beside the trimmed flag, in bit 6 of the orientation byte.
func TestOpenedViewRoundTrip(t *testing.T) {
	t.Parallel()
	fp := &Fingerprint{Version: FormatVersion, Views: []View{
		{Variant: Variant{Region: Full}, Hashes: Hashes{P: 1, D: 2, A: 3}},
		{Variant: Variant{Opened: true, Region: Full}, Hashes: Hashes{P: 4, D: 5, A: 6}},
		{Variant: Variant{Opened: true, Trimmed: true, Orientation: Rot90, Region: Full}, Hashes: Hashes{P: 7}},
	}}
	b, err := fp.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if o := b[5+viewSize]; o != 0x40 {
		t.Errorf("opened view's orientation byte %#x, want 0x40", o)
	}
	var got Fingerprint
	if err := got.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(fp, &got); diff != "" {
		t.Errorf("binary round trip (-want +got):\n%s", diff)
	}
}

// TestFingerprintTextGolden pins the text form: a change to it breaks every stored
// fingerprint, so it must come with a new FormatVersion.
func TestFingerprintTextGolden(t *testing.T) {
	t.Parallel()
	const want = "afp1.QUYBAQIAAAAAZGQAAAAAAAAAAQAAAAAAAAACAAAAAAAAAAMF8QoUPEb__________4AAAAAAAAAAAAAAAAAAACo"
	if got := sampleFingerprint().String(); got != want {
		t.Errorf("text form changed:\n got %s\nwant %s", got, want)
	}
}

func TestFingerprintMalformed(t *testing.T) {
	t.Parallel()
	good, _ := sampleFingerprint().MarshalBinary()
	mutate := func(f func(b []byte) []byte) []byte {
		b := append([]byte(nil), good...)
		return f(b)
	}
	cases := map[string][]byte{
		"empty":          nil,
		"magic":          mutate(func(b []byte) []byte { b[0] = 'X'; return b }),
		"version":        mutate(func(b []byte) []byte { b[2] = 9; return b }),
		"flags":          mutate(func(b []byte) []byte { b[3] = 0x80; return b }),
		"zero views":     mutate(func(b []byte) []byte { b[4] = 0; return b[:5] }),
		"short":          good[:len(good)-1],
		"long":           append(append([]byte(nil), good...), 0),
		"orientation":    mutate(func(b []byte) []byte { b[5] = 8; return b }),
		"region outside": mutate(func(b []byte) []byte { b[5+viewSize+2] = 90; return b }),
		"huge count":     mutate(func(b []byte) []byte { return append(b[:4], 0xff, 0xff, 0x03) }),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			var fp Fingerprint
			if err := fp.UnmarshalBinary(b); !errors.Is(err, ErrBadFingerprint) {
				t.Errorf("UnmarshalBinary = %v, want ErrBadFingerprint", err)
			}
		})
	}
	for _, s := range []string{"", "afp1.", "afp2.QUYB", "afp1.!!!"} {
		if _, err := ParseFingerprint(s); !errors.Is(err, ErrBadFingerprint) {
			t.Errorf("ParseFingerprint(%q) = %v, want ErrBadFingerprint", s, err)
		}
	}
}

// TestPerceptionHashIsGoimagehash checks perceptionHash against goimagehash.PerceptionHash,
// bit for bit, on noise, gradients, flat and two-level pictures (ties at the median) and the
// views of a photo.
func TestPerceptionHashIsGoimagehash(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	var pics []*image.Gray
	for k := range 200 {
		g := image.NewGray(image.Rect(0, 0, hashSide, hashSide))
		for i := range g.Pix {
			x, y := i%hashSide, i/hashSide
			switch k % 4 {
			case 0:
				g.Pix[i] = uint8(rng.IntN(256))
			case 1:
				g.Pix[i] = uint8((x*k + y*(k/3)) % 256)
			case 2:
				g.Pix[i] = uint8(k)
			case 3:
				g.Pix[i] = uint8(255 * ((x/(1+k%7) + y/(1+k%5)) % 2))
			}
		}
		pics = append(pics, g)
	}
	img, err := DefaultConfig().Decode(readFile(t, "../fixtures/images/chelsea-the-cat.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range append(slices.Clone(ReferenceVariants), QueryVariants...) {
		pics = append(pics, toGray(orientFloats(viewSource(img, v), hashSide, v.Orientation), hashSide, hashSide))
	}
	for i, g := range pics {
		want, err := goimagehash.PerceptionHash(g)
		if err != nil {
			t.Fatal(err)
		}
		if got := perceptionHash(g); uint64(got) != want.GetHash() {
			t.Errorf("picture %d: perceptionHash %016x, goimagehash %016x", i, uint64(got), want.GetHash())
		}
		// Every orientation, through one pHasher as the query fingerprint computes them.
		ph := newPHasher(g)
		for _, o := range []Orientation{Rot90, Transverse, Identity, Mirror, Rot270, FlipV, Transpose, Rot180} {
			want, err := goimagehash.PerceptionHash(orient(g, o))
			if err != nil {
				t.Fatal(err)
			}
			if got := ph.hash(o); uint64(got) != want.GetHash() {
				t.Errorf("picture %d turned by %v: pHasher %016x, goimagehash %016x", i, o, uint64(got), want.GetHash())
			}
		}
	}
}

// TestFingerprintIsGoimagehash checks every view of query and reference fingerprints of the
// fixture photos against goimagehash's three hashes of the view's 64×64 picture, computed
// the plain way: the picture turned and handed to PerceptionHash, and its 9×8 and 8×8
// area-filtered pictures to DifferenceHash and AverageHash.
func TestFingerprintIsGoimagehash(t *testing.T) {
	t.Parallel()
	names, err := filepath.Glob("../fixtures/images/*")
	if err != nil || len(names) == 0 {
		t.Fatalf("no fixture images: %v", err)
	}
	trimmed := 0
	for _, name := range names {
		img, err := DefaultConfig().Decode(readFile(t, name))
		if err != nil {
			t.Fatal(err)
		}
		if img.trimmed() {
			trimmed++
		}
		for _, p := range []Purpose{Query, Reference} {
			fp := img.Fingerprint(p)
			for _, v := range fp.Views {
				px := orientFloats(viewSource(img, v.Variant), hashSide, v.Orientation)
				pw, err1 := goimagehash.PerceptionHash(toGray(px, hashSide, hashSide))
				dw, err2 := goimagehash.DifferenceHash(toGray(resample(floatReader(px), hashSide, hashSide, 9, 8), 9, 8))
				aw, err3 := goimagehash.AverageHash(toGray(resample(floatReader(px), hashSide, hashSide, 8, 8), 8, 8))
				if err := errors.Join(err1, err2, err3); err != nil {
					t.Fatal(err)
				}
				want := Hashes{P: Hash(pw.GetHash()), D: Hash(dw.GetHash()), A: Hash(aw.GetHash())}
				if v.Hashes != want {
					t.Errorf("%s purpose %d view %v: %+v, goimagehash %+v", name, p, v.Variant, v.Hashes, want)
				}
			}
		}
	}
	if trimmed == 0 {
		t.Error("no fixture has trimmed views; the test covers only whole pictures")
	}
}

// floatReader reads the rows of a 64×64 float picture.
func floatReader(px []float32) lumaReader {
	return func(y int, dst []float32) { copy(dst, px[y*hashSide:(y+1)*hashSide]) }
}
