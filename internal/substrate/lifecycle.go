package substrate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/nimbus-dev/nimbus/internal/network"
	"github.com/nimbus-dev/nimbus/internal/sandbox"
)

// watch starts the goroutine that records e's exit status when it ends.
// The Host owns it; Close stops it.
func (h *Host) watch(e *entry) {
	h.mu.Lock()
	if e.exited == nil {
		e.exited = make(chan struct{})
	}
	if e.watched {
		h.mu.Unlock()
		return
	}
	e.watched = true
	rec := e.rec
	h.mu.Unlock()
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		status, err := h.driver.Wait(h.ctx, rec.Handle)
		if h.ctx.Err() != nil {
			return // closing: the next Host watches it again
		}
		h.recordExit(e, status, err)
	}()
}

// recordExit stores how the sandbox ended, unless it is being deleted, and
// wakes its waiters.
func (h *Host) recordExit(e *entry, status *sandbox.ExitStatus, werr error) {
	defer func() {
		h.mu.Lock()
		select {
		case <-e.exited:
		default:
			close(e.exited)
		}
		h.mu.Unlock()
	}()
	cur := h.current(e)
	if cur.Phase != phaseRunning {
		return
	}
	rec := cur.clone()
	rec.Phase = phaseExited
	rec.Exit = status
	if werr != nil {
		if errors.Is(werr, sandbox.ErrNotFound) {
			return // deleted under us
		}
		rec.ExitError = werr.Error()
	}
	if err := h.save(h.ctx, e, rec); err != nil {
		h.log.Error("substrate: record exit", "id", rec.ID, "err", err)
		h.mu.Lock()
		e.rec = rec // waiters still learn it; the next start reads it again
		h.mu.Unlock()
	}
}

// Get returns one sandbox.
func (h *Host) Get(ctx context.Context, id string) (*Sandbox, error) {
	e, err := h.lookup(id)
	if err != nil {
		return nil, err
	}
	return h.current(e).view(), nil
}

// List returns the sandboxes whose labels hold every pair of filter (all of
// them for a nil filter), ordered by ID.
func (h *Host) List(ctx context.Context, filter map[string]string) ([]*Sandbox, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrClosed
	}
	var out []*Sandbox
	for _, e := range h.entries {
		if matches(e.rec.Labels, filter) {
			out = append(out, e.rec.view())
		}
	}
	slices.SortFunc(out, func(a, b *Sandbox) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	return out, nil
}

// running returns e's handle if it has been started and not deleted.
func (h *Host) running(id string) (*entry, *record, error) {
	e, err := h.lookup(id)
	if err != nil {
		return nil, nil, err
	}
	rec := h.current(e)
	switch rec.Phase {
	case phaseRunning, phaseExited:
		return e, rec, nil
	}
	return nil, nil, fmt.Errorf("sandbox %s is %s: %w", id, rec.Phase, ErrNotRunning)
}

// Wait blocks until the sandbox has exited and returns how it ended.
func (h *Host) Wait(ctx context.Context, id string) (*sandbox.ExitStatus, error) {
	e, _, err := h.running(id)
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	exited := e.exited
	h.mu.Unlock()
	select {
	case <-exited:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-h.ctx.Done():
		return nil, ErrClosed
	}
	rec := h.current(e)
	switch {
	case rec.Exit != nil:
		s := *rec.Exit
		return &s, nil
	case rec.Phase == phaseDeleting || rec.Phase == phaseCreating:
		return nil, fmt.Errorf("wait sandbox %s: deleted: %w", id, ErrNotFound)
	}
	return nil, fmt.Errorf("wait sandbox %s: %w: %s", id, ErrExitStatusLost, rec.ExitError)
}

// Stop sends SIGTERM, then SIGKILL after grace, and returns once the exit
// is recorded. Stopping an exited sandbox is not an error.
func (h *Host) Stop(ctx context.Context, id string, grace time.Duration) error {
	_, rec, err := h.running(id)
	if err != nil {
		return err
	}
	if rec.Phase == phaseExited {
		return nil
	}
	if err := h.driver.Stop(ctx, rec.Handle, grace); err != nil && !errors.Is(err, sandbox.ErrNotRunning) {
		return fmt.Errorf("stop sandbox %s: %w", id, err)
	}
	_, err = h.Wait(ctx, id)
	if err != nil && !errors.Is(err, ErrExitStatusLost) {
		return fmt.Errorf("stop sandbox %s: %w", id, err)
	}
	return nil
}

// Kill sends signal to the sandbox's first process.
func (h *Host) Kill(ctx context.Context, id string, signal int) error {
	_, rec, err := h.running(id)
	if err != nil {
		return err
	}
	if rec.Phase == phaseExited {
		return fmt.Errorf("kill sandbox %s: %w", id, ErrNotRunning)
	}
	if err := h.driver.Kill(ctx, rec.Handle, signal); err != nil {
		return fmt.Errorf("kill sandbox %s: %w", id, err)
	}
	return nil
}

// Exec runs cmd inside the running sandbox, where the driver can.
func (h *Host) Exec(ctx context.Context, id string, cmd []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	ex, ok := h.driver.(sandbox.Execer)
	if !ok {
		return -1, fmt.Errorf("exec in sandbox %s: the %s driver: %w", id, h.driver.Name(), ErrUnsupported)
	}
	_, rec, err := h.running(id)
	if err != nil {
		return -1, err
	}
	return ex.Exec(ctx, rec.Handle, cmd, stdin, stdout, stderr)
}

