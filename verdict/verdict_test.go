package verdict_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/aura-art/aura/hashing"
	"github.com/aura-art/aura/verdict"
)

var th = hashing.Thresholds{Match: 0.6, LowDetail: 0.8, Forgery: 0.85, MatchFPR: 1e-6}

func cand(work, creator string, score float64, v hashing.Variant) verdict.Candidate {
	return verdict.Candidate{WorkID: work, CreatorID: creator, Match: hashing.Match{Score: score, Upload: v}}
}

func supp(c verdict.Candidate, why string) verdict.Candidate {
	c.Suppressed = why
	return c
}

var (
	whole  = hashing.Variant{Region: hashing.Full}
	mirror = hashing.Variant{Orientation: hashing.Mirror, Region: hashing.Full}
	crop   = hashing.Variant{Region: hashing.Region{X: 10, Y: 10, W: 80, H: 80}}
	turn   = hashing.Variant{Angle: 15, Region: hashing.Full}
	trim   = hashing.Variant{Trimmed: true, Region: hashing.Full}
)

func TestClassify(t *testing.T) {
	t.Parallel()
	lowDetail := cand("w_low", "bob", 0.7, whole)
	lowDetail.LowDetail = true
	for _, tc := range []struct {
		name      string
		claimed   string
		cands     []verdict.Candidate
		want      verdict.Kind
		wantWorks []string
	}{
		{"none", "alice", nil, verdict.Clear, nil},
		{"below threshold ignored", "alice", []verdict.Candidate{cand("w_1", "bob", 0.59, whole)}, verdict.Clear, nil},
		{"low detail below its threshold", "alice", []verdict.Candidate{lowDetail}, verdict.Clear, nil},
		{"own work", "alice", []verdict.Candidate{cand("w_1", "alice", 0.99, whole)}, verdict.OwnWork, []string{"w_1"}},
		{"own work beats weaker foreign match", "alice", []verdict.Candidate{
			cand("w_2", "bob", 0.7, crop), cand("w_1", "alice", 0.95, whole),
		}, verdict.OwnWork, []string{"w_1", "w_2"}},
		{"foreign beats weaker own match", "alice", []verdict.Candidate{
			cand("w_1", "alice", 0.7, crop), cand("w_2", "bob", 0.95, whole),
		}, verdict.LikelyForgery, []string{"w_2", "w_1"}},
		{"tie goes to the claimed creator", "alice", []verdict.Candidate{
			cand("w_0", "bob", 0.9, whole), cand("w_9", "alice", 0.9, whole),
		}, verdict.OwnWork, []string{"w_9", "w_0"}},
		{"tie without claim by id", "", []verdict.Candidate{
			cand("w_9", "alice", 0.9, whole), cand("w_0", "bob", 0.9, whole),
		}, verdict.LikelyForgery, []string{"w_0", "w_9"}},
		{"no claim is never own work", "", []verdict.Candidate{cand("w_1", "", 0.99, whole)}, verdict.LikelyForgery, []string{"w_1"}},
		{"whole at forgery threshold", "alice", []verdict.Candidate{cand("w_1", "bob", 0.85, whole)}, verdict.LikelyForgery, []string{"w_1"}},
		{"whole below forgery threshold", "alice", []verdict.Candidate{cand("w_1", "bob", 0.84, whole)}, verdict.Derivative, []string{"w_1"}},
		{"zero region counts as whole", "alice", []verdict.Candidate{cand("w_1", "bob", 0.9, hashing.Variant{})}, verdict.LikelyForgery, []string{"w_1"}},
		{"mirror", "alice", []verdict.Candidate{cand("w_1", "bob", 0.99, mirror)}, verdict.Derivative, []string{"w_1"}},
		{"crop", "alice", []verdict.Candidate{cand("w_1", "bob", 0.99, crop)}, verdict.Derivative, []string{"w_1"}},
		{"rotation", "alice", []verdict.Candidate{cand("w_1", "bob", 0.99, turn)}, verdict.Derivative, []string{"w_1"}},
		{"trim", "alice", []verdict.Candidate{cand("w_1", "bob", 0.99, trim)}, verdict.Derivative, []string{"w_1"}},
		{"a part of the upload matched the whole work", "alice", []verdict.Candidate{{WorkID: "w_1", CreatorID: "bob", Match: hashing.Match{
			Score: 0.99, Upload: whole, UploadRegion: hashing.Region{X: 40, W: 60, H: 100},
		}}}, verdict.Derivative, []string{"w_1"}},
		{"dismissed match does not count", "alice", []verdict.Candidate{supp(cand("w_1", "bob", 0.99, whole), verdict.SuppressedDismissed)}, verdict.Clear, []string{"w_1"}},
		{"licensed match does not count, the next one does", "alice", []verdict.Candidate{
			supp(cand("w_1", "bob", 0.99, whole), verdict.SuppressedLicensed), cand("w_2", "carol", 0.8, crop),
		}, verdict.Derivative, []string{"w_2", "w_1"}},
		{"suppressed below threshold is not listed", "alice", []verdict.Candidate{supp(cand("w_1", "bob", 0.5, whole), verdict.SuppressedDismissed)}, verdict.Clear, nil},
		{"unsorted input is ranked", "carol", []verdict.Candidate{
			cand("w_1", "bob", 0.7, whole), cand("w_2", "alice", 0.9, mirror), cand("w_3", "bob", 0.8, whole),
		}, verdict.Derivative, []string{"w_2", "w_3", "w_1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := append([]verdict.Candidate(nil), tc.cands...)
			v := verdict.Classify(tc.claimed, tc.cands, th)
			if v.Verdict != tc.want {
				t.Errorf("verdict %q, want %q", v.Verdict, tc.want)
			}
			var got []string
			for _, m := range v.Matches {
				got = append(got, m.WorkID)
			}
			if diff := cmp.Diff(tc.wantWorks, got); diff != "" {
				t.Errorf("matches (-want +got):\n%s", diff)
			}
			if v.Matches == nil {
				t.Error("Matches is nil, want an empty slice")
			}
			if v.SchemaVersion != verdict.SchemaVersion || v.ClaimedCreator != tc.claimed || v.Thresholds != th {
				t.Errorf("header %d %q %+v", v.SchemaVersion, v.ClaimedCreator, v.Thresholds)
			}
			if v.Flagged() != tc.want.Flagged() {
				t.Errorf("Flagged %v", v.Flagged())
			}
			if diff := cmp.Diff(in, tc.cands); diff != "" {
				t.Errorf("Classify modified its input (-before +after):\n%s", diff)
			}
		})
	}
}

