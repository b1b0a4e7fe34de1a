package rescan

import (
	"strings"
	"testing"
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
