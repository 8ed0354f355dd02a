package oci

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"

	"golang.org/x/sys/unix"
)

type gpuDevice struct {
	path         string
	major, minor int64
}

var gpuNode = regexp.MustCompile(`^nvidia[0-9]+$`)

// nvidiaControlNodes are shared by every GPU and passed whenever one is.
var nvidiaControlNodes = []string{"nvidiactl", "nvidia-uvm", "nvidia-uvm-tools", "nvidia-modeset"}

// CountGPUs returns how many /dev/nvidiaN nodes the host has.
func CountGPUs() int { return len(gpuNodes()) }

func gpuNodes() []string {
	entries, _ := os.ReadDir("/dev")
	var nodes []string
	for _, e := range entries {
		if gpuNode.MatchString(e.Name()) {
			nodes = append(nodes, e.Name())
		}
	}
	sort.Slice(nodes, func(i, j int) bool {
		a, _ := strconv.Atoi(nodes[i][len("nvidia"):])
		b, _ := strconv.Atoi(nodes[j][len("nvidia"):])
		return a < b
	})
	return nodes
}

// gpuDevicesFor picks the first n GPUs and the control nodes present.
// Drivers and libraries inside the image are the image's business.
func gpuDevicesFor(n int) ([]gpuDevice, error) {
	if n == 0 {
		return nil, nil
	}
	names := gpuNodes()
	if len(names) > n {
		names = names[:n]
	}
	names = append(names, nvidiaControlNodes...)
	var devs []gpuDevice
	for _, name := range names {
		path := filepath.Join("/dev", name)
		var st unix.Stat_t
		if err := unix.Stat(path, &st); err != nil {
			continue // control nodes other than nvidiactl are optional
		}
		devs = append(devs, gpuDevice{path: path, major: int64(unix.Major(st.Rdev)), minor: int64(unix.Minor(st.Rdev))})
	}
	return devs, nil
}
