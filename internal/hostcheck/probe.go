package hostcheck

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nimbus-dev/nimbus/internal/capability"
)

// CNIDirs are searched for CNI plugins, in order.
var CNIDirs = []string{"/usr/lib/cni", "/opt/cni/bin"}

// neededCNIPlugins are the plugins the network layer uses.
var neededCNIPlugins = []string{"bridge", "host-local", "loopback", "portmap"}

// Option configures Probe.
type Option func(*probeConfig)

type probeConfig struct {
	trial func(ctx context.Context, runtime string) error
}

// WithRuntimeTrial makes Probe decide whether each installed runtime works
// by calling trial (e.g. one that creates and deletes a container), instead
// of from the cgroup layout alone.
func WithRuntimeTrial(trial func(ctx context.Context, runtime string) error) Option {
	return func(c *probeConfig) { c.trial = trial }
}

// Probe examines the host. Independent probes run concurrently; each
// external command is bounded by a short timeout.
func Probe(ctx context.Context, opts ...Option) Report {
	var cfg probeConfig
	for _, o := range opts {
		o(&cfg)
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	r := Report{Root: os.Geteuid() == 0, CapSysResource: capability.Effective(unix.CAP_SYS_RESOURCE)}
	r.Cgroups = probeCgroups()
	r.Overlay = filesystemSupported("overlay")
	r.Loop = probeLoop()
	r.KVM = probeKVM()
	r.GPUs = gpuNodes()
	r.CNI = probeCNI()

	var wg sync.WaitGroup
	runtimes := []string{"runc", "crun"}
	r.Runtimes = make([]Runtime, len(runtimes))
	for i, name := range runtimes {
		wg.Go(func() { r.Runtimes[i] = probeRuntime(ctx, name, r.Cgroups, cfg.trial) })
	}
	wg.Go(func() { r.Nft = probeNft(ctx) })
	r.Debootstrap = probeDebootstrap()
	wg.Go(func() { r.BusyboxStatic = probeBusybox(ctx) })
	wg.Wait()
	r.Driver = ChooseDriver(r)
	r.Took = time.Since(start)
	return r
}

// ChooseDriver picks the sandbox driver for a host: oci with crun when crun
// works, else oci with runc, else process when there is no root or no
// working runtime.
func ChooseDriver(r Report) DriverChoice {
	if !r.Root {
		return DriverChoice{Name: "process", Reason: "not running as root: the oci driver needs root for namespaces, cgroups and mounts"}
	}
	if !r.Overlay {
		return DriverChoice{Name: "process", Reason: "the kernel has no overlayfs for sandbox roots"}
	}
	var why []string
	for _, pref := range []string{"crun", "runc"} {
		for _, rt := range r.Runtimes {
			if rt.Name != pref {
				continue
			}
			if rt.Works {
				reason := rt.Name + " works on this host"
				if len(why) > 0 {
					reason += " (" + strings.Join(why, "; ") + ")"
				}
				return DriverChoice{Name: "oci", Runtime: rt.Name, Reason: reason}
			}
			why = append(why, rt.Name+": "+rt.Why)
		}
	}
	return DriverChoice{Name: "process", Reason: "no working OCI runtime: " + strings.Join(why, "; ")}
}

func probeRuntime(ctx context.Context, name string, cg Cgroups, trial func(context.Context, string) error) Runtime {
	rt := Runtime{Name: name}
	path, err := exec.LookPath(name)
	if err != nil {
		rt.Why = "not installed"
		return rt
	}
	rt.Path = path
	out, err := exec.CommandContext(ctx, path, "--version").Output()
	if err != nil {
		rt.Why = fmt.Sprintf("%s --version failed: %v", name, err)
		return rt
	}
	rt.Version = firstVersion(string(out))
	if trial != nil {
		if err := trial(ctx, name); err != nil {
			rt.Why = err.Error()
			return rt
		}
		rt.Works, rt.Why = true, "created a test container"
		return rt
	}
	if os.Geteuid() != 0 {
		rt.Why = "needs root"
		return rt
	}
	// crun refuses a hybrid layout whose cgroup2 mount offers controllers
	// ("cgroups in hybrid mode not supported, drop all controllers from cgroupv2").
	if name == "crun" && cg.Mode == "hybrid" && len(cg.Unified) > 0 {
		rt.Why = "crun refuses hybrid cgroups while the cgroup2 mount offers controllers (" + strings.Join(cg.Unified, ",") + ")"
		return rt
	}
	rt.Works, rt.Why = true, "installed; cgroup layout "+cg.Mode+" is supported"
	return rt
}

var versionPattern = regexp.MustCompile(`[0-9]+\.[0-9]+(\.[0-9]+)?[^\s]*`)

func firstVersion(out string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(out), "\n")
	if v := versionPattern.FindString(line); v != "" {
		return v
	}
	return line
}

