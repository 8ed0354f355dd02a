package oci

import (
	"encoding/json"
	"fmt"

	"github.com/nimbus-dev/nimbus/internal/sandbox"
)

// driverState is Handle.DriverState, version 1.
type driverState struct {
	Dir         string `json:"dir"`
	Runtime     string `json:"runtime"`
	RuntimeRoot string `json:"runtimeRoot"`
	Cgroups     string `json:"cgroupMode"`
	// Mounted is the overlay mountpoint, empty for a Direct root.
	Mounted string `json:"mounted,omitempty"`
}

func (d *Driver) newHandle(id string, st driverState) (*sandbox.Handle, error) {
	b, err := json.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("encode driver state: %w", err)
	}
	return &sandbox.Handle{ID: id, Driver: DriverName, Version: stateVersion, DriverState: b}, nil
}

// decodeHandle checks the handle is one of ours and that it names a sandbox
// under this driver's root.
func (d *Driver) decodeHandle(h *sandbox.Handle) (driverState, error) {
	if h == nil || h.Driver != DriverName {
		return driverState{}, fmt.Errorf("%w: handle is not an oci sandbox", sandbox.ErrNotFound)
	}
	if h.Version != stateVersion {
		return driverState{}, fmt.Errorf("oci driver: handle %s has state version %d, this nimbus knows %d", h.ID, h.Version, stateVersion)
	}
	var st driverState
	if err := json.Unmarshal(h.DriverState, &st); err != nil {
		return driverState{}, fmt.Errorf("oci driver: decode handle %s: %w", h.ID, err)
	}
	if st.Dir != d.sandboxDir(h.ID) {
		return driverState{}, fmt.Errorf("%w: handle %s belongs to another state root (%s)", sandbox.ErrNotFound, h.ID, st.Dir)
	}
	return st, nil
}
