// Package sandbox is the compute substrate's contract: a Driver runs a Spec
// as an isolated sandbox. EC2 instances, Batch jobs and Lambda sandboxes all
// run through it (docs/SUBSTRATE.md). Drivers are wired explicitly in main.
//
// Like Nomad's task handles, every sandbox has a Handle whose DriverState is
// opaque, versioned bytes: nimbus stores it, and after a restart gives it back
// to Adopt so sandboxes that kept running are managed again.
package sandbox

import (
	"context"
	"errors"
	"io"
	"time"
)

// Sentinel errors; the layers above map them to AWS codes at the edge.
var (
	ErrNotFound      = errors.New("sandbox not found")
	ErrAlreadyExists = errors.New("sandbox already exists")
	ErrInvalidSpec   = errors.New("invalid sandbox spec")
	ErrUnsupported   = errors.New("not supported by this driver or host")
	ErrNotRunning    = errors.New("sandbox is not running")
	// ErrMountBusy: a mount inside the sandbox is in use (an open file, a
	// working directory) and cannot be removed now.
	ErrMountBusy = errors.New("mount is in use inside the sandbox")
)

// Spec is everything needed to run one sandbox.
type Spec struct {
	ID       string            // unique, [a-z0-9-], at most 64 characters
	Labels   map[string]string // owner, e.g. {"nimbus.kind":"ec2-instance","nimbus.id":"i-..."}
	RootFS   RootFS
	Command  []string // argv; the first element is resolved inside the root
	Env      []string // KEY=VALUE
	WorkDir  string
	User     string // "uid[:gid]" or a name from the root's /etc/passwd
	Hostname string

	MilliCPU    int64 // CPU quota in thousandths of a CPU; 0 = unlimited
	MemoryBytes int64 // memory limit; exceeding it is an OOM kill, reported as such; 0 = unlimited
	PidsLimit   int64 // 0 = unlimited
	GPUs        int   // number of host GPUs to pass through; refused when the host has too few
	Rlimits     []Rlimit

	Mounts   []Mount
	Network  *NetworkAttachment // nil: no network namespace of its own beyond loopback
	ReadOnly bool               // read-only root filesystem
	Log      LogSink
	// Init, when set, runs as PID 1 and reaps zombies (long-lived EC2 sandboxes).
	// The oci driver uses the host's tini-static (Debian package tini); a
	// command ended by a signal then reports ExitCode 128+signal, Signal 0.
	Init bool
	// AllowPrivilegeGain lets setuid programs (sudo, su) raise privileges
	// inside the sandbox, up to its capabilities: an EC2 instance is a whole
	// system whose users sudo. Otherwise no process can gain privileges
	// (no_new_privs), as for functions and jobs.
	AllowPrivilegeGain bool
}

// RootFS is the root filesystem: an unpacked image directory, either used as
// the lower layer of a copy-on-write overlay (the default) or used directly.
type RootFS struct {
	ImageDir string // unpacked image root (read-only lower layer)
	// UpperDir, when set, is a persistent upper layer (an EC2 root volume that
	// survives stop/start); otherwise the driver makes a throwaway one. The
	// oci driver keeps overlayfs's "upper" and "work" directories inside it
	// (both must be on one filesystem) and never deletes it.
	UpperDir string
	Direct   bool // use ImageDir as the root itself, without an overlay
}

// Rlimit is a POSIX resource limit.
type Rlimit struct {
	Type string // RLIMIT_NOFILE, ...
	Soft uint64
	Hard uint64
}

// MountType is the kind of a Mount.
type MountType string

const (
	MountBind  MountType = "bind"  // a host directory (or a mounted volume) into the sandbox
	MountTmpfs MountType = "tmpfs" // a size-limited tmpfs
)

// Mount is one filesystem inside the sandbox.
type Mount struct {
	Type        MountType
	Source      string // host path for binds
	Destination string // path inside the sandbox
	ReadOnly    bool
	SizeBytes   int64 // tmpfs size
}

// NetworkAttachment is the network namespace prepared by the network layer.
type NetworkAttachment struct {
	NetNSPath string // e.g. /var/run/netns/nimbus-<id>; joined by the sandbox
	IP        string
	Gateway   string
}