func probeTool(ctx context.Context, name string, versionArg string) Tool {
	path, err := exec.LookPath(name)
	if err != nil {
		return Tool{Why: "not installed"}
	}
	t := Tool{Path: path, Usable: true}
	if versionArg != "" {
		if out, err := exec.CommandContext(ctx, path, versionArg).Output(); err == nil {
			t.Version = firstVersion(string(out))
		}
	}
	return t
}

// probeNft checks nft runs and can talk to the kernel's nftables; that one
// run is the whole check, its version is not worth a second one.
func probeNft(ctx context.Context) Tool {
	t := probeTool(ctx, "nft", "")
	if t.Path == "" {
		return t
	}
	if out, err := exec.CommandContext(ctx, t.Path, "list", "tables").CombinedOutput(); err != nil {
		t.Usable, t.Why = false, "nft list tables: "+strings.TrimSpace(string(out))
	}
	return t
}

// probeDebootstrap reads the version from the script itself rather than
// running it, which costs a shell start.
func probeDebootstrap() Tool {
	t := probeTool(context.Background(), "debootstrap", "")
	if t.Path == "" {
		return t
	}
	b, err := os.ReadFile(t.Path)
	if err != nil {
		return t
	}
	for _, line := range strings.SplitN(string(b), "\n", 20) {
		if v, ok := strings.CutPrefix(line, "VERSION="); ok {
			t.Version = strings.Trim(v, `'"`)
		}
	}
	return t
}

func probeBusybox(ctx context.Context) Tool {
	for _, p := range []string{"/bin/busybox", "/usr/bin/busybox"} {
		if _, err := os.Stat(p); err != nil {
			continue
		}
		t := Tool{Path: p}
		if isStatic(p) {
			t.Usable = true
		} else {
			t.Why = "busybox is dynamically linked: apt-get install busybox-static"
		}
		return t
	}
	return Tool{Why: "not installed: apt-get install busybox-static"}
}

// isStatic reports whether an ELF binary has no program interpreter.
func isStatic(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	n, _ := f.Read(buf)
	return !strings.Contains(string(buf[:n]), "/lib64/ld-linux") && !strings.Contains(string(buf[:n]), "/lib/ld-")
}

func probeCgroups() Cgroups {
	var cg Cgroups
	var st unix.Statfs_t
	switch {
	case unix.Statfs("/sys/fs/cgroup", &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC:
		cg.Mode = "v2"
		cg.Unified = readFields("/sys/fs/cgroup/cgroup.controllers")
		cg.Controllers = cg.Unified
		return cg
	case unix.Statfs("/sys/fs/cgroup/unified", &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC:
		cg.Mode = "hybrid"
		cg.Unified = readFields("/sys/fs/cgroup/unified/cgroup.controllers")
	default:
		cg.Mode = "v1"
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return cg
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		_, post, ok := strings.Cut(sc.Text(), " - ")
		fields := strings.Fields(post)
		if !ok || len(fields) < 3 || fields[0] != "cgroup" {
			continue
		}
		for _, opt := range strings.Split(fields[2], ",") {
			switch opt {
			case "cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids", "hugetlb", "net_cls", "net_prio", "perf_event", "rdma", "misc":
				cg.Controllers = append(cg.Controllers, opt)
			}
		}
	}
	sort.Strings(cg.Controllers)
	return cg
}

func readFields(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	return strings.Fields(string(b))
}

func filesystemSupported(fs string) bool {
	b, err := os.ReadFile("/proc/filesystems")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[len(f)-1] == fs {
			return true
		}
	}
	return false
}

func probeCNI() CNI {
	var c CNI
	for _, dir := range CNIDirs {
		entries, err := os.ReadDir(dir)
		if err != nil || len(entries) == 0 {
			continue
		}
		c.Dir = dir
		for _, e := range entries {
			if !e.IsDir() {
				c.Plugins = append(c.Plugins, e.Name())
			}
		}
		break
	}
	for _, p := range neededCNIPlugins {
		if !contains(c.Plugins, p) {
			c.Missing = append(c.Missing, p)
		}
	}
	return c
}

func probeLoop() Loop {
	l := Loop{}
	_, err := os.Stat("/dev/loop-control")
	l.Control = err == nil
	matches, _ := filepath.Glob("/dev/loop[0-9]*")
	l.Devices = len(matches)
	return l
}

var gpuNode = regexp.MustCompile(`^nvidia[0-9]+$`)

func gpuNodes() []string {
	entries, _ := os.ReadDir("/dev")
	var nodes []string
	for _, e := range entries {
		if gpuNode.MatchString(e.Name()) {
			nodes = append(nodes, "/dev/"+e.Name())
		}
	}
	return nodes
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
