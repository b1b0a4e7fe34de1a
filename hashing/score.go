package hashing

import "fmt"

// Weights and thresholds of the match score. A pair of views is compared by a weighted
// Hamming distance over its three hashes, scaled to [0, 1]; the score is 1 at identical
// hashes and 0 at half the bits apart (what two unrelated pictures average).
type Thresholds struct {
	// Match is the lowest score at which a reference counts as a match. Calibrated by
	// `aura eval` for the per-pair false-positive rate in MatchFPR.
	Match float64 `json:"match"`
	// LowDetail is the lowest score at which a low-detail picture matches.
	LowDetail float64 `json:"low_detail"`
	// Forgery is the score at or above which a match of the whole picture (no crop, turn or
	// rotation) is a near-identical copy rather than a derivative.
	Forgery float64 `json:"forgery"`
	// MatchFPR is the per-pair false-positive rate Match was chosen for (documentation).
	MatchFPR float64 `json:"match_fpr"`
}

// DefaultThresholds are the shipped thresholds; the README gives the calibration run.
var DefaultThresholds = Thresholds{Match: 0.725, LowDetail: 0.80, Forgery: 0.85, MatchFPR: 1e-6}

// weights of the perception, difference and average hash in the combined distance. The
// average hash counts a quarter as much as the difference hash: a tone curve (gamma 2), a
// tiled watermark or a turn on a black canvas moves the 8×8 mean-threshold bits of a copy
// more than it separates unrelated pictures. Chosen on the accuracy benchmark, where
// (2, 1, 1) missed gamma 2 and the 4° turn with black corners.
var weights = [3]float64{2, 1, 0.25}

// MaxPDistance is the largest perception-hash distance at which two views are compared at
// all. It keeps matching exact under a multi-index search of the perception hashes: a pair
// the index does not find is a pair Compare would not count.
// It is a variable only so tests can vary it; 12 loses no match on the benchmark.
var MaxPDistance = 12

// Penalties are subtracted from the score of a pairing of views that needed a turn, a crop,
// a rotation, a trim or an opening (Open: both views opened). Each such view is one more
// chance for two unrelated pictures to look alike, so a match through it must show more
// likeness than a match of the plain pictures; the values are set on the accuracy benchmark.
var Penalties = struct{ Orient, Crop, Rotate, Trim, Open float64 }{Orient: 0.04, Crop: 0.06, Rotate: 0.06, Trim: 0.04, Open: 0.06}

// penalty is the handicap of pairing query view q with reference view r.
func penalty(q, r Variant) float64 {
	var p float64
	if q.Orientation != Identity {
		p += Penalties.Orient
	}
	if !r.Region.IsFull() || !q.Region.IsFull() {
		p += Penalties.Crop
	}
	if r.Angle != 0 {
		p += Penalties.Rotate
	}
	if q.Trimmed || r.Trimmed {
		p += Penalties.Trim
	}
	if q.Opened || r.Opened {
		p += Penalties.Open
	}
	return p
}

// Score is the similarity of two hash sets in [0, 1].
func Score(d Distances) float64 {
	w := weights[0]*float64(d.P) + weights[1]*float64(d.D) + weights[2]*float64(d.A)
	dist := w / (64 * (weights[0] + weights[1] + weights[2]))
	return max(0, 1-2*dist)
}

// perceptionScore is the score of a pairing of the whole, upright pictures on the perception
// hash alone: 1 − 2·dP/64, capped at PerceptionCap. For such a pairing the perception hash
// alone vouches for a match, as plain pHash does, so an overlay that scatters the difference
// and average hashes (a tiled watermark moves the difference hash by 20–26 bits and the
// perception hash by 4–6) does not sink it. It applies to no crop, turn, rotation or trim,
// where the perception hash alone lets unrelated pictures meet. On the accuracy benchmark it
// took the tiled watermark from 95% to 97.7% and added no impostor pair above the threshold.
func perceptionScore(p int) float64 { return min(PerceptionCap, max(0, 1-2*float64(p)/64)) }

// PerceptionCap caps the score that the perception hash alone gives a pairing of the whole
// pictures: below the shipped Forgery threshold (0.85), so the perception hash alone never
// makes a likely forgery; a copy that only it recognises is a derivative (an overlay, a
// recolour). A cap of 0.79, under the LowDetail threshold too, cost the tiled watermark 1.4
// points of recall on the accuracy benchmark and removed no impostor pair.
const PerceptionCap = 0.84

