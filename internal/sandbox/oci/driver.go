// Package oci is the sandbox driver that runs sandboxes with an OCI runtime
// (runc by default, crun where the host allows it) over OCI bundles, each
// watched by a small shim process so sandboxes outlive a nimbus restart.
//
// Every sandbox has a state directory <root>/sandboxes/<id> holding its
// bundle (config.json and the overlay root), the shim's files and its exit
// status; the runtime keeps its own state under <root>/<runtime>. The driver
// keeps nothing about a sandbox in memory that it cannot read back from
// those, which is what makes Adopt and List work after a restart.
//
// The shim is the nimbus binary itself: main must start with
//
//	if len(os.Args) > 1 && os.Args[1] == oci.ShimCommand {
//		os.Exit(oci.ShimMain(os.Args[2:]))
//	}
//
// before parsing flags or opening anything. The driver starts
// `<nimbus> __shim <state dir>` in a session of its own with a ready pipe on
// fd 3. The shim becomes a child subreaper and runs `runc create` with the
// container's stdout and stderr on pipes it holds; the container's init is
// reparented to it when runc exits, so the shim reaps it and learns its exact
// wait status. Start is then `runc start`. We chose create+start under a
// subreaper over `runc run` in the foreground because no runc process stays
// resident per sandbox, the cgroup outlives the init so the shim can read
// the OOM counter, and the create/start split matches the Driver contract.
package oci

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"

	"github.com/nimbus-dev/nimbus/internal/sandbox"
)

// DriverName is the Handle.Driver of this driver's sandboxes.
const DriverName = "oci"

// stateVersion is Handle.Version for the DriverState this code writes.
const stateVersion = 1

// DefaultRoot is where nimbus keeps OCI sandbox state unless told otherwise.
const DefaultRoot = "/var/lib/nimbus/oci"

// Runtime choices for WithRuntime.
const (
	RuntimeRunc = "runc"
	RuntimeCrun = "crun"
	RuntimeAuto = "auto" // crun when it works on this host, else runc
)

// Driver runs sandboxes with runc or crun.
type Driver struct {
	root    string
	rt      runtime
	mode    CgroupMode
	shim    []string
	log     *slog.Logger
	gpus    int
	why     string // why this runtime was chosen
	mu      sync.Mutex
	shims   map[string]*Shim // shims we launched, by sandbox id
	runtime string
	rtPath  string
	init    string // static init binary for Spec.Init, "" if none
}

// initCandidates are static init binaries looked for on the host (Debian's
// tini package ships tini-static). It is bind-mounted into sandboxes that
// ask for Spec.Init, so it must not need the image's libraries.
var initCandidates = []string{"/usr/bin/tini-static", "/usr/sbin/tini-static", "/sbin/tini-static"}

// initMountPoint is where the init binary appears inside a sandbox.
const initMountPoint = "/.nimbus-init"

// Option configures New.
type Option func(*Driver)

// WithRoot sets the directory for sandbox and runtime state.
func WithRoot(dir string) Option { return func(d *Driver) { d.root = dir } }

// WithRuntime picks runc, crun or auto (the default is runc).
func WithRuntime(name string) Option { return func(d *Driver) { d.runtime = name } }

// WithRuntimePath sets the runtime binary instead of looking it up in PATH.
func WithRuntimePath(path string) Option { return func(d *Driver) { d.rtPath = path } }

// WithShim sets the command that runs the shim; the state directory is
// appended. The default is the embedded nimbus-shim binary, installed under
// the driver's root, where nimbus was built with it (`make build`), else
// this executable with ShimCommand.
func WithShim(argv ...string) Option { return func(d *Driver) { d.shim = argv } }

// WithInit sets the static init binary run as PID 1 for Spec.Init; the
// default is the host's tini-static, if installed.
func WithInit(path string) Option { return func(d *Driver) { d.init = path } }

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(d *Driver) { d.log = l } }

