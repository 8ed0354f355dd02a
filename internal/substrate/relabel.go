package substrate

import (
	"context"
	"fmt"

	"github.com/nimbus-dev/nimbus/internal/store"
)

// Label sets labels on a sandbox (a value of "" removes the label), as List
// and Reset filter on them. The owner labels (LabelSandbox, LabelKind,
// LabelAccount, LabelRegion, LabelResource) cannot change: they are fixed
// at Run. Only the Host's record changes; the driver's own copy (which
// recovery reads when the store is lost) keeps the labels of Run.
//
// It is for a sandbox started before it knew what it would run: a Lambda
// warm spare is labelled with the function it was given.
func (h *Host) Label(ctx context.Context, id string, labels map[string]string) error {
	for k := range labels {
		switch k {
		case LabelSandbox, LabelKind, LabelAccount, LabelRegion, LabelResource:
			return fmt.Errorf("label sandbox %s: %s is an owner label, fixed at Run: %w", id, k, ErrInvalid)
		}
	}
	e, err := h.lookup(id)
	if err != nil {
		return err
	}
	e.op.Lock()
	defer e.op.Unlock()
	// The exit watcher writes the record without e.op: apply the labels to
	// whichever record is current, and again if it changed meanwhile.
	for {
		cur := h.current(e)
		if cur.Phase == phaseDeleting {
			return fmt.Errorf("label sandbox %s: %w", id, ErrNotFound)
		}
		rec := cur.clone()
		for k, v := range labels {
			if v == "" {
				delete(rec.Labels, k)
				continue
			}
			rec.Labels[k] = v
		}
		err := h.store.Update(ctx, func(tx store.Tx) error {
			_, err := tx.Put(rec.key(), rec, 0)
			return err
		})
		if err != nil {
			return fmt.Errorf("label sandbox %s: %w", id, err)
		}
		h.mu.Lock()
		if e.rec == cur {
			e.rec = rec
			h.mu.Unlock()
			return nil
		}
		h.mu.Unlock()
	}
}