// Match is the evidence for one query matching one reference.
type Match struct {
	// Score is the best score over all pairs of views, each less the penalty of its views
	// (for the whole, upright pictures at least their perception hash's score, up to
	// PerceptionCap), in [0, 1].
	Score float64 `json:"score"`
	// Distances are the per-hash Hamming distances of the best pair.
	Distances Distances `json:"distances"`
	// Upload is how the upload relates to the work: Orientation is how the upload was turned
	// relative to the work (Mirror: the upload is the work mirrored), Region the part of the
	// work the upload shows, Angle how far it was rotated.
	Upload Variant `json:"variant"`
	// UploadRegion is the part of the upload that matched, when only a part did (a crop of
	// the upload compared with the whole work, or with the same crop of it): the rest of the
	// upload differs, as under a logo, a caption or surroundings. Zero: the whole upload.
	UploadRegion Region `json:"upload_region,omitzero"`
}

// Describe says in words what the match found, for evidence and logs.
func (m Match) Describe() string {
	in := ""
	switch r := m.UploadRegion; {
	case r.IsFull():
	case r == m.Upload.Region:
		in = " of both"
	default:
		in = fmt.Sprintf(" in the upload's crop(%d,%d,%d,%d)", r.X, r.Y, r.W, r.H)
	}
	return fmt.Sprintf("%s%s, score %.2f (pHash %d, dHash %d, aHash %d of 64 bits apart)", m.Upload, in, m.Score, m.Distances.P, m.Distances.D, m.Distances.A)
}

// Whole reports whether the whole upload matched the whole work, upright: no trim, crop,
// turn, rotation or opening of either was needed.
func (m Match) Whole() bool { return m.Upload.Whole() && m.UploadRegion.IsFull() }

// Compare returns the best pairing of the query's views with the reference's views, each
// scored by PairScore. It does not apply a threshold; see Thresholds.Accept.
func Compare(query, ref *Fingerprint) Match {
	best := Match{Score: -1}
	for _, q := range query.Views {
		for _, r := range ref.Views {
			if q.P.Distance(r.P) > MaxPDistance {
				continue // PairScore's first test, before the other distances are worked out
			}
			d := q.Hashes.Distance(r.Hashes)
			s := PairScore(q.Variant, r.Variant, d)
			if s > best.Score {
				best = Match{Score: s, Distances: d, Upload: Variant{
					Trimmed:     q.Trimmed || r.Trimmed,
					Opened:      q.Opened,
					Orientation: q.Orientation.Inverse(),
					Angle:       r.Angle,
					Region:      r.Region,
				}}
				if !q.Region.IsFull() {
					best.UploadRegion = q.Region
				}
			}
		}
	}
	return best
}

// PairScore is the score of pairing a query view of variant q with a reference view of
// variant r whose hashes are d apart: Score(d) less the penalty of the variants, and for the
// whole, upright pictures at least perceptionScore(d.P). It is -1, below any score, when the
// views are not compared at all: their perception hashes are more than MaxPDistance apart, or
// both are crops and of different regions (a crop of the upload is only compared with the
// same crop of the work: another crop of it would show a different part of the picture), or
// one is opened and the other not.
// It never rises as a distance grows, so a matcher can bound the distances of the pairings a
// threshold accepts.
func PairScore(q, r Variant, d Distances) float64 {
	if d.P > MaxPDistance || (!q.Region.IsFull() && !r.Region.IsFull() && q.Region != r.Region) || q.Opened != r.Opened {
		return -1
	}
	s := Score(d) - penalty(q, r)
	if q.Whole() && r.Whole() {
		s = max(s, perceptionScore(d.P))
	}
	return s
}

// Accept reports whether a match is strong enough, given whether either picture is
// low-detail.
func (t Thresholds) Accept(m Match, lowDetail bool) bool { return t.Margin(m, lowDetail) >= 0 }

// Margin is how far a match's score lies above the threshold that applies to it; negative
// when it is below.
func (t Thresholds) Margin(m Match, lowDetail bool) float64 {
	if lowDetail {
		return m.Score - t.LowDetail
	}
	return m.Score - t.Match
}

// Whole reports whether the variant is the whole picture, upright: no trim, crop, turn,
// rotation or opening.
func (v Variant) Whole() bool {
	return !v.Trimmed && !v.Opened && v.Orientation == Identity && v.Angle == 0 && v.Region.IsFull()
}
