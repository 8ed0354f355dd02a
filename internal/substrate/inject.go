package substrate

import (
	"context"
	"fmt"

	"github.com/nimbus-dev/nimbus/internal/sandbox"
)

// InjectMount bind-mounts the host path source at dest inside a running
// sandbox, read-only when asked (dest must exist there unless
// opts.CreateTarget). Only the sandbox sees the new mount. It is for a
// sandbox started before it knew what it would run: a Lambda warm spare
// gets its function's code this way. Drivers without the ability answer
// ErrUnsupported.
func (h *Host) InjectMount(ctx context.Context, id, source, dest string, opts sandbox.InjectOptions) error {
	inj, ok := h.driver.(sandbox.MountInjector)
	if !ok {
		return fmt.Errorf("inject mount into sandbox %s: the %s driver: %w", id, h.driver.Name(), ErrUnsupported)
	}
	e, rec, err := h.running(id)
	if err != nil {
		return err
	}
	e.op.Lock()
	defer e.op.Unlock()
	if rec = h.current(e); rec.Phase != phaseRunning {
		return fmt.Errorf("inject mount into sandbox %s: it is %s: %w", id, rec.Phase, ErrNotRunning)
	}
	return inj.InjectMount(ctx, rec.Handle, source, dest, opts)
}
