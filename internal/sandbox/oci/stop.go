package oci

import (
	"context"
	"errors"
	"time"

	"github.com/nimbus-dev/nimbus/internal/sandbox"
	"golang.org/x/sys/unix"
)

// KillWaiter is the part of a sandbox.Driver that StopGracefully needs: how
// to signal a sandbox and how to learn that it ended.
type KillWaiter interface {
	Kill(ctx context.Context, h *sandbox.Handle, signal int) error
	Wait(ctx context.Context, h *sandbox.Handle) (*sandbox.ExitStatus, error)
}

// StopGracefully is Stop for the shim-based drivers (this one and the
// process driver): SIGTERM, then SIGKILL once grace has passed, returning
// when the sandbox has exited. Stopping an exited sandbox is not an error.
// Only how a signal reaches the sandbox differs between the drivers, and
// that lives in d.Kill.
func StopGracefully(ctx context.Context, d KillWaiter, h *sandbox.Handle, grace time.Duration) error {
	if err := d.Kill(ctx, h, int(unix.SIGTERM)); err != nil {
		if errors.Is(err, sandbox.ErrNotRunning) {
			return nil
		}
		return err
	}
	graceCtx, cancel := context.WithTimeout(ctx, grace)
	_, err := d.Wait(graceCtx, h)
	cancel()
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err := d.Kill(ctx, h, int(unix.SIGKILL)); err != nil && !errors.Is(err, sandbox.ErrNotRunning) {
		return err
	}
	_, err = d.Wait(ctx, h)
	return err
}
