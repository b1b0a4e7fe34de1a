package hashing

import (
	"fmt"
	"math/bits"
	"strconv"
)

// Hash is a 64-bit perceptual hash. Its bits are goimagehash's bits, in goimagehash's order.
type Hash uint64

// Distance returns the Hamming distance between two hashes, in [0, 64].
func (h Hash) Distance(o Hash) int { return bits.OnesCount64(uint64(h ^ o)) }

// String returns the hash as 16 lowercase hexadecimal digits.
func (h Hash) String() string { return fmt.Sprintf("%016x", uint64(h)) }

// ParseHash parses the 16-digit hexadecimal form that String returns.
func ParseHash(s string) (Hash, error) {
	if len(s) != 16 {
		return 0, fmt.Errorf("hashing: parse hash %q: want 16 hex digits", s)
	}
	v, err := strconv.ParseUint(s, 16, 64)
	if err != nil {
		return 0, fmt.Errorf("hashing: parse hash %q: %w", s, err)
	}
	return Hash(v), nil
}

// Hashes holds the three hashes of one view of an image, all computed from the same
// normalised 64×64 gray picture: goimagehash's perception hash (DCT), difference hash
// (gradient) and average hash (mean).
type Hashes struct {
	P Hash `json:"p"`
	D Hash `json:"d"`
	A Hash `json:"a"`
}

// Distances are the Hamming distances between the hashes of two views, one per kind.
type Distances struct {
	P int `json:"p"`
	D int `json:"d"`
	A int `json:"a"`
}

// Distance compares two hash sets kind by kind.
func (h Hashes) Distance(o Hashes) Distances {
	return Distances{P: h.P.Distance(o.P), D: h.D.Distance(o.D), A: h.A.Distance(o.A)}
}
