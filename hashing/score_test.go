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

// TestPairScore checks that PairScore is Compare's score of a single pairing, and that it
// never rises as any distance grows: what lets a matcher bound the distances of the pairings
// a threshold accepts.
func TestPairScore(t *testing.T) {
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
	variants = append(variants, Variant{Opened: true, Region: Full})
	bitsOf := func(n int) Hash { return Hash(uint64(1)<<n - 1) }
	dists := []int{0, 1, 3, 5, 8, 9, 11, 12, 13, 20, 40, 63}
	compared, paired := 0, 0
	for _, q := range variants {
		for _, r := range variants {
			qf := &Fingerprint{Version: FormatVersion, Views: []View{{Variant: q}}}
			rf := &Fingerprint{Version: FormatVersion, Views: []View{{Variant: r}}}
			for _, p := range dists {
				for _, dd := range dists {
					for _, a := range []int{0, 7, 30} {
						d := Distances{P: p, D: dd, A: a}
						qf.Views[0].Hashes = Hashes{P: bitsOf(p), D: bitsOf(dd), A: bitsOf(a)}
						s := PairScore(q, r, d)
						if m := Compare(qf, rf); m.Score != s {
							t.Fatalf("PairScore(%v, %v, %+v) = %v, Compare scores %v", q, r, d, s, m.Score)
						}
						compared++
						if s > -1 {
							paired++
						}
						for _, more := range []Distances{{P: p + 1, D: dd, A: a}, {P: p, D: dd + 1, A: a}, {P: p, D: dd, A: a + 1}} {
							if s2 := PairScore(q, r, more); s2 > s {
								t.Fatalf("PairScore(%v, %v, %+v) = %v rises to %v at %+v", q, r, d, s, s2, more)
							}
						}
					}
				}
			}
		}
	}
	if paired == 0 || paired == compared {
		t.Fatalf("%d of %d pairings compared: the test does not test", paired, compared)
	}
}

// TestOpenedPairsOnlyOpened checks that an opened view is compared with an opened view only,
// with the opening's penalty, and never makes a whole-picture match.
func TestOpenedPairsOnlyOpened(t *testing.T) {
	t.Parallel()
	open := Variant{Opened: true, Region: Full}
	d := Distances{P: 2, D: 3, A: 1}
	for _, v := range append([]Variant{{Region: Full}, {Trimmed: true, Region: Full}, {Orientation: Mirror, Region: Full}}, QueryVariants...) {
		if s := PairScore(open, v, d); s != -1 {
			t.Errorf("opened query view paired with %v: %v", v, s)
		}
		if s := PairScore(v, open, d); s != -1 {
			t.Errorf("%v paired with an opened reference view: %v", v, s)
		}
	}
	if got, want := PairScore(open, open, d), Score(d)-Penalties.Open; got != want {
		t.Errorf("opened pairing scores %v, want %v", got, want)
	}
	q := &Fingerprint{Version: FormatVersion, Views: []View{{Variant: open}}}
	if m := Compare(q, q); !m.Upload.Opened || m.Whole() {
		t.Errorf("opened match %+v: Opened %v, Whole %v", m, m.Upload.Opened, m.Whole())
	}
}
