package rescan

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestBarLine(t *testing.T) {
	t.Parallel()
	s := Stats{Total: 4000, OK: 1200, Errors: 100, Skipped: 100, Flagged: 3, Elapsed: time.Minute}
	got := barLine(s, 100, 200)
	want := "rescan [==========>                   ]  35%  1,400/4,000  100.0/s  ETA 26s  flagged 3  errors 100  skipped 100"
	if got != want {
		t.Errorf("barLine =\n%q\nwant\n%q", got, want)
	}
	// A narrower terminal keeps every figure and a shorter bar, or none; a narrow one cuts
	// the line.
	if got := barLine(s, 100, 100); len(got) > 100 || !strings.HasSuffix(got, "skipped 100") || !strings.Contains(got, "[======>           ]") {
		t.Errorf("barLine at width 100 = %q (%d bytes)", got, len(got))
	}
	if got := barLine(s, 100, 79); len(got) > 79 || !strings.HasSuffix(got, "skipped 100") {
		t.Errorf("barLine at width 79 = %q (%d bytes)", got, len(got))
	}
	if got := barLine(s, 100, 60); len(got) != 60 || strings.Contains(got, "[") {
		t.Errorf("barLine at width 60 = %q; want no bar, cut to 60 bytes", got)
	}
	s.Total = -1
	if got, want := barLine(s, 0, 200), "rescan  1,400 items  0.0/s  flagged 3  errors 100  skipped 100"; got != want {
		t.Errorf("barLine without a total =\n%q\nwant\n%q", got, want)
	}
	s.Total = 1400
	if got := barLine(s, 10, 200); !strings.HasPrefix(got, "rescan [==============================] 100%") || !strings.Contains(got, "ETA 0s") {
		t.Errorf("barLine when done = %q", got)
	}
}

func TestPlainLine(t *testing.T) {
	t.Parallel()
	s := Stats{Total: 200, OK: 40, Errors: 5, Skipped: 5, Flagged: 2, Elapsed: 90 * time.Second}
	want := "rescan: 50/200 items (25%), 2.5 items/s, ETA 1m0s, 2 flagged, 5 errors, 5 skipped, 1m30s elapsed"
	if got := plainLine(s, 2.5); got != want {
		t.Errorf("plainLine =\n%q\nwant\n%q", got, want)
	}
}

func TestThousands(t *testing.T) {
	t.Parallel()
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 123456: "123,456", 1234567: "1,234,567", -5: "-5"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q; want %q", n, got, want)
		}
	}
}

// TestProgressRun shows plain lines at the interval asked, and on a terminal redraws one
// line and erases it at the end.
func TestProgressRun(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	done := 0
	stats := func() Stats {
		mu.Lock()
		defer mu.Unlock()
		done += 10
		return Stats{Total: 1000, OK: done}
	}
	for _, terminal := range []bool{false, true} {
		var out syncBuffer
		p := &Progress{W: &out, Stats: stats, Terminal: terminal, Every: 20 * time.Millisecond}
		ctx, cancel := context.WithTimeout(context.Background(), 350*time.Millisecond)
		p.Run(ctx)
		cancel()
		got := out.String()
		if terminal {
			if strings.Count(got, "\r") < 2 || strings.Contains(got, "\n") || !strings.HasSuffix(got, "\r\x1b[K") || !strings.Contains(got, "ETA") {
				t.Errorf("terminal progress = %q; want redraws of one line, erased at the end", got)
			}
			continue
		}
		if lines := strings.Count(got, "\n"); lines < 3 || !strings.HasPrefix(got, "rescan: ") || strings.Contains(got, "\r") {
			t.Errorf("plain progress = %q; want a line every 20ms", got)
		}
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
