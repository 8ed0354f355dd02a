package oci

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/nimbus-dev/nimbus/internal/sandbox"
)

const cgroupMount = "/sys/fs/cgroup"

// CgroupMode is how the host mounts cgroups.
type CgroupMode string

const (
	CgroupV1     CgroupMode = "v1"     // one hierarchy per controller
	CgroupHybrid CgroupMode = "hybrid" // v1 controllers plus a cgroup2 mount at /sys/fs/cgroup/unified
	CgroupV2     CgroupMode = "v2"     // one unified hierarchy
)

// DetectCgroupMode looks at /sys/fs/cgroup the way runc does.
func DetectCgroupMode() CgroupMode {
	var st unixStatfs
	if statfs(cgroupMount, &st) == nil && st.isCgroup2() {
		return CgroupV2
	}
	if statfs(filepath.Join(cgroupMount, "unified"), &st) == nil && st.isCgroup2() {
		return CgroupHybrid
	}
	return CgroupV1
}

// UnifiedControllers lists the controllers the cgroup2 mount offers (v2 or
// hybrid); crun refuses hybrid hosts where this is not empty.
func UnifiedControllers(mode CgroupMode) []string {
	dir := cgroupMount
	if mode == CgroupHybrid {
		dir = filepath.Join(cgroupMount, "unified")
	} else if mode != CgroupV2 {
		return nil
	}
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
	if err != nil {
		return nil
	}
	return strings.Fields(string(b))
}

// sandboxCgroupsPath is the cgroupsPath given to the runtime: a nimbus
// subtree so our cgroups are easy to find and never mixed with others'.
func sandboxCgroupsPath(id string) string { return "/nimbus/" + id }

// cgroupDirs are the directories holding a sandbox's cgroup files.
type cgroupDirs struct {
	mode   CgroupMode
	memory string
	cpu    string // cpuacct on v1
	pids   string
}

func cgroupDirsFor(mode CgroupMode, id string) cgroupDirs {
	p := sandboxCgroupsPath(id)
	if mode == CgroupV2 {
		d := filepath.Join(cgroupMount, p)
		return cgroupDirs{mode: mode, memory: d, cpu: d, pids: d}
	}
	return cgroupDirs{
		mode:   mode,
		memory: filepath.Join(cgroupMount, "memory", p),
		cpu:    filepath.Join(cgroupMount, "cpuacct", p),
		pids:   filepath.Join(cgroupMount, "pids", p),
	}
}

// all lists every directory the runtime may have made for the sandbox, for
// leak checks.
func allCgroupDirs(mode CgroupMode, id string) []string {
	p := sandboxCgroupsPath(id)
	if mode == CgroupV2 {
		return []string{filepath.Join(cgroupMount, p)}
	}
	entries, err := os.ReadDir(cgroupMount)
	if err != nil {
		return nil
	}
	var dirs []string
	for _, e := range entries {
		if e.IsDir() {
			dirs = append(dirs, filepath.Join(cgroupMount, e.Name(), p))
		}
	}
	return dirs
}

// oomKilled reports whether the kernel OOM-killed a process in the memory
// cgroup at dir: memory.events' oom_kill on v2; memory.oom_control's oom_kill
// (kernel 4.13+) on v1, else a nonzero memory.failcnt as the best sign left.
func oomKilled(dir string) bool {
	if n, err := readKeyed(filepath.Join(dir, "memory.events"), "oom_kill"); err == nil {
		return n > 0
	}
	if n, err := readKeyed(filepath.Join(dir, "memory.oom_control"), "oom_kill"); err == nil {
		return n > 0
	}
	if n, err := readInt(filepath.Join(dir, "memory.failcnt")); err == nil {
		return n > 0
	}
	return false
}

func (c cgroupDirs) stats() (*sandbox.Stats, error) {
	var st sandbox.Stats
	var err error
	if c.mode == CgroupV2 {
		var usec int64
		if usec, err = readKeyed(filepath.Join(c.cpu, "cpu.stat"), "usage_usec"); err != nil {
			return nil, err
		}
		st.CPUSeconds = float64(usec) / 1e6
		if st.MemoryBytes, err = readInt(filepath.Join(c.memory, "memory.current")); err != nil {
			return nil, err
		}
		st.PeakMemoryBytes, _ = readInt(filepath.Join(c.memory, "memory.peak"))
	} else {
		var nsec int64
		if nsec, err = readInt(filepath.Join(c.cpu, "cpuacct.usage")); err != nil {
			return nil, err
		}
		st.CPUSeconds = float64(nsec) / 1e9
		if st.MemoryBytes, err = readInt(filepath.Join(c.memory, "memory.usage_in_bytes")); err != nil {
			return nil, err
		}
		st.PeakMemoryBytes, _ = readInt(filepath.Join(c.memory, "memory.max_usage_in_bytes"))
	}
	st.Pids, _ = readInt(filepath.Join(c.pids, "pids.current"))
	return &st, nil
}

func readInt(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parse %s: %w", path, err)
	}
	return n, nil
}

// readKeyed reads "key value" lines (memory.events, cpu.stat) and returns key's value.
func readKeyed(path, key string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if ok && k == key {
			return strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		}
	}
	return 0, errors.New(key + " not in " + path)
}
