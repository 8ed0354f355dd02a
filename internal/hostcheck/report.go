// Package hostcheck finds out what this host can do for nimbus (root, OCI
// runtimes, cgroups, CNI, nftables, overlayfs, loop devices, KVM, GPUs,
// image tools) and which sandbox driver nimbus will use. `nimbus doctor`
// prints its Report. Probes are quick reads and `--version` runs: no
// sandbox runs unless asked for with WithRuntimeTrial.
package hostcheck

import "time"

// Report is what Probe found.
type Report struct {
	Root           bool
	CapSysResource bool
	Runtimes       []Runtime
	Cgroups        Cgroups
	CNI            CNI
	Nft            Tool
	Overlay        bool
	Loop           Loop
	KVM            KVM
	GPUs           []string // /dev/nvidiaN nodes
	Debootstrap    Tool
	BusyboxStatic  Tool
	Driver         DriverChoice
	Took           time.Duration
}

// Runtime is an OCI runtime binary.
type Runtime struct {
	Name    string
	Path    string // empty when not installed
	Version string
	Works   bool
	Why     string // why it does not work, or how that was decided
}

// Cgroups is the cgroup layout.
type Cgroups struct {
	Mode        string   // v1, hybrid or v2
	Controllers []string // controllers nimbus can use (v1 hierarchies, or v2's)
	Unified     []string // controllers the cgroup2 mount offers (hybrid, v2)
}

// CNI is the CNI plugin directory found.
type CNI struct {
	Dir     string // first directory with plugins
	Plugins []string
	Missing []string // of the plugins the network layer needs
}

// Tool is an external program.
type Tool struct {
	Path    string
	Version string
	Usable  bool
	Why     string
}

// Loop is loop-device support.
type Loop struct {
	Control bool // /dev/loop-control exists
	Devices int
}

// KVM is hardware virtualization for a vm driver.
type KVM struct {
	Present    bool // /dev/kvm exists
	APIVersion int  // from KVM_GET_API_VERSION, 0 if it could not be opened
	Nested     bool // this host is itself a guest
	Usable     bool
	Why        string
}

// DriverChoice is the sandbox driver nimbus picks on this host.
type DriverChoice struct {
	Name    string // "oci" or "process"
	Runtime string // for oci: runc or crun
	Reason  string
}