func TestClassifyCapsMatches(t *testing.T) {
	t.Parallel()
	var cands []verdict.Candidate
	for i := range 25 {
		cands = append(cands, cand(string(rune('a'+i)), "bob", 0.61+float64(i)/100, crop))
	}
	v := verdict.Classify("alice", cands, th)
	if len(v.Matches) != verdict.MaxMatches {
		t.Fatalf("%d matches, want %d", len(v.Matches), verdict.MaxMatches)
	}
	if v.Matches[0].WorkID != "y" || v.Matches[9].WorkID != "p" {
		t.Errorf("matches run %s..%s, want y..p", v.Matches[0].WorkID, v.Matches[9].WorkID)
	}
}

func TestKindFlagged(t *testing.T) {
	t.Parallel()
	for k, want := range map[verdict.Kind]bool{
		verdict.Clear: false, verdict.OwnWork: false, verdict.LikelyForgery: true, verdict.Derivative: true,
	} {
		if k.Flagged() != want {
			t.Errorf("%s.Flagged() = %v", k, !want)
		}
	}
}

// TestJSON pins the field names and the values this package sets: they are the published
// schema. Variant and description wording belong to package hashing.
func TestJSON(t *testing.T) {
	t.Parallel()
	c := verdict.Candidate{
		WorkID: "w_1", CreatorID: "bob", CreatorName: "Bob", Title: "Harbour",
		Match: hashing.Match{Score: 0.75, Distances: hashing.Distances{P: 4, D: 6, A: 2},
			Upload: hashing.Variant{Orientation: hashing.Mirror, Angle: 15, Region: hashing.Region{X: 10, Y: 10, W: 80, H: 80}}},
	}
	v := verdict.Classify("alice", []verdict.Candidate{c}, th)
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"schema_version": 1.0, "verdict": "derivative", "claimed_creator": "alice",
		"thresholds": map[string]any{"match": 0.6, "low_detail": 0.8, "forgery": 0.85, "match_fpr": 1e-6},
		"matches": []any{map[string]any{
			"work_id": "w_1", "creator_id": "bob", "creator_name": "Bob", "title": "Harbour", "score": 0.75,
			"distances": map[string]any{"p": 4.0, "d": 6.0, "a": 2.0},
			"variant":   c.Match.Upload.String(), "orientation": "mirror",
			"region": map[string]any{"x": 10.0, "y": 10.0, "w": 80.0, "h": 80.0},
			"angle":  15.0, "trimmed": false, "description": c.Match.Describe(),
		}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("JSON (-want +got):\n%s", diff)
	}
	// A match of a part of the upload says which part.
	c.Match.UploadRegion = hashing.Region{X: 0, Y: 40, W: 100, H: 60}
	b, err = json.Marshal(verdict.NewMatch(c))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"upload_region":{"x":0,"y":40,"w":100,"h":60}`) {
		t.Errorf("match JSON lacks its upload region: %s", b)
	}

	clear, _ := json.Marshal(verdict.Classify("", nil, th))
	if !strings.Contains(string(clear), `"verdict":"clear","matches":[]`) {
		t.Errorf("clear verdict JSON %s: want an empty matches array", clear)
	}
}

// TestMatchWholeAgreesWithHashing: the evidence of a match is whole exactly when the
// hashing match it was built from is, for each way of not being whole.
func TestMatchWholeAgreesWithHashing(t *testing.T) {
	t.Parallel()
	for name, m := range map[string]hashing.Match{
		"whole":              {Upload: whole},
		"zero region":        {Upload: hashing.Variant{}},
		"mirror":             {Upload: mirror},
		"crop":               {Upload: crop},
		"turn":               {Upload: turn},
		"trim":               {Upload: trim},
		"opened":             {Upload: hashing.Variant{Opened: true, Region: hashing.Full}},
		"part of the upload": {Upload: whole, UploadRegion: hashing.Region{X: 40, W: 60, H: 100}},
		"full upload region": {Upload: whole, UploadRegion: hashing.Full},
	} {
		if got, want := verdict.NewMatch(verdict.Candidate{WorkID: "w", Match: m}).Whole(), m.Whole(); got != want {
			t.Errorf("%s: verdict.Match.Whole = %v, hashing.Match.Whole = %v", name, got, want)
		}
	}
}
