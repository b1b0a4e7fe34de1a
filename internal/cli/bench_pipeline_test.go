package cli

import (
	"math"
	"testing"
)

func TestBitset(t *testing.T) {
	var b bitset
	for _, n := range []int{0, 63, 64, 1000, 5} {
		if b.testAndSet(n) {
			t.Errorf("%d reported before it was added", n)
		}
	}
	for _, n := range []int{0, 63, 64, 1000, 5} {
		if !b.testAndSet(n) {
			t.Errorf("%d not reported after it was added", n)
		}
	}
	if b.testAndSet(999) || b.testAndSet(65) {
		t.Error("a neighbour of an added number reported")
	}
}

func TestBenchSubmissionNumber(t *testing.T) {
	for id, want := range map[string]int{"b0": 0, "b12": 12, "b-1": -1, "x12": -1, "12": -1, "b": -1, "b1x": -1} {
		n, ok := benchSubmissionNumber(id)
		if got := map[bool]int{true: n, false: -1}[ok]; got != want {
			t.Errorf("%q: got %d, %v; want %d", id, n, ok, want)
		}
	}
}

// TestCompareSoak: windows that start within the warm-up are not compared. Windows end a
// little after their nominal time.
func TestCompareSoak(t *testing.T) {
	rep := &pipelineReport{SoakWarmupS: 120, Soak: []soakSample{
		{AtS: 60.01, RSSMB: 50, AnonMB: 40}, {AtS: 120.01, RSSMB: 90, AnonMB: 80},
		{AtS: 180.02, RSSMB: 100, AnonMB: 80}, {AtS: 240.02, RSSMB: 95, AnonMB: 76}, {AtS: 300.03, RSSMB: 104, AnonMB: 84},
	}}
	rep.compareSoak()
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
	if !near(rep.SoakRSSChange, 0.04) || !near(rep.SoakAnonChange, 0.05) || !near(rep.SoakRSSSpread, 0.05) {
		t.Errorf("change %v, anonymous %v, spread %v; want 0.04, 0.05, 0.05", rep.SoakRSSChange, rep.SoakAnonChange, rep.SoakRSSSpread)
	}
	short := &pipelineReport{SoakWarmupS: 120, Soak: rep.Soak[:3]}
	short.compareSoak()
	if short.SoakRSSChange != 0 || short.SoakRSSSpread != 0 {
		t.Errorf("one window after the warm-up compared: change %v, spread %v", short.SoakRSSChange, short.SoakRSSSpread)
	}
}
