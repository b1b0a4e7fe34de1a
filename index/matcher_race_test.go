//go:build race

package index_test

// raceEnabled: the race detector slows the matcher's tests about tenfold, so the property
// test checks fewer cases.
const raceEnabled = true
