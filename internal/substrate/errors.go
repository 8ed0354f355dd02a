package substrate

import (
	"errors"

	"github.com/nimbus-dev/nimbus/internal/sandbox"
)

// Sentinel errors. The sandbox package's sentinels are reused so callers test
// one set whichever layer failed.
var (
	ErrNotFound    = sandbox.ErrNotFound
	ErrInvalid     = sandbox.ErrInvalidSpec
	ErrUnsupported = sandbox.ErrUnsupported
	ErrNotRunning  = sandbox.ErrNotRunning
	ErrMountBusy   = sandbox.ErrMountBusy
	// ErrNetworkUnavailable: the sandbox asks for a network but this host (or
	// driver) cannot give one; Info says why.
	ErrNetworkUnavailable = errors.New("sandbox networking is unavailable on this host")
	// ErrClosed: the Host was closed.
	ErrClosed = errors.New("substrate host is closed")
	// ErrExitStatusLost: the sandbox ended but nothing recorded how (its
	// shim was killed, or it vanished while nimbus was down).
	ErrExitStatusLost = errors.New("exit status lost")
)
