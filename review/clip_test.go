package review_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/aura-art/aura/review"
)

func TestClipText(t *testing.T) {
	t.Parallel()
	if got := review.ClipText("a\nb\x7fc", 100); got != "a?b?c" {
		t.Errorf("ClipText control characters = %q", got)
	}
	got := review.ClipText(strings.Repeat("é", 10), 8) // 2 bytes each
	if len(got) > 8 || !utf8.ValidString(got) || !strings.HasSuffix(got, "...") {
		t.Errorf("ClipText to 8 bytes = %q", got)
	}
	if got := review.ClipText("\xff", 10); got != "?" {
		t.Errorf("ClipText of invalid UTF-8 = %q", got)
	}
}
