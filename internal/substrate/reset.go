package substrate

import (
	"context"
	"errors"
	"sync"
)

// resetParallelism bounds how many sandboxes Reset deletes at once: each
// delete execs the runtime and CNI plugins, and the host has few cores.
const resetParallelism = 4

// Reset deletes every sandbox whose labels hold filter (every sandbox for a
// nil filter) and returns once they are gone from the host and the store.
// With a nil filter it also deletes driver sandboxes and network attachments
// that no record owns, so the host is clean.
func (h *Host) Reset(ctx context.Context, filter map[string]string) error {
	sbs, err := h.List(ctx, filter)
	if err != nil {
		return err
	}
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
		sem  = make(chan struct{}, resetParallelism)
	)
	for _, sb := range sbs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := h.Delete(ctx, sb.ID); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(filter) == 0 {
		if err := h.deleteOrphanSandboxes(ctx, nil); err != nil {
			errs = append(errs, err)
		}
		if h.net != nil {
			if err := h.deleteOrphanAttachments(ctx, nil); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}
