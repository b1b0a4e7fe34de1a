package rescan

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aura-art/aura/verdict"
)

// Summary is what one run did.
type Summary struct {
	// Items counts the items finished in this run: OK + Errors + Skipped.
	Items int
	// OK counts the items checked; Verdicts splits them by verdict.
	OK       int
	Verdicts map[verdict.Kind]int
	// Cases counts the flagged items whose review case is open (opened now, or found).
	Cases int
	// Errors counts the items that failed in this run.
	Errors int
	// Skipped counts the items not checked: Earlier of them an earlier run finished
	// (EarlierErrors of those failed then), Duplicates repeat an earlier manifest line.
	Skipped, Earlier, EarlierErrors, Duplicates int
	// Elapsed is the run's time.
	Elapsed time.Duration
}

// add counts one result; a skipped one is a duplicate manifest line or was finished
// earlier.
func (s *Summary) add(r *Result, flagged, duplicate bool) {
	s.Items++
	switch r.Status {
	case OK:
		s.OK++
		s.Verdicts[r.Verdict]++
		if flagged && r.CaseID != "" {
			s.Cases++
		}
	case Error:
		s.Errors++
	case Skipped:
		s.Skipped++
		if duplicate {
			s.Duplicates++
		} else {
			s.Earlier++
			if r.Error != "" {
				s.EarlierErrors++
			}
		}
	}
}

// Flagged counts the OK items whose verdict is flagged.
func (s Summary) Flagged() int {
	return s.Verdicts[verdict.LikelyForgery] + s.Verdicts[verdict.Derivative]
}

// Rate is how many items a second this run checked (OK and Errors), 0 for no time.
func (s Summary) Rate() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.OK+s.Errors) / s.Elapsed.Seconds()
}

// NothingToDo reports whether the run checked nothing because earlier runs had finished
// every item.
func (s Summary) NothingToDo() bool { return s.OK+s.Errors == 0 && s.Earlier > 0 }

// verdictOrder is the order the table lists verdicts in.
var verdictOrder = []verdict.Kind{verdict.Clear, verdict.OwnWork, verdict.LikelyForgery, verdict.Derivative}

// WriteTable writes the summary as an aligned table.
func (s Summary) WriteTable(w io.Writer) error {
	var b strings.Builder
	row := func(name string, n int, note string) { fmt.Fprintf(&b, "%-16s %9d%s\n", name, n, note) }
	row("items", s.Items, "")
	row("ok", s.OK, "")
	for _, k := range verdictOrder {
		row("  "+string(k), s.Verdicts[k], "")
	}
	for k, n := range s.Verdicts { // a verdict this table does not know yet
		if !knownVerdict(k) {
			row("  "+string(k), n, "")
		}
	}
	row("flagged", s.Flagged(), fmt.Sprintf("  (%d cases open)", s.Cases))
	row("errors", s.Errors, "")
	note := ""
	if s.Skipped > 0 {
		note = fmt.Sprintf("  (%d done earlier, %d of them failed; %d duplicates)", s.Earlier, s.EarlierErrors, s.Duplicates)
	}
	row("skipped", s.Skipped, note)
	fmt.Fprintf(&b, "%-16s %9s\n", "elapsed", s.Elapsed.Round(time.Millisecond))
	fmt.Fprintf(&b, "%-16s %9.1f items/s\n", "rate", s.Rate())
	_, err := io.WriteString(w, b.String())
	return err
}

func knownVerdict(k verdict.Kind) bool {
	for _, v := range verdictOrder {
		if k == v {
			return true
		}
	}
	return false
}
