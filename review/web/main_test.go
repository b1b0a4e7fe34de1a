package web_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that no test leaves a goroutine behind (the browser test's included).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
