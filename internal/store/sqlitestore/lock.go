package sqlitestore

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// ErrLocked means another process has the database open.
var ErrLocked = errors.New("database is in use by another process")

// lockFile takes an exclusive, non-blocking flock on path, creating it. The
// kernel drops the lock when the process dies, so a kill -9 never leaves a
// stale lock behind.
func lockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("lock %s: %w", path, ErrLocked)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return f, nil
}
