package rescan

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"
)

// Progress shows a run's progress on W: on a terminal, a one-line bar redrawn at most ten
// times a second (count, rate, ETA once the total is known, flagged, errors and skipped);
// elsewhere, a plain line every Every.
type Progress struct {
	// W is where the progress goes, usually stderr.
	W io.Writer
	// Stats returns the counts to show (Runner.Stats).
	Stats func() Stats
	// Terminal selects the redrawn bar; otherwise plain lines are written.
	Terminal bool
	// Every is the interval of the plain lines. Default 10s.
	Every time.Duration
	// Width returns the terminal's width in columns; nil or a result below 20 means 80.
	Width func() int
}

// progressRedraw is the interval of the bar's redraws.
const progressRedraw = 100 * time.Millisecond

// rateWindow is how far back the bar's rate looks.
const rateWindow = 5 * time.Second

// Run shows the progress until ctx ends, then erases the bar (a plain line stays).
func (p *Progress) Run(ctx context.Context) {
	every := p.Every
	if p.Terminal {
		every = progressRedraw
	} else if every <= 0 {
		every = 10 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	type sample struct {
		at   time.Time
		done int
	}
	samples := []sample{{time.Now(), p.Stats().Done()}}
	for {
		select {
		case <-ctx.Done():
			if p.Terminal {
				fmt.Fprint(p.W, "\r\x1b[K")
			}
			return
		case now := <-t.C:
			s := p.Stats()
			samples = append(samples, sample{now, s.Done()})
			if p.Terminal {
				for len(samples) > 2 && now.Sub(samples[1].at) >= rateWindow {
					samples = samples[1:]
				}
			} else {
				samples = samples[len(samples)-2:]
			}
			first := samples[0]
			rate := 0.0
			if dt := now.Sub(first.at).Seconds(); dt > 0 {
				rate = float64(s.Done()-first.done) / dt
			}
			if p.Terminal {
				width := 80
				if p.Width != nil {
					if w := p.Width(); w >= 20 {
						width = w
					}
				}
				fmt.Fprint(p.W, "\r"+barLine(s, rate, width-1)+"\x1b[K")
			} else {
				fmt.Fprintln(p.W, plainLine(s, rate))
			}
		}
	}
}

// barLine is the terminal's progress line, at most width bytes: the bar takes the room the
// figures leave, from 30 cells down to none.
func barLine(s Stats, rate float64, width int) string {
	done := s.Done()
	count := thousands(done) + " items"
	if s.Total > 0 {
		total := thousands(s.Total) // the count is as wide as the total, so the bar keeps its size
		count = fmt.Sprintf("%3.0f%%  %*s/%s", 100*min(1, float64(done)/float64(s.Total)), len(total), thousands(done), total)
	}
	tail := fmt.Sprintf("  %.1f/s", rate)
	if eta, ok := etaOf(s, rate); ok {
		tail += "  ETA " + eta
	}
	tail += fmt.Sprintf("  flagged %d  errors %d  skipped %d", s.Flagged, s.Errors, s.Skipped)
	line := "rescan  " + count + tail
	if cells := min(30, width-len(line)-3); s.Total > 0 && cells >= 5 {
		full := int(min(1, float64(done)/float64(s.Total)) * float64(cells))
		bar := strings.Repeat("=", full)
		if full < cells {
			bar += ">" + strings.Repeat(" ", cells-full-1)
		}
		line = "rescan [" + bar + "] " + count + tail
	}
	if len(line) > width {
		line = line[:width]
	}
	return line
}

// plainLine is the progress line for a log.
func plainLine(s Stats, rate float64) string {
	var b strings.Builder
	done := s.Done()
	if s.Total > 0 {
		fmt.Fprintf(&b, "rescan: %d/%d items (%.0f%%)", done, s.Total, 100*min(1, float64(done)/float64(s.Total)))
	} else {
		fmt.Fprintf(&b, "rescan: %d items", done)
	}
	fmt.Fprintf(&b, ", %.1f items/s", rate)
	if eta, ok := etaOf(s, rate); ok {
		b.WriteString(", ETA " + eta)
	}
	fmt.Fprintf(&b, ", %d flagged, %d errors, %d skipped, %s elapsed", s.Flagged, s.Errors, s.Skipped, s.Elapsed.Round(time.Second))
	return b.String()
}

// etaOf is the time left at rate, when the total is known and the rate is not zero.
func etaOf(s Stats, rate float64) (string, bool) {
	left := s.Total - s.Done()
	if s.Total < 0 || left < 0 || rate <= 0 {
		return "", false
	}
	return time.Duration(float64(left) / rate * float64(time.Second)).Round(time.Second).String(), true
}

// thousands formats n with commas: 12,345.
func thousands(n int) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return s
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
