//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package rescan

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockDir takes an exclusive lock on the state directory's lock file, without waiting. The
// kernel drops it when the process dies, however it dies.
func lockDir(dir string) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("rescan: state dir: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("rescan: %s: %w", dir, ErrBusy)
		}
		return nil, fmt.Errorf("rescan: lock %s: %w", dir, err)
	}
	return func() { f.Close() }, nil
}
