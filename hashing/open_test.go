package hashing

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestCombineBytes checks the eight-pixels-at-a-time minimum and maximum of the opening
// against a pixel-by-pixel one, on every pair of byte values and on slices of every length
// up to 40 (the tail included).
func TestCombineBytes(t *testing.T) {
	t.Parallel()
	words := func(x, y uint64) {
		t.Helper()
		lo, hi := minBytes(x, y), maxBytes(x, y)
		for i := range 8 {
			xa, yb := uint8(x>>(8*i)), uint8(y>>(8*i))
			if uint8(lo>>(8*i)) != min(xa, yb) || uint8(hi>>(8*i)) != max(xa, yb) {
				t.Fatalf("minBytes, maxBytes(%#x, %#x) byte %d: %#x, %#x", x, y, i, uint8(lo>>(8*i)), uint8(hi>>(8*i)))
			}
		}
	}
	for a := range 256 {
		for b := range 256 {
			words(uint64(a)*0x0101010101010101, uint64(b)*0x0101010101010101)
		}
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for range 100000 { // lanes of different values, where a borrow would cross lanes
		words(rng.Uint64(), rng.Uint64())
	}
	for n := range 41 {
		a, b := make([]uint8, n), make([]uint8, n)
		for i := range a {
			a[i], b[i] = uint8(rng.IntN(256)), uint8(rng.IntN(256))
		}
		mn, mx := slices.Clone(a), slices.Clone(a)
		combineMin(mn, b)
		combineMax(mx, b)
		for i := range a {
			if mn[i] != min(a[i], b[i]) || mx[i] != max(a[i], b[i]) {
				t.Fatalf("length %d, pixel %d: min %d max %d of %d and %d", n, i, mn[i], mx[i], a[i], b[i])
			}
		}
	}
}
