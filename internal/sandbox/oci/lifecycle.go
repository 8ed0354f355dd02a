package oci

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nimbus-dev/nimbus/internal/sandbox"
)

const (
	handleFile = "handle.json" // the Handle, so List can rebuild it
	// shimExitTimeout bounds how long Delete waits for a shim to finish
	// writing its exit status after the container is gone.
	shimExitTimeout = 5 * time.Second
)

// Create writes the bundle, mounts the root and has a shim run `create`, so
// the container exists, in its namespaces and cgroup, waiting to start.
func (d *Driver) Create(ctx context.Context, spec sandbox.Spec) (h *sandbox.Handle, err error) {
	if err := validateSpec(spec, d.gpus); err != nil {
		return nil, err
	}
	if spec.Init {
		if d.init == "" {
			d.log.Warn("oci driver: Spec.Init asked but no static init (apt-get install tini); the command runs as PID 1", "id", spec.ID)
		} else {
			spec.Mounts = append(append([]sandbox.Mount(nil), spec.Mounts...),
				sandbox.Mount{Type: sandbox.MountBind, Source: d.init, Destination: initMountPoint, ReadOnly: true})
			spec.Command = append([]string{initMountPoint, "--"}, spec.Command...)
		}
	}
	dir := d.sandboxDir(spec.ID)
	if err := os.Mkdir(dir, 0o700); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("create sandbox %s: %w", spec.ID, sandbox.ErrAlreadyExists)
		}
		return nil, fmt.Errorf("create sandbox %s: %w", spec.ID, err)
	}
	// Held until the sandbox exists or is undone; see sweepAbandoned.
	lock, err := lockSandboxDir(dir, true)
	if err != nil {
		os.Remove(dir)
		return nil, fmt.Errorf("create sandbox %s: lock state dir: %w", spec.ID, err)
	}
	defer lock.Close()
	if !lockedDirStillAt(lock, dir) {
		return nil, fmt.Errorf("create sandbox %s: state dir %s was removed by another driver's sweep", spec.ID, dir)
	}
	defer func() {
		if err != nil {
			d.cleanup(context.WithoutCancel(ctx), spec.ID, dir)
		}
	}()
	rootPath, err := mountRoot(dir, spec.RootFS)
	if err != nil {
		return nil, fmt.Errorf("create sandbox %s: %w", spec.ID, err)
	}
	st := driverState{Dir: dir, Runtime: d.rt.name, RuntimeRoot: d.rt.root, Cgroups: string(d.mode)}
	if !spec.RootFS.Direct {
		st.Mounted = rootPath
	}
	gpus, err := gpuDevicesFor(spec.GPUs)
	if err != nil {
		return nil, fmt.Errorf("create sandbox %s: %w", spec.ID, err)
	}
	ociSpec, err := buildSpec(spec, rootPath, d.mode, gpus)
	if err != nil {
		return nil, fmt.Errorf("create sandbox %s: %w", spec.ID, err)
	}
	if err := writeJSONAtomic(filepath.Join(dir, "config.json"), ociSpec); err != nil {
		return nil, fmt.Errorf("create sandbox %s: %w", spec.ID, err)
	}
	h, err = d.newHandle(spec.ID, st)
	if err != nil {
		return nil, err
	}
	if err := writeJSONAtomic(filepath.Join(dir, handleFile), h); err != nil {
		return nil, fmt.Errorf("create sandbox %s: %w", spec.ID, err)
	}
	if err := os.MkdirAll(filepath.Dir(spec.Log.Path), 0o755); err != nil {
		return nil, fmt.Errorf("create sandbox %s: log directory: %w", spec.ID, err)
	}
	shim, err := LaunchShim(ctx, d.shim, dir, ShimConfig{
		Mode:         ShimModeOCI,
		ID:           spec.ID,
		LogPath:      spec.Log.Path,
		Runtime:      d.rt.path,
		RuntimeRoot:  d.rt.root,
		Bundle:       dir,
		MemoryCgroup: cgroupDirsFor(d.mode, spec.ID).memory,
	})
	if err != nil {
		return nil, fmt.Errorf("create sandbox %s: %w", spec.ID, err)
	}
	d.mu.Lock()
	d.shims[spec.ID] = shim
	d.mu.Unlock()
	return h, nil
}

// Start runs the command of a created sandbox.
func (d *Driver) Start(ctx context.Context, h *sandbox.Handle) error {
	st, err := d.decodeHandle(h)
	if err != nil {
		return err
	}
	if fileExists(filepath.Join(st.Dir, exitFile)) {
		return fmt.Errorf("start sandbox %s: %w", h.ID, sandbox.ErrNotRunning)
	}
	// Written first: /bin/true can exit before `start` returns, and the shim
	// reads this when it records the exit.
	started := filepath.Join(st.Dir, startedFile)
	if err := writeJSONAtomic(started, startedRecord{StartedAt: time.Now()}); err != nil {
		return fmt.Errorf("start sandbox %s: %w", h.ID, err)
	}
	if err := d.rt.start(ctx, h.ID); err != nil {
		os.Remove(started)
		if errors.Is(err, errContainerNotFound) {
			return fmt.Errorf("start sandbox %s: %w", h.ID, sandbox.ErrNotFound)
		}
		return fmt.Errorf("start sandbox %s: %w", h.ID, err)
	}
	return nil
}

