package substrate

import (
	"net/netip"

	"github.com/nimbus-dev/nimbus/internal/sandbox"
	"github.com/nimbus-dev/nimbus/internal/sandbox/process"
)

// Info is what the health endpoint and doctor show of the Host.
type Info struct {
	Driver      string // driver name, e.g. "oci/runc", "process"
	Runtime     string // runc or crun for oci
	Reason      string // why this driver was chosen
	Description string // what the driver isolates, and what it does not
	// WeakIsolation is true for the process driver: sandboxes are plain host
	// processes.
	WeakIsolation bool
	Networking    bool
	NetworkReason string // why networking is unavailable
	Networks      []NetworkInfo
	// Sandboxes counts sandboxes by state (created, running, exited).
	Sandboxes map[sandbox.State]int
}

// NetworkInfo is one defined network.
type NetworkInfo struct {
	Name    string
	Bridge  string
	Subnet  netip.Prefix
	Gateway netip.Addr
}

// Info describes the Host now.
func (h *Host) Info() Info {
	in := Info{
		Driver:        h.driver.Name(),
		Runtime:       h.choice.Runtime,
		Reason:        h.choice.Reason,
		WeakIsolation: h.choice.Name == DriverProcess,
		Networking:    h.net != nil,
		NetworkReason: h.netWhy,
		Sandboxes:     map[sandbox.State]int{},
	}
	if d, ok := h.driver.(sandbox.Describer); ok {
		in.Description = d.Description()
	} else if in.WeakIsolation {
		in.Description = process.Description
	}
	if h.net != nil {
		for _, n := range h.net.Networks() {
			in.Networks = append(in.Networks, NetworkInfo{Name: n.Name, Bridge: n.Bridge, Subnet: n.Subnet, Gateway: n.Gateway})
		}
	}
	h.mu.Lock()
	for _, e := range h.entries {
		in.Sandboxes[e.rec.view().State]++
	}
	h.mu.Unlock()
	return in
}