// New checks the runtime and prepares the state directories. With
// RuntimeAuto it probes crun once and falls back to runc, logging why.
//
// It then removes what a nimbus killed inside Create left before the
// runtime knew the container: state directories with no container in any
// runtime state root under the driver's root, no running shim and no Create
// in progress, with their overlay roots and other mounts under them and
// their empty cgroups. List cannot report those, and no handle of them was
// ever returned, so nothing else could. Sandboxes a runtime knows or a shim
// watches are never touched: they are List's, Adopt's and Delete's.
func New(ctx context.Context, opts ...Option) (*Driver, error) {
	d := &Driver{root: DefaultRoot, runtime: RuntimeRunc, log: slog.Default(), shims: map[string]*Shim{}}
	for _, o := range opts {
		o(d)
	}
	if d.shim == nil && len(embeddedShim) > 0 {
		path, err := installShim(filepath.Join(d.root, "bin"), embeddedShim)
		if err != nil {
			return nil, fmt.Errorf("oci driver: %w", err)
		}
		d.shim = []string{path, ShimCommand}
	}
	if d.shim == nil {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("oci driver: find own executable for the shim: %w", err)
		}
		d.shim = []string{exe, ShimCommand}
	}
	if d.init == "" {
		for _, p := range initCandidates {
			if fileExists(p) {
				d.init = p
				break
			}
		}
	}
	d.mode = DetectCgroupMode()
	d.gpus = CountGPUs()
	if err := os.MkdirAll(filepath.Join(d.root, "sandboxes"), 0o700); err != nil {
		return nil, fmt.Errorf("oci driver: %w", err)
	}
	switch d.runtime {
	case RuntimeRunc, RuntimeCrun:
		rt, err := d.lookRuntime(d.runtime, d.rtPath)
		if err != nil {
			return nil, err
		}
		d.rt, d.why = rt, "asked for "+d.runtime
	case RuntimeAuto:
		crun, err := d.lookRuntime(RuntimeCrun, "")
		if err == nil {
			err = probeRuntime(ctx, crun, d.mode)
		}
		if err == nil {
			d.rt, d.why = crun, "crun works on this host"
			break
		}
		runc, rerr := d.lookRuntime(RuntimeRunc, d.rtPath)
		if rerr != nil {
			return nil, fmt.Errorf("oci driver: no usable runtime: crun: %v; runc: %w", err, rerr)
		}
		d.rt, d.why = runc, "crun unusable, falling back to runc: "+err.Error()
		d.log.Info("oci driver: using runc", "reason", err.Error())
	default:
		return nil, fmt.Errorf("oci driver: unknown runtime %q", d.runtime)
	}
	d.sweepAbandoned(ctx)
	return d, nil
}

func (d *Driver) lookRuntime(name, path string) (runtime, error) {
	if path == "" {
		p, err := exec.LookPath(name)
		if err != nil {
			return runtime{}, fmt.Errorf("oci driver: %s not found: %w", name, err)
		}
		path = p
	} else if _, err := os.Stat(path); err != nil {
		return runtime{}, fmt.Errorf("oci driver: runtime binary: %w", err)
	}
	return runtime{name: name, path: path, root: filepath.Join(d.root, name)}, nil
}

// Name says which runtime runs the sandboxes.
func (d *Driver) Name() string { return DriverName + "/" + d.rt.name }

// Description says what isolation the driver gives.
func (d *Driver) Description() string {
	return fmt.Sprintf("OCI containers via %s (%s cgroups): pid, mount, ipc, uts and network namespaces, cgroup limits, overlay roots, default capabilities, no new privileges", d.rt.name, d.mode)
}

// Runtime is the runtime binary in use and why it was chosen.
func (d *Driver) Runtime() (name, path, reason string) { return d.rt.name, d.rt.path, d.why }

// CgroupMode is the cgroup layout the driver found.
func (d *Driver) CgroupMode() CgroupMode { return d.mode }

func (d *Driver) sandboxDir(id string) string { return filepath.Join(d.root, "sandboxes", id) }

var (
	_ sandbox.Driver    = (*Driver)(nil)
	_ sandbox.Describer = (*Driver)(nil)
)