// Kill sends signal to the sandbox's first process.
func (d *Driver) Kill(ctx context.Context, h *sandbox.Handle, signal int) error {
	st, err := d.decodeHandle(h)
	if err != nil {
		return err
	}
	if fileExists(filepath.Join(st.Dir, exitFile)) {
		return fmt.Errorf("kill sandbox %s: %w", h.ID, sandbox.ErrNotRunning)
	}
	if err := d.rt.kill(ctx, h.ID, signal); err != nil {
		if errors.Is(err, errContainerNotFound) {
			return fmt.Errorf("kill sandbox %s: %w", h.ID, sandbox.ErrNotFound)
		}
		if fileExists(filepath.Join(st.Dir, exitFile)) {
			return fmt.Errorf("kill sandbox %s: %w", h.ID, sandbox.ErrNotRunning)
		}
		return fmt.Errorf("kill sandbox %s: %w", h.ID, err)
	}
	return nil
}

// Stop sends SIGTERM, then SIGKILL once grace has passed, and returns when
// the sandbox has exited. Stopping an exited sandbox is not an error.
func (d *Driver) Stop(ctx context.Context, h *sandbox.Handle, grace time.Duration) error {
	return StopGracefully(ctx, d, h, grace)
}

// Wait returns the exit status, from the shim's exit file: at once if the
// sandbox has exited, else when the shim (ours, or one adopted) ends.
func (d *Driver) Wait(ctx context.Context, h *sandbox.Handle) (*sandbox.ExitStatus, error) {
	st, err := d.decodeHandle(h)
	if err != nil {
		return nil, err
	}
	if status, err := ReadExitStatus(st.Dir); !errors.Is(err, os.ErrNotExist) {
		return status, err
	}
	if _, err := os.Stat(st.Dir); err != nil {
		return nil, fmt.Errorf("wait sandbox %s: %w", h.ID, sandbox.ErrNotFound)
	}
	if err := d.waitShim(ctx, h.ID, st.Dir); err != nil {
		return nil, fmt.Errorf("wait sandbox %s: %w", h.ID, err)
	}
	status, err := ReadExitStatus(st.Dir)
	if errors.Is(err, os.ErrNotExist) {
		// The shim was killed: nobody can learn the exit code any more, but
		// the container may still run, and Wait must not return before it ends.
		if cs, serr := d.rt.state(ctx, h.ID); serr == nil && cs.Pid > 0 && cs.Status != "stopped" {
			if err := waitPidExit(ctx, cs.Pid); err != nil {
				return nil, fmt.Errorf("wait sandbox %s: %w", h.ID, err)
			}
		}
		return nil, fmt.Errorf("wait sandbox %s: %w: its shim died, so the exit status is lost (see %s)",
			h.ID, ErrExitStatusLost, filepath.Join(st.Dir, shimLogFile))
	}
	return status, err
}

// ErrExitStatusLost is returned by Wait when a sandbox's shim was killed, so
// nothing recorded how the sandbox ended.
var ErrExitStatusLost = errors.New("exit status lost")

// waitShim waits for the sandbox's shim to end.
func (d *Driver) waitShim(ctx context.Context, id, dir string) error {
	d.mu.Lock()
	shim := d.shims[id]
	d.mu.Unlock()
	return WaitShimExit(ctx, shim, dir)
}

// Delete kills the sandbox if it runs and removes the container, its
// cgroup, its root mount, its shim and its state directory.
func (d *Driver) Delete(ctx context.Context, h *sandbox.Handle) error {
	st, err := d.decodeHandle(h)
	if err != nil {
		return err
	}
	if err := d.cleanup(ctx, h.ID, st.Dir); err != nil {
		return fmt.Errorf("delete sandbox %s: %w", h.ID, err)
	}
	return nil
}

// cleanup removes everything a sandbox may hold, whatever state it got to;
// Create uses it to undo a half-made sandbox.
func (d *Driver) cleanup(ctx context.Context, id, dir string) error {
	var errs []error
	if err := d.rt.deleteForce(ctx, id); err != nil {
		errs = append(errs, err)
	}
	waitCtx, cancel := context.WithTimeout(ctx, shimExitTimeout)
	if err := d.waitShim(waitCtx, id, dir); err != nil {
		// The shim should have exited with its container; don't leak it.
		if pid, alive := readShimPid(dir); alive {
			unix.Kill(pid, unix.SIGKILL)
			d.waitShim(ctx, id, dir)
		}
	}
	cancel()
	d.mu.Lock()
	delete(d.shims, id)
	d.mu.Unlock()
	if err := unmountRoot(dir); err != nil {
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		if err := os.RemoveAll(dir); err != nil {
			errs = append(errs, fmt.Errorf("remove state: %w", err))
		}
	}
	return errors.Join(errs...)
}

