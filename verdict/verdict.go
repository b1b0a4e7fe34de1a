package verdict

import (
	"cmp"
	"slices"

	"github.com/aura-art/aura/hashing"
)

// SchemaVersion is the version of the Verdict JSON schema this package writes.
const SchemaVersion = 1

// MaxMatches is the most matches a Verdict lists.
const MaxMatches = 10

// Kind is what a verdict says about a picture.
type Kind string

// The verdict kinds.
const (
	// Clear: no registered work is close.
	Clear Kind = "clear"
	// OwnWork: the closest work is registered to the claimed creator.
	OwnWork Kind = "own_work"
	// LikelyForgery: a near-identical copy of the whole picture of someone else's work.
	LikelyForgery Kind = "likely_forgery"
	// Derivative: a modified copy (crop, mirror, rotation, recolour, overlay, border,
	// screenshot) of someone else's work, or a weaker likeness of the whole picture.
	Derivative Kind = "derivative"
)

// Flagged reports whether the verdict needs a person: true for LikelyForgery and Derivative.
func (k Kind) Flagged() bool { return k == LikelyForgery || k == Derivative }

// Match is the evidence that a picture matches one registered work.
type Match struct {
	WorkID      string `json:"work_id"`
	CreatorID   string `json:"creator_id"`
	CreatorName string `json:"creator_name,omitempty"`
	Title       string `json:"title,omitempty"`
	// Score is the match score in [0, 1] (hashing.Match.Score).
	Score float64 `json:"score"`
	// Distances are the per-hash Hamming distances of the best pair of views.
	Distances hashing.Distances `json:"distances"`
	// Variant names how the picture relates to the work in words (hashing.Variant.String):
	// "identity", "mirror", "crop(10,10,80,80)", "rotate(15)+crop(0,0,80,80)", ...
	Variant string `json:"variant"`
	// Orientation is how the picture was turned relative to the work ("identity",
	// "mirror", "rot90", ...; hashing.Orientation.String).
	Orientation string `json:"orientation"`
	// Region is the part of the work the picture shows, in percent; the whole picture is
	// {0, 0, 100, 100} (or all zero).
	Region hashing.Region `json:"region"`
	// Angle is how far the picture was rotated, in degrees anticlockwise; 0 for none.
	Angle int `json:"angle"`
	// Trimmed reports that borders, pads or screenshot chrome were trimmed to match.
	Trimmed bool `json:"trimmed"`
	// Opened reports that the pictures matched once thin bright strokes were removed from
	// both (hashing.Variant.Opened): the picture carries a light overlay, such as a tiled
	// watermark, that the work does not.
	Opened bool `json:"opened,omitempty"`
	// UploadRegion is the part of the picture that matched, in percent, when only a part
	// did (hashing.Match.UploadRegion): the rest of it differs, as under a logo, a caption
	// or surroundings. Absent when the whole picture matched.
	UploadRegion hashing.Region `json:"upload_region,omitzero"`
	// LowDetail reports that one of the pictures has little structure, so the match was
	// held to Thresholds.LowDetail instead of Thresholds.Match.
	LowDetail bool `json:"low_detail,omitempty"`
	// Description says all of the above in one line (hashing.Match.Describe).
	Description string `json:"description"`
	// Suppressed, when set, says why this match did not count towards the verdict: a
	// moderator dismissed this picture against the work ("dismissed"), or the claimed
	// creator holds a licence for derivatives of it ("licensed").
	Suppressed string `json:"suppressed,omitempty"`
}

// Whole reports whether the whole picture matched the whole work, upright, as
// hashing.Match.Whole does for the match it was built from: no trim, crop, turn, rotation or
// opening, and not only a part of the picture.
func (m Match) Whole() bool {
	return m.Orientation == hashing.Identity.String() && m.Angle == 0 && !m.Trimmed && !m.Opened &&
		m.Region.IsFull() && m.UploadRegion.IsFull()
}

// The reasons a match is suppressed (Match.Suppressed, Candidate.Suppressed).
const (
	SuppressedDismissed = "dismissed"
	SuppressedLicensed  = "licensed"
)

// Verdict is what Aura says about one picture. Its zero value is not a valid verdict; build
// one with Classify.
type Verdict struct {
	// SchemaVersion is SchemaVersion.
	SchemaVersion int `json:"schema_version"`
	// Verdict is the kind.
	Verdict Kind `json:"verdict"`
	// ClaimedCreator is the creator the uploader claims to be, "" when none was claimed.
	ClaimedCreator string `json:"claimed_creator,omitempty"`
	// Matches are the works the picture matches, best first, at most MaxMatches; never nil,
	// so the JSON form is [] rather than null when there are none.
	Matches []Match `json:"matches"`
	// Thresholds are the thresholds in force.
	Thresholds hashing.Thresholds `json:"thresholds"`
	// LowDetail reports that the checked picture has little structure, so it matches only
	// at Thresholds.LowDetail. Classify does not know it; the caller that fingerprinted the
	// picture sets it.
	LowDetail bool `json:"low_detail,omitempty"`
}

