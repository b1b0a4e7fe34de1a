package hashing

import (
	"strings"
	"testing"
)

// TestCompareCropsOnlyOfTheSameRegion checks that two cropped views are paired only when
// they are crops of the same region: a crop of the upload compared with another crop of the
// work would show a different part of the picture, and every such pairing is one more chance
// for two unrelated pictures to meet.
func TestCompareCropsOnlyOfTheSameRegion(t *testing.T) {
	t.Parallel()
	far := Hashes{P: 0xffff_ffff_0000_0000, D: 0xffff_0000_ffff_0000, A: 0xff00_ff00_ff00_ff00}
	near := Hashes{P: 0x0123_4567_89ab_cdef, D: 0x0f0f_0f0f_0f0f_0f0f, A: 0x3333_3333_3333_3333}
	strip := Region{0, 0, 60, 100}
	query := &Fingerprint{Version: FormatVersion, Views: []View{
		{Variant{Region: Full}, far},
		{Variant{Region: strip}, near},
	}}
	for _, tc := range []struct {
		name   string
		region Region
		match  bool
	}{
		{"same crop", strip, true},
		{"another crop", Region{40, 0, 60, 100}, false},
		{"whole picture", Full, true},
	} {
		ref := &Fingerprint{Version: FormatVersion, Views: []View{
			{Variant{Region: Full}, Hashes{P: ^far.P, D: ^far.D, A: ^far.A}},
			{Variant{Region: tc.region}, near},
		}}
		if tc.region.IsFull() {
			ref.Views = ref.Views[1:]
		}
		m := Compare(query, ref)
		if got := m.Score > 0; got != tc.match {
			t.Errorf("%s: Compare = %s, want a match %v", tc.name, m.Describe(), tc.match)
		}
		if tc.match && (m.Distances != Distances{} || m.Score != 1-Penalties.Crop) {
			t.Errorf("%s: Compare = %s, want identical hashes less the crop penalty", tc.name, m.Describe())
		}
		// Only the upload's strip matched: the rest of the upload is something else, so
		// this is no copy of the whole picture whatever its score.
		if tc.match && (m.UploadRegion != strip || m.Whole()) {
			t.Errorf("%s: upload region %+v, Whole %v; want the strip and false", tc.name, m.UploadRegion, m.Whole())
		}
	}
}

// TestScoreWeights checks the combined distance: the perception hash counts twice, the
// difference hash once and the average hash a quarter, so one differing pHash bit costs as
// much as eight aHash bits.
func TestScoreWeights(t *testing.T) {
	t.Parallel()
	if a, b := Score(Distances{P: 1}), Score(Distances{A: 8}); a != b {
		t.Errorf("Score(pHash 1) = %v, Score(aHash 8) = %v; want them equal", a, b)
	}
	if a, b := Score(Distances{D: 2}), Score(Distances{P: 1}); a != b {
		t.Errorf("Score(dHash 2) = %v, Score(pHash 1) = %v; want them equal", a, b)
	}
	if s := Score(Distances{P: 32, D: 32, A: 32}); s != 0 {
		t.Errorf("Score at half the bits apart = %v, want 0", s)
	}
	if s := Score(Distances{}); s != 1 {
		t.Errorf("Score of identical hashes = %v, want 1", s)
	}
}

// TestComparePerceptionAloneOnlyForTheWholePicture checks that the perception hash alone
// vouches for a pairing of the whole, upright pictures, and for no other pairing.
func TestComparePerceptionAloneOnlyForTheWholePicture(t *testing.T) {
	t.Parallel()
	work := Hashes{P: 0x0123_4567_89ab_cdef, D: 0x0f0f_0f0f_0f0f_0f0f, A: 0x3333_3333_3333_3333}
	// 4 perception bits apart, 30 difference and 30 average bits apart: a watermark's marks.
	copyOf := Hashes{P: work.P ^ 0xf, D: work.D ^ (1<<30 - 1), A: work.A ^ (1<<30-1)<<34}
	d := copyOf.Distance(work)
	if d != (Distances{P: 4, D: 30, A: 30}) {
		t.Fatalf("test hashes %+v apart", d)
	}
	for _, tc := range []struct {
		name string
		q, r Variant
		want float64
	}{
		{"whole pictures", Variant{Region: Full}, Variant{Region: Full}, min(PerceptionCap, 1-2*4.0/64)},
		{"a mirror", Variant{Region: Full, Orientation: Mirror}, Variant{Region: Full}, Score(d) - Penalties.Orient},
		{"a crop", Variant{Region: Full}, Variant{Region: Region{10, 10, 80, 80}}, Score(d) - Penalties.Crop},
		{"a trim", Variant{Region: Full, Trimmed: true}, Variant{Region: Full}, Score(d) - Penalties.Trim},
	} {
		q := &Fingerprint{Version: FormatVersion, Views: []View{{tc.q, copyOf}}}
		r := &Fingerprint{Version: FormatVersion, Views: []View{{tc.r, work}}}
		if got := Compare(q, r).Score; got != tc.want {
			t.Errorf("%s: score %v, want %v", tc.name, got, tc.want)
		}
	}
	if Score(d) >= PerceptionCap {
		t.Errorf("the combined score %v does not fall below the perception score; the test shows nothing", Score(d))
	}
}

