package process

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/nimbus-dev/nimbus/internal/sandbox"
)

// clockTicks is USER_HZ, 100 on every Linux architecture Go supports.
const clockTicks = 100

// procStats reads one process's CPU time (/proc/pid/stat) and resident and
// peak memory (/proc/pid/status). Children are not counted: without a cgroup
// there is no cheap way to sum a process tree.
func procStats(pid int) (*sandbox.Stats, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, fmt.Errorf("read stats of pid %d: %w", pid, err)
	}
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	fields := strings.Fields(s[i+1:])
	if len(fields) < 13 {
		return nil, fmt.Errorf("parse /proc/%d/stat: %d fields", pid, len(fields))
	}
	// After the command name: state is fields[0], utime fields[11], stime fields[12].
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	st := &sandbox.Stats{CPUSeconds: float64(utime+stime) / clockTicks, Pids: 1}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, fmt.Errorf("read status of pid %d: %w", pid, err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(val), " kB"), 10, 64)
		if err != nil {
			continue
		}
		switch key {
		case "VmRSS":
			st.MemoryBytes = kb << 10
		case "VmHWM":
			st.PeakMemoryBytes = kb << 10
		}
	}
	return st, nil
}