// Stats reports the sandbox's resource use.
func (h *Host) Stats(ctx context.Context, id string) (*sandbox.Stats, error) {
	_, rec, err := h.running(id)
	if err != nil {
		return nil, err
	}
	return h.driver.Stats(ctx, rec.Handle)
}

// Logs opens the sandbox's log (sandboxlog records; read it with
// sandboxlog.NewReader). It can be read while the sandbox runs and after it
// exits, until Delete removes it.
func (h *Host) Logs(id string) (io.ReadCloser, error) {
	e, err := h.lookup(id)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(h.current(e).LogPath)
	if errors.Is(err, os.ErrNotExist) {
		return io.NopCloser(&emptyReader{}), nil // nothing written yet
	}
	if err != nil {
		return nil, fmt.Errorf("logs of sandbox %s: %w", id, err)
	}
	return f, nil
}

type emptyReader struct{}

func (*emptyReader) Read([]byte) (int, error) { return 0, io.EOF }

// SetFirewall replaces the sandbox's firewall (see network.Manager.SetRules).
func (h *Host) SetFirewall(ctx context.Context, id string, ingress, egress []network.Rule) error {
	e, err := h.lookup(id)
	if err != nil {
		return err
	}
	rec := h.current(e)
	if rec.Network == "" || h.net == nil {
		return fmt.Errorf("firewall of sandbox %s: it has no network: %w", id, ErrNetworkUnavailable)
	}
	if err := h.net.SetRules(ctx, id, ingress, egress); err != nil {
		return fmt.Errorf("firewall of sandbox %s: %w", id, err)
	}
	return nil
}

// Delete removes the sandbox, killing it if it runs, with its network,
// volume attachments, log and record. Deleting an unknown sandbox is not an
// error.
func (h *Host) Delete(ctx context.Context, id string) error {
	e, err := h.lookup(id)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	e.op.Lock()
	defer e.op.Unlock()
	return h.deleteEntry(ctx, e)
}

// deleteEntry does Delete's work; the caller holds e.op.
func (h *Host) deleteEntry(ctx context.Context, e *entry) error {
	cur := h.current(e)
	h.mu.Lock()
	_, still := h.entries[cur.ID]
	h.mu.Unlock()
	if !still {
		return nil // deleted while we waited for e.op
	}
	if cur.Phase != phaseDeleting {
		rec := cur.clone()
		rec.Phase = phaseDeleting
		if err := h.save(ctx, e, rec); err != nil {
			return fmt.Errorf("delete sandbox %s: %w", cur.ID, err)
		}
		cur = rec
	}
	if err := h.teardown(ctx, cur); err != nil {
		return fmt.Errorf("delete sandbox %s: %w", cur.ID, err)
	}
	// The driver's Delete ended the sandbox, so its watcher returns; wake
	// waiters of one that never ran.
	h.mu.Lock()
	if e.exited != nil && !e.watched {
		select {
		case <-e.exited:
		default:
			close(e.exited)
		}
	}
	h.mu.Unlock()
	return h.forget(ctx, cur)
}

// teardown undoes every host change rec may have made, whatever step it got
// to: the driver's sandbox (by handle, else found by label), the network
// attachment, block volume attachments and the log. Every step tolerates
// what is already gone, so it can be run again after a crash.
func (h *Host) teardown(ctx context.Context, rec *record) error {
	var errs []error
	handle := rec.Handle
	if handle == nil {
		found, err := h.findDriverSandbox(ctx, rec.ID)
		if err != nil {
			errs = append(errs, err)
		}
		handle = found
	}
	if handle != nil {
		if err := h.driver.Delete(ctx, handle); err != nil && !errors.Is(err, sandbox.ErrNotFound) {
			errs = append(errs, fmt.Errorf("driver: %w", err))
		}
	}
	switch {
	case rec.Network != "" && h.net != nil:
		if err := h.net.Detach(ctx, rec.ID); err != nil {
			errs = append(errs, fmt.Errorf("network: %w", err))
		}
	case rec.Network != "":
		// Networking worked when the sandbox was made but not now: its
		// attachment stays in the network state directory until a Host with
		// networking starts and finds it without a record.
		h.log.Warn("substrate: cannot detach network now; it is detached at the next start with networking",
			"id", rec.ID, "network", rec.Network, "reason", h.netWhy)
	}
	for _, v := range rec.BlockVolumes {
		if err := h.volumes.Detach(ctx, v); err != nil {
			errs = append(errs, fmt.Errorf("volume %s: %w", v, err))
		}
	}
	if len(errs) == 0 && rec.LogPath != "" {
		if err := os.Remove(rec.LogPath); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("log: %w", err))
		}
	}
	return errors.Join(errs...)
}

// findDriverSandbox finds sandbox id among the driver's, for a record
// written before the driver returned its handle.
func (h *Host) findDriverSandbox(ctx context.Context, id string) (*sandbox.Handle, error) {
	infos, err := h.driver.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("driver list: %w", err)
	}
	for _, in := range infos {
		if in.Handle.ID == id {
			hd := in.Handle
			return &hd, nil
		}
	}
	return nil, nil
}
