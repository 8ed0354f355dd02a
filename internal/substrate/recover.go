package substrate

import (
	"context"
	"errors"
	"fmt"

	"github.com/nimbus-dev/nimbus/internal/sandbox"
	"github.com/nimbus-dev/nimbus/internal/store"
)

// recover re-adopts, finishes or undoes what a previous nimbus left, by the
// rules in the package doc.
func (h *Host) recover(ctx context.Context) error {
	var recs []*record
	err := h.store.View(ctx, func(tx store.Tx) error {
		return tx.List(store.Query{Kind: KindSandbox, AllAccounts: true, AllRegions: true}, func(o store.Object) error {
			var r record
			if err := o.Decode(&r); err != nil {
				return err
			}
			recs = append(recs, &r)
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("read sandbox records: %w", err)
	}
	// A half-done volume attach leaves a loop device the volume manager
	// tidies; mounted volumes stay for their sandboxes.
	if err := h.volumes.Recover(ctx); err != nil {
		h.log.Warn("substrate: volume recovery", "err", err)
	}
	var errs []error
	kept := map[string]bool{}
	for _, rec := range recs {
		e := &entry{rec: rec}
		h.mu.Lock()
		h.entries[rec.ID] = e
		h.mu.Unlock()
		switch rec.Phase {
		case phaseRunning, phaseExited:
			kept[rec.ID] = true
			h.adopt(ctx, e)
		default: // creating, deleting
			h.log.Info("substrate: undoing sandbox interrupted by a restart", "id", rec.ID, "phase", rec.Phase)
			if err := h.deleteEntry(ctx, e); err != nil {
				errs = append(errs, err)
				kept[rec.ID] = true // its record stays, so keep what it holds for the next try
			}
		}
	}
	if err := h.deleteOrphanSandboxes(ctx, kept); err != nil {
		errs = append(errs, err)
	}
	if h.net != nil {
		if err := h.deleteOrphanAttachments(ctx, kept); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// adopt takes back a sandbox Run finished before the restart.
func (h *Host) adopt(ctx context.Context, e *entry) {
	rec := e.rec
	if rec.Phase == phaseExited {
		e.exited = make(chan struct{})
		close(e.exited)
		return
	}
	if err := h.driver.Adopt(ctx, rec.Handle); err != nil {
		h.log.Warn("substrate: sandbox vanished while nimbus was down", "id", rec.ID, "err", err)
		lost := rec.clone()
		lost.Phase = phaseExited
		lost.ExitError = fmt.Sprintf("sandbox vanished while nimbus was down: %v", err)
		if err := h.save(ctx, e, lost); err != nil {
			h.log.Error("substrate: record lost sandbox", "id", rec.ID, "err", err)
		}
		e.exited = make(chan struct{})
		close(e.exited)
		return
	}
	h.log.Info("substrate: adopted sandbox", "id", rec.ID)
	h.watch(e) // returns at once, with the status, for one that exited meanwhile
}

// deleteOrphanSandboxes deletes driver sandboxes made by a Host that have no
// record: a crash between the driver's Create and recording its handle, or a
// store that lost its records.
func (h *Host) deleteOrphanSandboxes(ctx context.Context, kept map[string]bool) error {
	infos, err := h.driver.List(ctx)
	if err != nil {
		return fmt.Errorf("list driver sandboxes: %w", err)
	}
	var errs []error
	for _, in := range infos {
		id := in.Handle.ID
		if in.Labels[LabelSandbox] != id || kept[id] {
			continue
		}
		h.mu.Lock()
		_, known := h.entries[id]
		h.mu.Unlock()
		if known {
			continue
		}
		h.log.Info("substrate: deleting orphan sandbox", "id", id)
		hd := in.Handle
		if err := h.driver.Delete(ctx, &hd); err != nil && !errors.Is(err, sandbox.ErrNotFound) {
			errs = append(errs, fmt.Errorf("delete orphan sandbox %s: %w", id, err))
		}
	}
	return errors.Join(errs...)
}

// deleteOrphanAttachments detaches network attachments no sandbox record
// owns.
func (h *Host) deleteOrphanAttachments(ctx context.Context, kept map[string]bool) error {
	atts, err := h.net.List(ctx)
	if err != nil {
		return fmt.Errorf("list network attachments: %w", err)
	}
	var errs []error
	for _, a := range atts {
		h.mu.Lock()
		_, known := h.entries[a.SandboxID]
		h.mu.Unlock()
		if known || kept[a.SandboxID] {
			continue
		}
		h.log.Info("substrate: detaching orphan network attachment", "id", a.SandboxID, "complete", a.Complete)
		if err := h.net.Detach(ctx, a.SandboxID); err != nil {
			errs = append(errs, fmt.Errorf("detach orphan %s: %w", a.SandboxID, err))
		}
	}
	return errors.Join(errs...)
}
