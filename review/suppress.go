package review

import (
	"context"

	"github.com/aura-art/aura/hashing"
	"github.com/aura-art/aura/index"
	"github.com/aura-art/aura/verdict"
)

// SamePicture is the largest weighted distance 2·dP + dD + dA between the upright whole views
// of two pictures at which they count as the same picture for a dismissal: re-encoded,
// resized or re-saved copies of one file are 0–7 apart, while an edited copy (a crop, a
// recolour, an overlay) is further and is flagged again. It is fixed here rather than read
// from hashing.Score, whose weights are tuned for matching: a dismissal must not start
// covering tone-changed copies when they are.
const SamePicture = 7

// Suppressor is the registry's index.Suppressor over a Store: a candidate work is cleared
// when a moderator dismissed the same picture against it, or when the claimed creator
// holds a licence for it and the picture is a derivative (not a copy of the whole work at
// Forgery or above: a licence to derive is not a licence to copy).
type Suppressor struct {
	Store Store
	// Forgery is the score at or above which a whole-picture match is a copy, which a
	// licence does not clear. Default hashing.DefaultThresholds.Forgery.
	Forgery float64
}

var _ index.Suppressor = Suppressor{}

// Suppress implements index.Suppressor with one store read for all candidates.
func (s Suppressor) Suppress(ctx context.Context, q *hashing.Fingerprint, claimedCreator string, cands []verdict.Candidate) ([]verdict.Candidate, error) {
	ids := make([]string, len(cands))
	for i, c := range cands {
		ids[i] = c.WorkID
	}
	sup, err := s.Store.Suppressions(ctx, ids)
	if err != nil || len(sup) == 0 {
		return cands, err
	}
	out := make([]verdict.Candidate, len(cands))
	copy(out, cands)
	for i, c := range out {
		ws := sup[c.WorkID]
		switch {
		case ws == nil:
		case ws.LicensedTo(claimedCreator) && !s.isCopy(c):
			out[i].Suppressed = verdict.SuppressedLicensed
		case dismissed(q, ws):
			out[i].Suppressed = verdict.SuppressedDismissed
		}
	}
	return out, nil
}

// isCopy reports whether c matches the whole work as a near-identical copy.
func (s Suppressor) isCopy(c verdict.Candidate) bool {
	f := s.Forgery
	if f == 0 {
		f = hashing.DefaultThresholds.Forgery
	}
	return c.Match.Whole() && c.Match.Score >= f
}

// dismissed reports whether q is the same picture as one dismissed against the work.
func dismissed(q *hashing.Fingerprint, ws *Suppression) bool {
	if q == nil || len(q.Views) == 0 {
		return false
	}
	for _, raw := range ws.Dismissed {
		var d hashing.Fingerprint
		if d.UnmarshalBinary(raw) != nil || len(d.Views) == 0 {
			continue
		}
		if dd := q.Views[0].Hashes.Distance(d.Views[0].Hashes); 2*dd.P+dd.D+dd.A <= SamePicture {
			return true
		}
	}
	return false
}
