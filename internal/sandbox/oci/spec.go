package oci

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/nimbus-dev/nimbus/internal/capability"
	"github.com/nimbus-dev/nimbus/internal/sandbox"
)

// ociVersion is the runtime-spec version we write; runc 1.1 and crun 1.8
// both accept it.
const ociVersion = "1.0.2"

// Limits below these cannot run anything, so they are refused up front
// rather than failing obscurely inside the runtime.
const (
	minMemoryBytes = 6 << 20 // what Docker also refuses below
	minMilliCPU    = 10      // a 1 ms quota per 100 ms period, the kernel's floor
	cfsPeriodUsec  = 100000
)

// labelAnnotationPrefix stores Spec.Labels as OCI annotations, so List can
// read them back from the runtime's state alone.
const labelAnnotationPrefix = "dev.nimbus.label."

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,63}$`)

// defaultCapabilities is the capability set containerd and Docker give
// containers. runc's own example spec keeps only three, which stops sshd,
// su and package managers inside EC2 instances from working.
var defaultCapabilities = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// maskedPaths and readonlyPaths are runc's defaults: kernel interfaces a
// sandbox must not read or change.
var maskedPaths = []string{
	"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
	"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
	"/sys/firmware", "/sys/devices/virtual/powercap",
}

var readonlyPaths = []string{
	"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
}

const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// validateSpec checks what can be checked before touching the host.
func validateSpec(spec sandbox.Spec, gpusOnHost int) error {
	if !idPattern.MatchString(spec.ID) {
		return fmt.Errorf("%w: id %q must be 1-64 characters of [a-z0-9-]", sandbox.ErrInvalidSpec, spec.ID)
	}
	if len(spec.Command) == 0 {
		return fmt.Errorf("%w: empty command", sandbox.ErrInvalidSpec)
	}
	if spec.RootFS.ImageDir == "" {
		return fmt.Errorf("%w: no root filesystem", sandbox.ErrInvalidSpec)
	}
	if st, err := os.Stat(spec.RootFS.ImageDir); err != nil || !st.IsDir() {
		return fmt.Errorf("%w: root filesystem %s is not a directory", sandbox.ErrInvalidSpec, spec.RootFS.ImageDir)
	}
	if spec.MemoryBytes != 0 && spec.MemoryBytes < minMemoryBytes {
		return fmt.Errorf("%w: memory limit %d bytes is below the minimum of %d", sandbox.ErrInvalidSpec, spec.MemoryBytes, minMemoryBytes)
	}
	if spec.MilliCPU < 0 || (spec.MilliCPU != 0 && spec.MilliCPU < minMilliCPU) {
		return fmt.Errorf("%w: %d milli-CPU is below the minimum of %d", sandbox.ErrInvalidSpec, spec.MilliCPU, minMilliCPU)
	}
	if spec.PidsLimit < 0 || spec.GPUs < 0 || spec.MemoryBytes < 0 {
		return fmt.Errorf("%w: negative limit", sandbox.ErrInvalidSpec)
	}
	if spec.GPUs > gpusOnHost {
		return fmt.Errorf("%w: %d GPUs asked, host has %d", sandbox.ErrUnsupported, spec.GPUs, gpusOnHost)
	}
	if spec.Log.Path == "" {
		return fmt.Errorf("%w: no log path", sandbox.ErrInvalidSpec)
	}
	if spec.Network != nil && spec.Network.NetNSPath != "" {
		if _, err := os.Stat(spec.Network.NetNSPath); err != nil {
			return fmt.Errorf("%w: network namespace: %v", sandbox.ErrInvalidSpec, err)
		}
	}
	hard, canRaise := currentHardLimits()
	for _, rl := range spec.Rlimits {
		res, ok := rlimitResources[rl.Type]
		if !ok {
			return fmt.Errorf("%w: unknown rlimit %q", sandbox.ErrInvalidSpec, rl.Type)
		}
		if rl.Soft > rl.Hard {
			return fmt.Errorf("%w: %s soft limit %d above hard limit %d", sandbox.ErrInvalidSpec, rl.Type, rl.Soft, rl.Hard)
		}
		// Without CAP_SYS_RESOURCE (true on the Firecracker hosts) a hard
		// limit can only be lowered; the runtime would fail late and vaguely.
		if !canRaise && rl.Hard > hard(res) {
			return fmt.Errorf("%w: %s hard limit %d is above this host's %d and nimbus lacks CAP_SYS_RESOURCE",
				sandbox.ErrInvalidSpec, rl.Type, rl.Hard, hard(res))
		}
	}
	for _, m := range spec.Mounts {
		if !filepath.IsAbs(m.Destination) {
			return fmt.Errorf("%w: mount destination %q is not absolute", sandbox.ErrInvalidSpec, m.Destination)
		}
		switch m.Type {
		case sandbox.MountBind:
			if _, err := os.Stat(m.Source); err != nil {
				return fmt.Errorf("%w: bind mount source: %v", sandbox.ErrInvalidSpec, err)
			}
		case sandbox.MountTmpfs:
			if m.SizeBytes < 0 {
				return fmt.Errorf("%w: negative tmpfs size", sandbox.ErrInvalidSpec)
			}
		default:
			return fmt.Errorf("%w: mount type %q", sandbox.ErrInvalidSpec, m.Type)
		}
	}
	return nil
}

// currentHardLimits returns a lookup of this process's hard limits and
// whether it may raise them.
func currentHardLimits() (func(int) uint64, bool) {
	lookup := func(res int) uint64 {
		var rl unix.Rlimit
		if unix.Getrlimit(res, &rl) != nil {
			return 0
		}
		return rl.Max
	}
	return lookup, capability.Effective(unix.CAP_SYS_RESOURCE)
}

// buildSpec turns a sandbox Spec into an OCI runtime spec for a bundle whose
// root is rootPath (the mounted overlay, or the image itself when Direct).
func buildSpec(spec sandbox.Spec, rootPath string, mode CgroupMode, gpus []gpuDevice) (*specs.Spec, error) {
	uid, gid, err := resolveUser(rootPath, spec.User)
	if err != nil {
		return nil, err
	}
	env := spec.Env
	if !hasEnv(env, "PATH") {
		env = append([]string{defaultPath}, env...)
	}
	cwd := spec.WorkDir
	if cwd == "" {
		cwd = "/"
	}
	hostname := spec.Hostname
	if hostname == "" {
		hostname = spec.ID
	}
	caps := append([]string(nil), defaultCapabilities...)
	s := &specs.Spec{
		Version:  ociVersion,
		Root:     &specs.Root{Path: rootPath, Readonly: spec.ReadOnly},
		Hostname: hostname,
		Process: &specs.Process{
			Args: spec.Command,
			Env:  env,
			Cwd:  cwd,
			User: specs.User{UID: uid, GID: gid},
			Capabilities: &specs.LinuxCapabilities{
				Bounding: caps, Effective: caps, Permitted: caps,
			},
			NoNewPrivileges: !spec.AllowPrivilegeGain,
			Rlimits:         []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}},
		},
		Mounts:      defaultMounts(mode),
		Annotations: map[string]string{},
		Linux: &specs.Linux{
			CgroupsPath: sandboxCgroupsPath(spec.ID),
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace}, {Type: specs.IPCNamespace},
				{Type: specs.UTSNamespace}, {Type: specs.MountNamespace},
				networkNamespace(spec.Network),
			},
			MaskedPaths:   maskedPaths,
			ReadonlyPaths: readonlyPaths,
			Resources: &specs.LinuxResources{
				Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
			},
		},
	}
	if uid != 0 {
		// A non-root user keeps no capabilities, as with `docker run --user`.
		s.Process.Capabilities.Effective = nil
		s.Process.Capabilities.Permitted = nil
	}
	for k, v := range spec.Labels {
		s.Annotations[labelAnnotationPrefix+k] = v
	}
	if len(spec.Rlimits) > 0 {
		s.Process.Rlimits = mergeRlimits(s.Process.Rlimits, spec.Rlimits)
	}
	res := s.Linux.Resources
	if spec.MemoryBytes > 0 {
		limit := spec.MemoryBytes
		res.Memory = &specs.LinuxMemory{Limit: &limit}
		if swapAccounted(mode) {
			// memory+swap equal to memory: no swapping around the limit.
			res.Memory.Swap = &limit
		}
	}
	if spec.MilliCPU > 0 {
		quota := spec.MilliCPU * cfsPeriodUsec / 1000
		period := uint64(cfsPeriodUsec)
		res.CPU = &specs.LinuxCPU{Quota: &quota, Period: &period}
	}
	if spec.PidsLimit > 0 {
		limit := spec.PidsLimit
		res.Pids = &specs.LinuxPids{Limit: &limit}
	}
	for _, m := range spec.Mounts {
		s.Mounts = append(s.Mounts, ociMount(m))
	}
	for _, g := range gpus {
		major, minor := g.major, g.minor
		mode := os.FileMode(0o666)
		s.Linux.Devices = append(s.Linux.Devices, specs.LinuxDevice{
			Path: g.path, Type: "c", Major: major, Minor: minor, FileMode: &mode,
		})
		res.Devices = append(res.Devices, specs.LinuxDeviceCgroup{
			Allow: true, Type: "c", Major: &major, Minor: &minor, Access: "rwm",
		})
	}
	return s, nil
}

func networkNamespace(att *sandbox.NetworkAttachment) specs.LinuxNamespace {
	ns := specs.LinuxNamespace{Type: specs.NetworkNamespace}
	if att != nil {
		ns.Path = att.NetNSPath
	}
	return ns
}

func ociMount(m sandbox.Mount) specs.Mount {
	switch m.Type {
	case sandbox.MountTmpfs:
		opts := []string{"nosuid", "nodev", "mode=1777"}
		if m.SizeBytes > 0 {
			opts = append(opts, fmt.Sprintf("size=%d", m.SizeBytes))
		}
		if m.ReadOnly {
			opts = append(opts, "ro")
		}
		return specs.Mount{Destination: m.Destination, Type: "tmpfs", Source: "tmpfs", Options: opts}
	default:
		opts := []string{"rbind", "rprivate"}
		if m.ReadOnly {
			opts = append(opts, "ro")
		} else {
			opts = append(opts, "rw")
		}
		return specs.Mount{Destination: m.Destination, Type: "bind", Source: m.Source, Options: opts}
	}
}

// defaultMounts are the kernel filesystems every sandbox gets, as in runc's
// default spec.
func defaultMounts(mode CgroupMode) []specs.Mount {
	return []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc"},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}},
	}
}

func mergeRlimits(base []specs.POSIXRlimit, extra []sandbox.Rlimit) []specs.POSIXRlimit {
	out := append([]specs.POSIXRlimit(nil), base...)
	for _, rl := range extra {
		replaced := false
		for i := range out {
			if out[i].Type == rl.Type {
				out[i] = specs.POSIXRlimit{Type: rl.Type, Soft: rl.Soft, Hard: rl.Hard}
				replaced = true
			}
		}
		if !replaced {
			out = append(out, specs.POSIXRlimit{Type: rl.Type, Soft: rl.Soft, Hard: rl.Hard})
		}
	}
	return out
}

func swapAccounted(mode CgroupMode) bool {
	if mode == CgroupV2 {
		return fileExists(filepath.Join(cgroupMount, "nimbus", "memory.swap.max")) ||
			fileExists(filepath.Join(cgroupMount, "memory.swap.max"))
	}
	return fileExists(filepath.Join(cgroupMount, "memory", "memory.memsw.limit_in_bytes"))
}

func hasEnv(env []string, key string) bool {
	for _, kv := range env {
		if strings.HasPrefix(kv, key+"=") {
			return true
		}
	}
	return false
}