// LogSink says where stdout and stderr go: a file, one line per record with
// a timestamp and the stream name (see package sandboxlog).
type LogSink struct {
	Path string
}

// State of a sandbox.
type State string

const (
	StateCreated State = "created"
	StateRunning State = "running"
	StatePaused  State = "paused"
	StateExited  State = "exited"
)

// Handle identifies a created sandbox. DriverState is opaque to everyone but
// the driver that made it and carries a version so an older nimbus's state
// can be recognised.
type Handle struct {
	ID          string
	Driver      string
	Version     int
	DriverState []byte
}

// ExitStatus is how a sandbox ended.
type ExitStatus struct {
	// ExitCode is the process's exit code, or 128+Signal when a signal
	// ended it (137 for SIGKILL), as shells and AWS Batch report it.
	ExitCode   int
	Signal     int  // the signal that ended it, 0 if it exited
	OOMKilled  bool // the memory limit was hit
	StartedAt  time.Time
	FinishedAt time.Time
}

// Stats is resource use so far.
type Stats struct {
	CPUSeconds      float64
	MemoryBytes     int64 // current
	PeakMemoryBytes int64
	Pids            int64
}

// Info describes a sandbox the driver knows about.
type Info struct {
	Handle Handle
	Labels map[string]string
	State  State
	Pid    int
}

// Driver runs sandboxes. Every method is safe for concurrent use.
type Driver interface {
	Name() string
	// Create prepares the sandbox (root, cgroup, namespaces) without running
	// the command. On error nothing is left behind.
	Create(ctx context.Context, spec Spec) (*Handle, error)
	// Start runs the command, detached: it outlives a nimbus restart.
	Start(ctx context.Context, h *Handle) error
	// Stop sends SIGTERM, then SIGKILL after grace.
	Stop(ctx context.Context, h *Handle, grace time.Duration) error
	// Kill sends a signal.
	Kill(ctx context.Context, h *Handle, signal int) error
	// Wait blocks until the sandbox exits or ctx ends.
	Wait(ctx context.Context, h *Handle) (*ExitStatus, error)
	// Delete removes everything the sandbox holds (killing it first if it
	// runs): root, cgroup, mounts. Deleting a deleted sandbox is not an error.
	Delete(ctx context.Context, h *Handle) error
	Stats(ctx context.Context, h *Handle) (*Stats, error)
	// List reports every sandbox this driver manages on the host, including
	// ones a previous nimbus started.
	List(ctx context.Context) ([]Info, error)
	// Adopt takes back a sandbox from a stored handle after a restart.
	Adopt(ctx context.Context, h *Handle) error
}

// Describer is an optional ability: a sentence for doctor and the logs on
// what the driver isolates and what it does not.
type Describer interface {
	Description() string
}

// Execer is an optional ability: run a command inside a running sandbox.
type Execer interface {
	Exec(ctx context.Context, h *Handle, cmd []string, stdin io.Reader, stdout, stderr io.Writer) (int, error)
}

// Pauser is an optional ability: freeze and thaw a sandbox.
type Pauser interface {
	Pause(ctx context.Context, h *Handle) error
	Resume(ctx context.Context, h *Handle) error
}

// Snapshotter is an optional ability: copy a sandbox's root (its upper layer
// merged over the image) into a directory, for EC2 CreateImage.
type Snapshotter interface {
	SnapshotRoot(ctx context.Context, h *Handle, dst string) error
}

// MountInjector is an optional ability: bind-mount a host path into a
// running sandbox without restarting it (a Lambda warm spare's code, an EBS
// volume attached to a running instance).
type MountInjector interface {
	InjectMount(ctx context.Context, h *Handle, source, dest string, opts InjectOptions) error
	// RemoveMount unmounts dest inside the running sandbox, as an OS
	// unmounts a disk: ErrMountBusy while something there uses it.
	RemoveMount(ctx context.Context, h *Handle, dest string) error
}

// InjectOptions tune one injected mount.
type InjectOptions struct {
	ReadOnly bool
	// CreateTarget makes the directory dest inside the sandbox first when
	// it is missing; otherwise a missing dest is an error.
	CreateTarget bool
}
