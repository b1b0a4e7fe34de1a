package review

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/aura-art/aura/verdict"
)

// transition computes what a decision does to case c (as stored) without changing c: the
// new case, the event to queue, and the suppression entries to set (set true) or lift. Both
// stores apply its result in one atomic step.
func transition(c *Case, version int64, d Decision, now time.Time) (*Case, *Event, error) {
	if err := validDecision(d); err != nil {
		return nil, nil, err
	}
	switch {
	case c.Version != version:
		return nil, nil, fmt.Errorf("%w: case %s is at version %d, the decision was made on version %d", ErrConflict, c.ID, c.Version, version)
	case d.To == Open && c.State == Open:
		return nil, nil, fmt.Errorf("%w: case %s is open, there is nothing to reopen", ErrDecided, c.ID)
	case d.To != Open && c.State != Open:
		return nil, nil, fmt.Errorf("%w: case %s was decided %s; reopen it first", ErrDecided, c.ID, c.State)
	case d.To == Licensed && c.ClaimedCreator == "":
		return nil, nil, fmt.Errorf("%w: case %s has no claimed creator to license", ErrInvalid, c.ID)
	}
	n := *c
	n.History = append(append([]Decision(nil), c.History...), Decision{
		At: storeTime(now), By: d.By, From: c.State, To: d.To, Note: d.Note,
	})
	n.State, n.Version, n.UpdatedAt = d.To, c.Version+1, storeTime(now)
	ev := &Event{
		ID: c.ID + "." + strconv.FormatInt(n.Version, 10), SchemaVersion: EventSchemaVersion,
		CaseID: c.ID, Kind: c.Kind, Tenant: c.Tenant, SubjectID: c.SubjectID, ClaimedCreator: c.ClaimedCreator,
		Verdict: c.Verdict, Decision: n.History[len(n.History)-1], Version: n.Version,
	}
	for _, m := range c.Matches {
		ev.WorkIDs = append(ev.WorkIDs, m.WorkID)
	}
	return &n, ev, nil
}

// suppressEntry is the stored value of one case's suppression of one work.
type suppressEntry struct {
	Dismissed []byte `json:"dismissed,omitempty"`
	Licensed  string `json:"licensed,omitempty"`
}

// suppressions returns the entries a case in its state sets on each matched work (none when
// it is not Dismissed or Licensed).
func suppressions(c *Case) (workIDs []string, entry []byte) {
	var e suppressEntry
	switch c.State {
	case Dismissed:
		e.Dismissed = c.Fingerprint
		if len(e.Dismissed) == 0 {
			return nil, nil // nothing to recognise the picture by
		}
	case Licensed:
		e.Licensed = c.ClaimedCreator
	default:
		return nil, nil
	}
	b, _ := json.Marshal(e)
	for _, m := range c.Matches {
		workIDs = append(workIDs, m.WorkID)
	}
	return workIDs, b
}

// addSuppression adds a stored entry of case caseID to s.
func addSuppression(s *Suppression, caseID string, raw []byte) error {
	var e suppressEntry
	if err := json.Unmarshal(raw, &e); err != nil {
		return fmt.Errorf("decode suppression of case %s: %w", caseID, err)
	}
	if len(e.Dismissed) > 0 {
		if s.Dismissed == nil {
			s.Dismissed = map[string][]byte{}
		}
		s.Dismissed[caseID] = e.Dismissed
	}
	if e.Licensed != "" {
		if s.Licensed == nil {
			s.Licensed = map[string]string{}
		}
		s.Licensed[caseID] = e.Licensed
	}
	return nil
}

// The counters both stores keep, by name.
func counterState(s State) string          { return "state:" + string(s) }
func counterOpenKind(k Kind) string        { return "open_kind:" + string(k) }
func counterVerdict(v verdict.Kind) string { return "verdict:" + string(v) }
func counterOpened(t time.Time) string     { return "opened:" + t.UTC().Format(time.DateOnly) }
func counterDecided(t time.Time) string    { return "decided:" + t.UTC().Format(time.DateOnly) }

// createCounters are the counters a new case increments.
func createCounters(c *Case) []string {
	return []string{counterState(Open), counterOpenKind(c.Kind), counterVerdict(c.Verdict), counterOpened(c.CreatedAt)}
}

