//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package rescan_test

import "time"

// cpuTime is 0 where this test does not call getrusage(2): the CPU figures are left out.
func cpuTime() time.Duration { return 0 }
