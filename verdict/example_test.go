package verdict_test

import (
	"fmt"

	"github.com/aura-art/aura/hashing"
	"github.com/aura-art/aura/verdict"
)

// An upload claimed by alice is a mirrored copy of a work bob registered.
func ExampleClassify() {
	cands := []verdict.Candidate{{
		WorkID: "w_1", CreatorID: "bob", Title: "Harbour at dawn",
		Match: hashing.Match{Score: 0.93, Upload: hashing.Variant{Orientation: hashing.Mirror, Region: hashing.Full}},
	}}
	v := verdict.Classify("alice", cands, hashing.DefaultThresholds)
	fmt.Println(v.Verdict, v.Flagged())
	fmt.Println(v.Matches[0].WorkID, v.Matches[0].Variant)
	// Output:
	// derivative true
	// w_1 mirror
}