// Stats reads the sandbox's cgroup.
func (d *Driver) Stats(ctx context.Context, h *sandbox.Handle) (*sandbox.Stats, error) {
	st, err := d.decodeHandle(h)
	if err != nil {
		return nil, err
	}
	stats, err := cgroupDirsFor(CgroupMode(st.Cgroups), h.ID).stats()
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("stats sandbox %s: %w", h.ID, sandbox.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("stats sandbox %s: %w", h.ID, err)
	}
	return stats, nil
}

// List reports the sandboxes in this driver's runtime root.
func (d *Driver) List(ctx context.Context) ([]sandbox.Info, error) {
	cs, err := d.rt.list(ctx)
	if err != nil {
		return nil, fmt.Errorf("list sandboxes: %w", err)
	}
	var infos []sandbox.Info
	for _, c := range cs {
		dir := d.sandboxDir(c.ID)
		if filepath.Clean(c.Bundle) != dir {
			continue
		}
		var h sandbox.Handle
		if err := readJSON(filepath.Join(dir, handleFile), &h); err != nil {
			d.log.Warn("oci driver: container without a readable handle", "id", c.ID, "err", err)
			continue
		}
		infos = append(infos, sandbox.Info{
			Handle: h,
			Labels: labelsFromAnnotations(c.Annotations),
			State:  stateFromRuntime(c.Status),
			Pid:    c.Pid,
		})
	}
	return infos, nil
}

// Adopt checks that a sandbox from before a restart is still there. The
// driver needs nothing else: its state lives in the state directory, and
// Wait watches the adopted shim by pid.
func (d *Driver) Adopt(ctx context.Context, h *sandbox.Handle) error {
	st, err := d.decodeHandle(h)
	if err != nil {
		return err
	}
	if _, err := os.Stat(st.Dir); err != nil {
		return fmt.Errorf("adopt sandbox %s: %w", h.ID, sandbox.ErrNotFound)
	}
	if _, err := d.rt.state(ctx, h.ID); err != nil {
		if errors.Is(err, errContainerNotFound) {
			return fmt.Errorf("adopt sandbox %s: %w", h.ID, sandbox.ErrNotFound)
		}
		return fmt.Errorf("adopt sandbox %s: %w", h.ID, err)
	}
	if _, alive := readShimPid(st.Dir); !alive && !fileExists(filepath.Join(st.Dir, exitFile)) {
		d.log.Warn("oci driver: adopted sandbox has lost its shim; its exit status will be unknown", "id", h.ID)
	}
	return nil
}

// Pause freezes the sandbox.
func (d *Driver) Pause(ctx context.Context, h *sandbox.Handle) error {
	if _, err := d.decodeHandle(h); err != nil {
		return err
	}
	if _, err := d.rt.run(ctx, "pause", h.ID); err != nil {
		return fmt.Errorf("pause sandbox %s: %w", h.ID, err)
	}
	return nil
}

// Resume thaws a paused sandbox.
func (d *Driver) Resume(ctx context.Context, h *sandbox.Handle) error {
	if _, err := d.decodeHandle(h); err != nil {
		return err
	}
	if _, err := d.rt.run(ctx, "resume", h.ID); err != nil {
		return fmt.Errorf("resume sandbox %s: %w", h.ID, err)
	}
	return nil
}

// Exec runs cmd inside the running sandbox and returns its exit code.
func (d *Driver) Exec(ctx context.Context, h *sandbox.Handle, cmd []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	if _, err := d.decodeHandle(h); err != nil {
		return 0, err
	}
	if len(cmd) == 0 {
		return 0, fmt.Errorf("exec in sandbox %s: %w: empty command", h.ID, sandbox.ErrInvalidSpec)
	}
	c := exec.CommandContext(ctx, d.rt.path, append([]string{"--root", d.rt.root, "exec", h.ID}, cmd...)...)
	c.Stdin, c.Stdout, c.Stderr = stdin, stdout, stderr
	err := c.Run()
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), nil
		}
		return exitErr.ExitCode(), nil
	}
	if err != nil {
		return 0, fmt.Errorf("exec in sandbox %s: %w", h.ID, err)
	}
	return 0, nil
}

func labelsFromAnnotations(ann map[string]string) map[string]string {
	labels := map[string]string{}
	for k, v := range ann {
		if name, ok := strings.CutPrefix(k, labelAnnotationPrefix); ok {
			labels[name] = v
		}
	}
	return labels
}

func stateFromRuntime(status string) sandbox.State {
	switch status {
	case "created", "creating":
		return sandbox.StateCreated
	case "running":
		return sandbox.StateRunning
	case "paused", "pausing":
		return sandbox.StatePaused
	default:
		return sandbox.StateExited
	}
}

var (
	_ sandbox.Pauser = (*Driver)(nil)
	_ sandbox.Execer = (*Driver)(nil)
)