// decideCounters are the counters a decision moves: incremented and decremented.
func decideCounters(old, n *Case) (inc, dec []string) {
	inc = []string{counterState(n.State)}
	dec = []string{counterState(old.State)}
	if old.State == Open {
		dec = append(dec, counterOpenKind(old.Kind))
	}
	if n.State == Open {
		inc = append(inc, counterOpenKind(n.Kind))
	} else {
		inc = append(inc, counterDecided(n.UpdatedAt))
	}
	return inc, dec
}

// countsFrom builds Counts from the stored counters.
func countsFrom(counters map[string]int64) *Counts {
	c := &Counts{
		ByState: map[State]int{}, OpenByKind: map[Kind]int{}, ByVerdict: map[verdict.Kind]int{},
		OpenedByDay: map[string]int{}, DecidedByDay: map[string]int{},
	}
	for _, s := range States {
		c.ByState[s] = 0
	}
	for k, v := range counters {
		name, arg, ok := strings.Cut(k, ":")
		if !ok || v == 0 {
			continue
		}
		switch name {
		case "state":
			c.ByState[State(arg)] = int(v)
		case "open_kind":
			c.OpenByKind[Kind(arg)] = int(v)
		case "verdict":
			c.ByVerdict[verdict.Kind(arg)] = int(v)
		case "opened":
			c.OpenedByDay[arg] = int(v)
		case "decided":
			c.DecidedByDay[arg] = int(v)
		}
	}
	return c
}

// Queue entries: both stores order a state's cases by a key of the creation time in
// milliseconds (16 decimal digits, so byte order is time order) and the id, and keep beside
// it a summary whose filter fields come first in a fixed binary form, so a filter is
// checked without decoding JSON:
//
//	kind (1 byte) · verdict (1 byte) · score (float32, big-endian) · tenant length (1 byte) ·
//	tenant · Summary JSON

func queueKey(s *Summary) string {
	return fmt.Sprintf("%016d:%s", s.CreatedAt.UnixMilli(), s.ID)
}

var (
	kindCodes    = map[Kind]byte{Upload: 1, Rescan: 2, Retro: 3, Dispute: 4}
	verdictCodes = map[verdict.Kind]byte{"": 0, verdict.Clear: 1, verdict.OwnWork: 2, verdict.LikelyForgery: 3, verdict.Derivative: 4}
)

func encodeSummary(s *Summary) []byte {
	j, _ := json.Marshal(s)
	b := make([]byte, 0, 7+len(s.Tenant)+len(j))
	b = append(b, kindCodes[s.Kind], verdictCodes[s.Verdict])
	b = binary.BigEndian.AppendUint32(b, math.Float32bits(float32(s.Score)))
	b = append(b, byte(len(s.Tenant)))
	b = append(b, s.Tenant...)
	return append(b, j...)
}

// summaryPasses checks f's field filters on an encoded summary without decoding its JSON;
// the time filters are checked on the queue key's time. It reports false for a malformed
// value, which decodeSummary then reports.
func summaryPasses(f *Filter, b []byte) bool {
	if len(b) < 7 {
		return true
	}
	if f.Kind != "" && b[0] != kindCodes[f.Kind] || f.Verdict != "" && b[1] != verdictCodes[f.Verdict] {
		return false
	}
	if f.MinScore > 0 && float64(math.Float32frombits(binary.BigEndian.Uint32(b[2:6]))) < f.MinScore-1e-6 {
		return false
	}
	n := int(b[6])
	if f.Tenant != "" && (len(b) < 7+n || string(b[7:7+n]) != f.Tenant) {
		return false
	}
	return true
}

func decodeSummary(b []byte) (Summary, error) {
	var s Summary
	if len(b) < 7 || len(b) < 7+int(b[6]) {
		return s, fmt.Errorf("decode case summary: %d bytes", len(b))
	}
	if err := json.Unmarshal(b[7+int(b[6]):], &s); err != nil {
		return s, fmt.Errorf("decode case summary: %w", err)
	}
	return s, nil
}

// timePasses checks f's age filters on a queue key.
func timePasses(f *Filter, key string, now time.Time) (pass, stop bool) {
	if f.OlderThan <= 0 && f.NewerThan <= 0 || len(key) < 16 {
		return true, false
	}
	ms, err := strconv.ParseInt(key[:16], 10, 64)
	if err != nil {
		return true, false
	}
	age := now.Sub(time.UnixMilli(ms))
	if f.OlderThan > 0 && age < f.OlderThan {
		return false, true // oldest first: every later case is younger still
	}
	if f.NewerThan > 0 && age >= f.NewerThan {
		return false, false
	}
	return true, false
}
