package eval

import (
	"math"
	"slices"
)

// Interval is a proportion with its 95% Wilson score interval.
type Interval struct {
	Hits  int     `json:"hits"`
	N     int     `json:"n"`
	Value float64 `json:"value"`
	Lo    float64 `json:"lo"`
	Hi    float64 `json:"hi"`
}

// wilson returns hits/n with its 95% Wilson score interval.
func wilson(hits, n int) Interval {
	if n == 0 {
		return Interval{}
	}
	const z = 1.959963984540054
	p := float64(hits) / float64(n)
	nn := float64(n)
	den := 1 + z*z/nn
	c := (p + z*z/(2*nn)) / den
	h := z * math.Sqrt(p*(1-p)/nn+z*z/(4*nn*nn)) / den
	return Interval{Hits: hits, N: n, Value: p, Lo: math.Max(0, c-h), Hi: math.Min(1, c+h)}
}

// impostors holds the best score of every pair of pictures that are not copies of each
// other, sorted from the highest, to find the threshold for a false-positive rate.
type impostors []float64

func (s impostors) sorted() impostors {
	slices.SortFunc(s, func(a, b float64) int { return -cmpFloat(a, b) })
	return s
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// thresholdFor returns the lowest threshold t such that the share of impostor pairs scoring
// at least t is at most rate. Scores take few distinct values, so the threshold sits just
// above the first tied score that would break the rate. s must be sorted.
func (s impostors) thresholdFor(rate float64) float64 {
	allowed := int(math.Floor(rate * float64(len(s))))
	if allowed >= len(s) {
		return math.Inf(-1)
	}
	// The (allowed+1)-th best impostor must be rejected: threshold just above it.
	return math.Nextafter(s[allowed], math.Inf(1))
}

// rateAt returns the share of impostor pairs scoring at least t, with its interval.
func (s impostors) rateAt(t float64) Interval {
	n, _ := slices.BinarySearchFunc(s, t, func(e, t float64) int {
		if e >= t {
			return -1
		}
		return 1
	})
	return wilson(n, len(s))
}