// Flagged reports whether the verdict needs a person (see Kind.Flagged).
func (v Verdict) Flagged() bool { return v.Verdict.Flagged() }

// Candidate is one registered work a picture matched, as a matcher reports it, with the
// work's names when the caller has them.
type Candidate struct {
	WorkID      string
	CreatorID   string
	CreatorName string // optional
	Title       string // optional
	// Match is the evidence from hashing.Compare.
	Match hashing.Match
	// LowDetail reports that either picture is low-detail (see hashing.Thresholds.Accept).
	LowDetail bool
	// Suppressed, when set, is why a moderator's decision clears this candidate
	// (SuppressedDismissed, SuppressedLicensed): it is listed but does not count.
	Suppressed string
}

// Classify decides the verdict for a picture from the candidates a matcher found for it. It
// is pure and does not modify cands.
//
// A candidate that th does not accept (hashing.Thresholds.Accept) is ignored, so a caller
// may pass unfiltered candidates. The rest are ranked by score, best first; on equal
// scores a work of the claimed creator ranks first, then the smaller work id. Then:
//
//   - no candidate: Clear;
//   - the best candidate is the claimed creator's: OwnWork. This holds even when the picture
//     also matches, less strongly, works of other creators (a creator's own upload that
//     resembles someone else's work); those matches are still listed, for a reviewer who
//     wants to look;
//   - the best match is of the whole picture (hashing.Match.Whole: no trim, crop, turn,
//     rotation or opening) and scores at least th.Forgery: LikelyForgery;
//   - otherwise: Derivative.
//
// Suppressed candidates (Candidate.Suppressed) take no part in this: they are listed after
// the others with their reason, so a picture whose every match is suppressed is Clear.
//
// An empty claimedCreator is never anyone's: the picture is then clear, a likely forgery or
// a derivative. The verdict lists at most MaxMatches matches.
func Classify(claimedCreator string, cands []Candidate, th hashing.Thresholds) Verdict {
	v := Verdict{SchemaVersion: SchemaVersion, Verdict: Clear, ClaimedCreator: claimedCreator, Thresholds: th, Matches: []Match{}}
	ranked := make([]Candidate, 0, len(cands))
	var suppressed []Candidate
	for _, c := range cands {
		switch {
		case !th.Accept(c.Match, c.LowDetail):
		case c.Suppressed != "":
			suppressed = append(suppressed, c)
		default:
			ranked = append(ranked, c)
		}
	}
	own := func(c Candidate) bool { return claimedCreator != "" && c.CreatorID == claimedCreator }
	byRank := func(a, b Candidate) int {
		if c := cmp.Compare(b.Match.Score, a.Match.Score); c != 0 {
			return c
		}
		if oa, ob := own(a), own(b); oa != ob {
			if oa {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.WorkID, b.WorkID)
	}
	slices.SortStableFunc(ranked, byRank)
	slices.SortStableFunc(suppressed, byRank)
	for _, c := range append(ranked, suppressed...)[:min(len(ranked)+len(suppressed), MaxMatches)] {
		v.Matches = append(v.Matches, NewMatch(c))
	}
	if len(ranked) == 0 {
		return v
	}
	best := ranked[0]
	switch {
	case own(best):
		v.Verdict = OwnWork
	case best.Match.Whole() && best.Match.Score >= th.Forgery:
		v.Verdict = LikelyForgery
	default:
		v.Verdict = Derivative
	}
	return v
}

// NewMatch builds the evidence of one candidate.
func NewMatch(c Candidate) Match {
	u := c.Match.Upload
	region := u.Region
	if region.IsFull() {
		region = hashing.Full
	}
	upload := c.Match.UploadRegion
	if upload.IsFull() {
		upload = hashing.Region{} // absent from the JSON
	}
	return Match{
		WorkID:       c.WorkID,
		CreatorID:    c.CreatorID,
		CreatorName:  c.CreatorName,
		Title:        c.Title,
		Score:        c.Match.Score,
		Distances:    c.Match.Distances,
		Variant:      u.String(),
		Orientation:  u.Orientation.String(),
		Region:       region,
		Angle:        int(u.Angle),
		Trimmed:      u.Trimmed,
		Opened:       u.Opened,
		LowDetail:    c.LowDetail,
		UploadRegion: upload,
		Description:  c.Match.Describe(),
		Suppressed:   c.Suppressed,
	}
}
