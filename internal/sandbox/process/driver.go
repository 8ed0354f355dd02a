// Package process is the sandbox driver for hosts without root or an OCI
// runtime: each sandbox is a plain host process, started and watched by the
// same shim as the oci driver (so logs and exit status survive a nimbus
// restart), with its own working directory, environment, rlimits and
// session.
//
// Isolation is weak and we say so: no namespaces, no cgroups, no image root
// (the command runs on the host's filesystem as nimbus's user), no memory,
// CPU or pids limits, no mounts, no network of its own.
package process

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nimbus-dev/nimbus/internal/sandbox"
	"github.com/nimbus-dev/nimbus/internal/sandbox/oci"
)

// DriverName is the Handle.Driver of this driver's sandboxes.
const DriverName = "process"

// Description is what doctor and the logs say about this driver.
const Description = "host processes: NO isolation (no namespaces, no cgroup limits, no image root; commands run on the host filesystem as nimbus's user)"

const stateVersion = 1

// DefaultRoot is where process sandbox state lives unless told otherwise.
const DefaultRoot = "/var/lib/nimbus/process"

const (
	handleFile      = "handle.json"
	specFile        = "spec.json"
	shimExitTimeout = 5 * time.Second
)

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,63}$`)

// Driver runs sandboxes as host processes.
type Driver struct {
	root  string
	shim  []string
	log   *slog.Logger
	mu    sync.Mutex
	shims map[string]*oci.Shim
}

// Option configures New.
type Option func(*Driver)

// WithRoot sets the state directory.
func WithRoot(dir string) Option { return func(d *Driver) { d.root = dir } }

// WithShim sets the shim command; the default is this executable with oci.ShimCommand.
func WithShim(argv ...string) Option { return func(d *Driver) { d.shim = argv } }

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(d *Driver) { d.log = l } }

// New prepares the state directory and warns, once, that isolation is weak.
func New(opts ...Option) (*Driver, error) {
	d := &Driver{root: DefaultRoot, log: slog.Default(), shims: map[string]*oci.Shim{}}
	for _, o := range opts {
		o(d)
	}
	if d.shim == nil {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("process driver: find own executable for the shim: %w", err)
		}
		d.shim = []string{exe, oci.ShimCommand}
	}
	if err := os.MkdirAll(filepath.Join(d.root, "sandboxes"), 0o700); err != nil {
		return nil, fmt.Errorf("process driver: %w", err)
	}
	d.log.Warn("sandbox driver is process: " + Description)
	return d, nil
}

// Name is the driver's name.
func (d *Driver) Name() string { return DriverName }

// Description says plainly how weak the isolation is.
func (d *Driver) Description() string { return Description }

func (d *Driver) sandboxDir(id string) string { return filepath.Join(d.root, "sandboxes", id) }

type driverState struct {
	Dir string `json:"dir"`
}

// storedSpec is what Start needs of the Spec, kept on disk so a restarted
// nimbus can start a sandbox created before it.
type storedSpec struct {
	Command []string          `json:"command"`
	Env     []string          `json:"env"`
	WorkDir string            `json:"workDir"`
	Rlimits []sandbox.Rlimit  `json:"rlimits"`
	LogPath string            `json:"logPath"`
	Labels  map[string]string `json:"labels"`
}

func (d *Driver) decodeHandle(h *sandbox.Handle) (string, error) {
	if h == nil || h.Driver != DriverName {
		return "", fmt.Errorf("%w: handle is not a process sandbox", sandbox.ErrNotFound)
	}
	if h.Version != stateVersion {
		return "", fmt.Errorf("process driver: handle %s has state version %d, this nimbus knows %d", h.ID, h.Version, stateVersion)
	}
	var st driverState
	if err := json.Unmarshal(h.DriverState, &st); err != nil {
		return "", fmt.Errorf("process driver: decode handle %s: %w", h.ID, err)
	}
	dir := d.sandboxDir(h.ID)
	if st.Dir != dir {
		return "", fmt.Errorf("%w: handle %s belongs to another state root (%s)", sandbox.ErrNotFound, h.ID, st.Dir)
	}
	return dir, nil
}

func validate(spec sandbox.Spec) error {
	switch {
	case !idPattern.MatchString(spec.ID):
		return fmt.Errorf("%w: id %q must be 1-64 characters of [a-z0-9-]", sandbox.ErrInvalidSpec, spec.ID)
	case len(spec.Command) == 0:
		return fmt.Errorf("%w: empty command", sandbox.ErrInvalidSpec)
	case spec.Log.Path == "":
		return fmt.Errorf("%w: no log path", sandbox.ErrInvalidSpec)
	case spec.GPUs > 0:
		return fmt.Errorf("%w: the process driver cannot pass GPUs", sandbox.ErrUnsupported)
	case len(spec.Mounts) > 0:
		return fmt.Errorf("%w: the process driver has no mount namespace for mounts", sandbox.ErrUnsupported)
	case spec.Network != nil && spec.Network.NetNSPath != "":
		return fmt.Errorf("%w: the process driver cannot join a network namespace", sandbox.ErrUnsupported)
	}
	if spec.WorkDir != "" {
		if st, err := os.Stat(spec.WorkDir); err != nil || !st.IsDir() {
			return fmt.Errorf("%w: working directory %s does not exist on the host", sandbox.ErrInvalidSpec, spec.WorkDir)
		}
	}
	return nil
}

// Create records the sandbox; nothing runs until Start.
func (d *Driver) Create(ctx context.Context, spec sandbox.Spec) (h *sandbox.Handle, err error) {
	if err := validate(spec); err != nil {
		return nil, err
	}
	if spec.MemoryBytes > 0 || spec.MilliCPU > 0 || spec.PidsLimit > 0 {
		d.log.Warn("process driver does not enforce memory, CPU or pids limits", "id", spec.ID)
	}
	dir := d.sandboxDir(spec.ID)
	if err := os.Mkdir(dir, 0o700); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("create sandbox %s: %w", spec.ID, sandbox.ErrAlreadyExists)
		}
		return nil, fmt.Errorf("create sandbox %s: %w", spec.ID, err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	workDir := spec.WorkDir
	if workDir == "" {
		workDir = filepath.Join(dir, "work")
		if err := os.Mkdir(workDir, 0o755); err != nil {
			return nil, fmt.Errorf("create sandbox %s: %w", spec.ID, err)
		}
	}
	env := spec.Env
	if !hasPath(env) {
		env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	}
	st := storedSpec{Command: spec.Command, Env: env, WorkDir: workDir, Rlimits: spec.Rlimits, LogPath: spec.Log.Path, Labels: spec.Labels}
	if err := oci.WriteFileAtomic(filepath.Join(dir, specFile), st); err != nil {
		return nil, fmt.Errorf("create sandbox %s: %w", spec.ID, err)
	}
	state, err := json.Marshal(driverState{Dir: dir})
	if err != nil {
		return nil, fmt.Errorf("create sandbox %s: %w", spec.ID, err)
	}
	h = &sandbox.Handle{ID: spec.ID, Driver: DriverName, Version: stateVersion, DriverState: state}
	if err := oci.WriteFileAtomic(filepath.Join(dir, handleFile), h); err != nil {
		return nil, fmt.Errorf("create sandbox %s: %w", spec.ID, err)
	}
	if err := os.MkdirAll(filepath.Dir(spec.Log.Path), 0o755); err != nil {
		return nil, fmt.Errorf("create sandbox %s: log directory: %w", spec.ID, err)
	}
	return h, nil
}

func hasPath(env []string) bool {
	for _, kv := range env {
		if len(kv) >= 5 && kv[:5] == "PATH=" {
			return true
		}
	}
	return false
}

// Start launches the shim, which starts the command.
func (d *Driver) Start(ctx context.Context, h *sandbox.Handle) error {
	dir, err := d.decodeHandle(h)
	if err != nil {
		return err
	}
	var st storedSpec
	if err := oci.ReadFileJSON(filepath.Join(dir, specFile), &st); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("start sandbox %s: %w", h.ID, sandbox.ErrNotFound)
		}
		return fmt.Errorf("start sandbox %s: %w", h.ID, err)
	}
	if _, running := oci.ShimRunning(dir); running || oci.Exited(dir) {
		return fmt.Errorf("start sandbox %s: already started: %w", h.ID, sandbox.ErrNotRunning)
	}
	shim, err := oci.LaunchShim(ctx, d.shim, dir, oci.ShimConfig{
		Mode: oci.ShimModeProcess, ID: h.ID, LogPath: st.LogPath,
		Command: st.Command, Env: st.Env, WorkDir: st.WorkDir, Rlimits: st.Rlimits,
	})
	if err != nil {
		return fmt.Errorf("start sandbox %s: %w", h.ID, err)
	}
	d.mu.Lock()
	d.shims[h.ID] = shim
	d.mu.Unlock()
	return nil
}

// Kill signals the command's whole process group.
func (d *Driver) Kill(ctx context.Context, h *sandbox.Handle, signal int) error {
	dir, err := d.decodeHandle(h)
	if err != nil {
		return err
	}
	if _, err := os.Stat(dir); err != nil {
		return fmt.Errorf("kill sandbox %s: %w", h.ID, sandbox.ErrNotFound)
	}
	pid := oci.InitPid(dir)
	if pid == 0 || oci.Exited(dir) {
		return fmt.Errorf("kill sandbox %s: %w", h.ID, sandbox.ErrNotRunning)
	}
	if err := unix.Kill(-pid, unix.Signal(signal)); err != nil {
		if errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("kill sandbox %s: %w", h.ID, sandbox.ErrNotRunning)
		}
		return fmt.Errorf("kill sandbox %s: %w", h.ID, err)
	}
	return nil
}

// Stop sends SIGTERM, then SIGKILL after grace.
func (d *Driver) Stop(ctx context.Context, h *sandbox.Handle, grace time.Duration) error {
	return oci.StopGracefully(ctx, d, h, grace)
}

// Wait returns the exit status the shim records.
func (d *Driver) Wait(ctx context.Context, h *sandbox.Handle) (*sandbox.ExitStatus, error) {
	dir, err := d.decodeHandle(h)
	if err != nil {
		return nil, err
	}
	if st, err := oci.ReadExitStatus(dir); !errors.Is(err, os.ErrNotExist) {
		return st, err
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("wait sandbox %s: %w", h.ID, sandbox.ErrNotFound)
	}
	d.mu.Lock()
	shim := d.shims[h.ID]
	d.mu.Unlock()
	if shim == nil {
		if _, running := oci.ShimRunning(dir); !running && oci.InitPid(dir) == 0 {
			return nil, fmt.Errorf("wait sandbox %s: not started: %w", h.ID, sandbox.ErrNotRunning)
		}
	}
	if err := oci.WaitShimExit(ctx, shim, dir); err != nil {
		return nil, fmt.Errorf("wait sandbox %s: %w", h.ID, err)
	}
	st, err := oci.ReadExitStatus(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("wait sandbox %s: its shim ended without recording an exit status", h.ID)
	}
	return st, err
}

// Delete kills the command's process group and the shim and removes state.
func (d *Driver) Delete(ctx context.Context, h *sandbox.Handle) error {
	dir, err := d.decodeHandle(h)
	if err != nil {
		return err
	}
	if pid := oci.InitPid(dir); pid > 0 && !oci.Exited(dir) {
		unix.Kill(-pid, unix.SIGKILL)
	}
	d.mu.Lock()
	shim := d.shims[h.ID]
	delete(d.shims, h.ID)
	d.mu.Unlock()
	waitCtx, cancel := context.WithTimeout(ctx, shimExitTimeout)
	defer cancel()
	if err := oci.WaitShimExit(waitCtx, shim, dir); err != nil {
		if pid, alive := oci.ShimRunning(dir); alive {
			unix.Kill(pid, unix.SIGKILL)
			oci.WaitShimExit(ctx, shim, dir)
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("delete sandbox %s: %w", h.ID, err)
	}
	return nil
}

// Stats reads the first process's CPU time and memory from /proc.
func (d *Driver) Stats(ctx context.Context, h *sandbox.Handle) (*sandbox.Stats, error) {
	dir, err := d.decodeHandle(h)
	if err != nil {
		return nil, err
	}
	pid := oci.InitPid(dir)
	if pid == 0 || oci.Exited(dir) {
		return nil, fmt.Errorf("stats sandbox %s: %w", h.ID, sandbox.ErrNotRunning)
	}
	return procStats(pid)
}

// List reads the state directory.
func (d *Driver) List(ctx context.Context) ([]sandbox.Info, error) {
	entries, err := os.ReadDir(filepath.Join(d.root, "sandboxes"))
	if err != nil {
		return nil, fmt.Errorf("list sandboxes: %w", err)
	}
	var infos []sandbox.Info
	for _, e := range entries {
		dir := filepath.Join(d.root, "sandboxes", e.Name())
		var h sandbox.Handle
		var st storedSpec
		if oci.ReadFileJSON(filepath.Join(dir, handleFile), &h) != nil || oci.ReadFileJSON(filepath.Join(dir, specFile), &st) != nil {
			continue // being created or deleted
		}
		info := sandbox.Info{Handle: h, Labels: st.Labels, State: sandbox.StateCreated}
		switch _, running := oci.ShimRunning(dir); {
		case oci.Exited(dir):
			info.State = sandbox.StateExited
		case running:
			info.State = sandbox.StateRunning
			info.Pid = oci.InitPid(dir)
		case oci.InitPid(dir) != 0:
			info.State = sandbox.StateExited // shim lost; status unknown
		}
		infos = append(infos, info)
	}
	return infos, nil
}

// Adopt checks the sandbox's state is still there.
func (d *Driver) Adopt(ctx context.Context, h *sandbox.Handle) error {
	dir, err := d.decodeHandle(h)
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(dir, specFile)); err != nil {
		return fmt.Errorf("adopt sandbox %s: %w", h.ID, sandbox.ErrNotFound)
	}
	return nil
}

var (
	_ sandbox.Driver    = (*Driver)(nil)
	_ sandbox.Describer = (*Driver)(nil)
)