// TestPerceptionScoreCapped checks that the perception hash alone never reaches the shipped
// forgery threshold, however close the perception hashes are.
func TestPerceptionScoreCapped(t *testing.T) {
	t.Parallel()
	th := DefaultThresholds
	for p := range 65 {
		s := perceptionScore(p)
		if s >= th.Forgery {
			t.Errorf("perceptionScore(%d) = %v reaches the forgery threshold", p, s)
		}
	}
	if s := perceptionScore(8); s < th.Match {
		t.Errorf("perceptionScore(8) = %v, below the match threshold %v: it would no longer vouch for a watermarked copy", s, th.Match)
	}
}

// TestDescribeUploadRegion checks the evidence's words for a match of a part of the upload.
func TestDescribeUploadRegion(t *testing.T) {
	t.Parallel()
	strip := Region{0, 0, 60, 100}
	for _, tc := range []struct {
		m    Match
		want string
	}{
		{Match{Score: 0.8, Upload: Variant{Region: strip}, UploadRegion: strip}, "crop(0,0,60,100) of both, score 0.80"},
		{Match{Score: 0.8, Upload: Variant{Region: Full}, UploadRegion: strip}, "identity in the upload's crop(0,0,60,100), score 0.80"},
		{Match{Score: 0.8, Upload: Variant{Region: Full}}, "identity, score 0.80"},
	} {
		if got := tc.m.Describe(); !strings.HasPrefix(got, tc.want) {
			t.Errorf("Describe() = %q, want it to start %q", got, tc.want)
		}
	}
}

// TestPairRadius checks that PairRadius bounds every pairing Compare accepts, and is tight:
// at the radius itself, with the other hashes identical, the pairing is accepted.
func TestPairRadius(t *testing.T) {
	t.Parallel()
	var variants []Variant
	for _, b := range []Variant{{Region: Full}, {Trimmed: true, Region: Full}} {
		for o := range Orientation(8) {
			b.Orientation = o
			variants = append(variants, b)
		}
	}
	variants = append(variants, QueryVariants...)
	variants = append(variants, ReferenceVariants...)
	hashes := func(p, d, a int) Hashes {
		return Hashes{P: Hash(1<<p - 1), D: Hash(1<<d - 1), A: Hash(1<<a - 1)}
	}
	checked := 0
	for _, th := range []float64{-0.5, 0, 0.35, 0.6, 0.725, 0.8, 0.85, 0.9, 1} {
		for _, q := range variants {
			for _, r := range variants {
				rad := PairRadius(q, r, th)
				if rad > MaxPDistance {
					t.Fatalf("PairRadius(%v, %v, %v) = %d, above MaxPDistance %d", q, r, th, rad, MaxPDistance)
				}
				qf := &Fingerprint{Version: FormatVersion, Views: []View{{Variant: q}}}
				rf := &Fingerprint{Version: FormatVersion, Views: []View{{Variant: r}}}
				accepts := func(p, d, a int) bool {
					qf.Views[0].Hashes, rf.Views[0].Hashes = hashes(p, d, a), Hashes{}
					m := Compare(qf, rf)
					return m.Score > -1 && (Thresholds{Match: th}).Accept(m, false)
				}
				if rad >= 0 && !accepts(rad, 0, 0) {
					t.Errorf("PairRadius(%v, %v, %v) = %d, but that distance with the other hashes equal is not accepted", q, r, th, rad)
				}
				for p := 0; p <= 20; p += 1 {
					for _, da := range [][2]int{{0, 0}, {0, 9}, {3, 0}, {5, 17}} {
						if accepts(p, da[0], da[1]) && p > rad {
							t.Errorf("PairRadius(%v, %v, %v) = %d, but distances (%d, %d, %d) are accepted", q, r, th, rad, p, da[0], da[1])
						}
						checked++
					}
				}
			}
		}
	}
	// The shipped thresholds: the whole upright pictures are searched to MaxPDistance, a
	// mirror against a crop of the work no further than 9, and different crops not at all.
	crop := ReferenceVariants[0]
	for _, c := range []struct {
		q, r Variant
		want int
	}{
		{Variant{Region: Full}, Variant{Region: Full}, 12},
		{Variant{Region: Full, Orientation: Mirror}, crop, 9},
		{Variant{Region: Full}, crop, 11},
		{Variant{Region: Region{20, 20, 60, 60}}, Variant{Region: Region{0, 0, 60, 100}}, -1},
	} {
		if got := PairRadius(c.q, c.r, DefaultThresholds.Match); got != c.want && MaxPDistance == 12 {
			t.Errorf("PairRadius(%v, %v, shipped) = %d, want %d", c.q, c.r, got, c.want)
		}
	}
	t.Logf("%d pairings checked", checked)
}
