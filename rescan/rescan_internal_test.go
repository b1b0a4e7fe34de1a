package rescan

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSubjectID(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a/", 100)
	for id, want := range map[string]string{
		"2024/a.jpg":  "2024/a.jpg",
		long:          "sha256:",
		"bad\nname":   "sha256:",
		"ünïcode.jpg": "ünïcode.jpg",
	} {
		got := subjectID(id)
		if want == "sha256:" && (!strings.HasPrefix(got, want) || len(got) != 7+32) || want != "sha256:" && got != want {
			t.Errorf("subjectID(%q) = %q; want %q...", id, got, want)
		}
	}
	if subjectID(long) == subjectID(long+"b") {
		t.Error("two long ids share a subject id")
	}
}

func TestClip(t *testing.T) {
	t.Parallel()
	if got := clip("a\nb\x7fc", 100); got != "a?b?c" {
		t.Errorf("clip control characters = %q", got)
	}
	got := clip(strings.Repeat("é", 10), 8) // 2 bytes each
	if len(got) > 8 || !utf8.ValidString(got) || !strings.HasSuffix(got, "...") {
		t.Errorf("clip to 8 bytes = %q", got)
	}
	if got := clip("\xff", 10); got != "?" {
		t.Errorf("clip of invalid UTF-8 = %q", got)
	}
}
