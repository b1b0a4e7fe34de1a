// Package verdict is the verdict schema Aura publishes for a checked picture, and the rule
// that turns a matcher's candidates into one: clear, own_work, likely_forgery or derivative.
// It is pure: no I/O, no store, no clock.
//
// A Verdict carries its evidence: every match (best first, at most MaxMatches) with the work,
// its creator, the score, the per-hash distances and the variant that matched, and the
// thresholds in force. Its JSON field names are stable and snake_case; SchemaVersion changes
// when a field changes meaning or goes away.
package verdict
