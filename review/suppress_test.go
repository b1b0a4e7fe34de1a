package review_test

import (
	"context"
	"testing"

	"github.com/aura-art/aura/hashing"
	"github.com/aura-art/aura/review"
	"github.com/aura-art/aura/verdict"
)

// TestLicenceClearsDerivativesOnly: a licence clears the licensee's derivatives of the work
// (a mirror, a weaker whole-picture likeness) but not a copy of the whole work, and nobody
// else's.
func TestLicenceClearsDerivativesOnly(t *testing.T) {
	t.Parallel()
	s := openBolt(t)
	ctx := context.Background()
	c := newCase(1)
	c.ClaimedCreator, c.Matches = "carol", c.Matches[:1]
	c = mustCreate(t, s, c)
	if _, err := s.Decide(ctx, c.ID, 1, review.Decision{By: "mo", To: review.Licensed}); err != nil {
		t.Fatal(err)
	}
	sup := review.Suppressor{Store: s}
	cand := func(v hashing.Variant, score float64) verdict.Candidate {
		return verdict.Candidate{WorkID: "w_a", CreatorID: "alice", Match: hashing.Match{Score: score, Upload: v}}
	}
	whole := hashing.Variant{Region: hashing.Full}
	mirror := hashing.Variant{Orientation: hashing.Mirror, Region: hashing.Full}
	for _, tc := range []struct {
		name    string
		creator string
		c       verdict.Candidate
		want    string
	}{
		{"licensee's mirror", "carol", cand(mirror, 0.95), verdict.SuppressedLicensed},
		{"licensee's recolour", "carol", cand(whole, 0.80), verdict.SuppressedLicensed},
		{"licensee's exact copy", "carol", cand(whole, 0.97), ""},
		{"someone else's mirror", "dave", cand(mirror, 0.95), ""},
	} {
		out, err := sup.Suppress(ctx, nil, tc.creator, []verdict.Candidate{tc.c})
		if err != nil {
			t.Fatal(err)
		}
		if out[0].Suppressed != tc.want {
			t.Errorf("%s: suppressed %q, want %q", tc.name, out[0].Suppressed, tc.want)
		}
	}
}

// TestDismissalCoversTheSamePictureOnly: a dismissal clears re-encodes of the dismissed picture
// (a few bits apart) against the same work, but not a tone-changed copy, whose average hash
// moved by 24 bits, whatever weight matching gives that hash.
func TestDismissalCoversTheSamePictureOnly(t *testing.T) {
	t.Parallel()
	s := openBolt(t)
	ctx := context.Background()
	h := hashing.Hashes{P: 0x0123_4567_89ab_cdef, D: 0x0f0f_0f0f_0f0f_0f0f, A: 0x3333_3333_3333_3333}
	fp := func(h hashing.Hashes) *hashing.Fingerprint {
		return &hashing.Fingerprint{Version: hashing.FormatVersion, Views: []hashing.View{{Variant: hashing.Variant{Region: hashing.Full}, Hashes: h}}}
	}
	c := newCase(1)
	c.Matches = c.Matches[:1]
	c.Fingerprint, _ = fp(h).MarshalBinary()
	c = mustCreate(t, s, c)
	if _, err := s.Decide(ctx, c.ID, 1, review.Decision{By: "mo", To: review.Dismissed}); err != nil {
		t.Fatal(err)
	}
	sup := review.Suppressor{Store: s}
	cand := verdict.Candidate{WorkID: c.Matches[0].WorkID, CreatorID: "alice", Match: hashing.Match{Score: 0.9, Upload: hashing.Variant{Region: hashing.Full}}}
	reencoded, toned := h, h
	reencoded.P ^= 1
	reencoded.D ^= 0b101
	toned.A ^= 1<<24 - 1
	for _, tc := range []struct {
		name string
		q    hashing.Hashes
		want string
	}{
		{"the same picture", h, verdict.SuppressedDismissed},
		{"a re-encode, 4 apart", reencoded, verdict.SuppressedDismissed},
		{"a tone-changed copy, 24 average-hash bits apart", toned, ""},
	} {
		out, err := sup.Suppress(ctx, fp(tc.q), "mallory", []verdict.Candidate{cand})
		if err != nil {
			t.Fatal(err)
		}
		if out[0].Suppressed != tc.want {
			t.Errorf("%s: suppressed %q, want %q", tc.name, out[0].Suppressed, tc.want)
		}
	}
}
