package substrate

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/nimbus-dev/nimbus/internal/sandbox"
)

// AttachVolume mounts block volume volumeID at dest inside a running
// sandbox, making dest if it is missing: an EBS volume attached to a
// running instance appears there without a reboot, as on EC2. The volume
// joins the sandbox's record before it is mounted on the host, so deleting
// the sandbox (or a restarted nimbus cleaning up after it) detaches it like
// the volumes it started with. Drivers that cannot inject mounts answer
// ErrUnsupported; the volume is then mounted at the sandbox's next start.
func (h *Host) AttachVolume(ctx context.Context, id, volumeID, dest string) error {
	inj, ok := h.driver.(sandbox.MountInjector)
	if !ok {
		return fmt.Errorf("attach volume %s to sandbox %s: the %s driver: %w", volumeID, id, h.driver.Name(), ErrUnsupported)
	}
	e, _, err := h.running(id)
	if err != nil {
		return fmt.Errorf("attach volume %s: %w", volumeID, err)
	}
	e.op.Lock()
	defer e.op.Unlock()
	rec := h.current(e)
	if rec.Phase != phaseRunning {
		return fmt.Errorf("attach volume %s to sandbox %s: it is %s: %w", volumeID, id, rec.Phase, ErrNotRunning)
	}
	added := !slices.Contains(rec.BlockVolumes, volumeID)
	if added {
		next := rec.clone()
		next.BlockVolumes = append(next.BlockVolumes, volumeID)
		if err := h.save(ctx, e, next); err != nil {
			return fmt.Errorf("attach volume %s: %w", volumeID, err)
		}
		rec = next
	}
	path, err := h.volumes.Attach(ctx, volumeID)
	if err == nil {
		err = inj.InjectMount(ctx, rec.Handle, path, dest, sandbox.InjectOptions{CreateTarget: true})
	}
	if err != nil && added {
		// Undo what this call did so a retry starts clean; a failed undo
		// leaves the volume in the record, detached with the sandbox.
		undo := rec.clone()
		undo.BlockVolumes = slices.DeleteFunc(undo.BlockVolumes, func(v string) bool { return v == volumeID })
		uerr := h.volumes.Detach(context.WithoutCancel(ctx), volumeID)
		if uerr == nil {
			uerr = h.save(context.WithoutCancel(ctx), e, undo)
		}
		err = errors.Join(err, uerr)
	}
	if err != nil {
		return fmt.Errorf("attach volume %s to sandbox %s: %w", volumeID, id, err)
	}
	return nil
}

// DetachVolume unmounts block volume volumeID from dest inside a running
// sandbox and then from the host, as an OS unmounts a disk before EC2
// detaches it. While something in the sandbox uses the mount the answer is
// ErrMountBusy and nothing changes; the volume then goes with the sandbox.
// The volume leaves the sandbox's record only once it is off the host.
func (h *Host) DetachVolume(ctx context.Context, id, volumeID, dest string) error {
	inj, ok := h.driver.(sandbox.MountInjector)
	if !ok {
		return fmt.Errorf("detach volume %s from sandbox %s: the %s driver: %w", volumeID, id, h.driver.Name(), ErrUnsupported)
	}
	e, _, err := h.running(id)
	if err != nil {
		return fmt.Errorf("detach volume %s: %w", volumeID, err)
	}
	e.op.Lock()
	defer e.op.Unlock()
	rec := h.current(e)
	if rec.Phase != phaseRunning {
		return fmt.Errorf("detach volume %s from sandbox %s: it is %s: %w", volumeID, id, rec.Phase, ErrNotRunning)
	}
	if !slices.Contains(rec.BlockVolumes, volumeID) {
		return fmt.Errorf("detach volume %s from sandbox %s: %w", volumeID, id, ErrNotFound)
	}
	if err := inj.RemoveMount(ctx, rec.Handle, dest); err != nil {
		return fmt.Errorf("detach volume %s: %w", volumeID, err)
	}
	if err := h.volumes.Detach(ctx, volumeID); err != nil {
		return fmt.Errorf("detach volume %s from the host: %w", volumeID, err)
	}
	next := rec.clone()
	next.BlockVolumes = slices.DeleteFunc(next.BlockVolumes, func(v string) bool { return v == volumeID })
	if err := h.save(ctx, e, next); err != nil {
		return fmt.Errorf("detach volume %s: %w", volumeID, err)
	}
	return nil
}
