package network

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"sync"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"
	types100 "github.com/containernetworking/cni/pkg/types/100"
)

const cniVersion = "1.0.0"

// loopbackConfList brings up lo inside the namespace. It is a list of its
// own, as containerd does, because the loopback plugin is not meant to be
// chained after a plugin that returns addresses.
var loopbackConfList = []byte(`{"cniVersion":"` + cniVersion + `","name":"nimbus-loopback","plugins":[{"type":"loopback"}]}`)

// bridgeConfList is the CNI configuration of a network: the bridge plugin as
// the default gateway, and host-local addresses whose lease files live under
// ipamDir/<network name>. Egress NAT is nimbus's own nftables rule, not the
// plugin's ipMasq (see applyFirewallLocked).
func bridgeConfList(n Network, ipamDir string) ([]byte, error) {
	type ipRange struct {
		Subnet  string `json:"subnet"`
		Gateway string `json:"gateway"`
	}
	conf := map[string]any{
		"cniVersion": cniVersion,
		"name":       n.Name,
		"plugins": []any{map[string]any{
			"type":             "bridge",
			"bridge":           n.Bridge,
			"isGateway":        true,
			"isDefaultGateway": true,
			"ipMasq":           false,
			"ipam": map[string]any{
				"type":    "host-local",
				"ranges":  [][]ipRange{{{Subnet: n.Subnet.String(), Gateway: n.Gateway.String()}}},
				"dataDir": ipamDir,
			},
		}},
	}
	b, err := json.Marshal(conf)
	if err != nil {
		return nil, fmt.Errorf("encode CNI config of %s: %w", n.Name, err)
	}
	return b, nil
}

// cniResult is what nimbus keeps from a bridge ADD.
type cniResult struct {
	IP       netip.Addr
	Gateway  netip.Addr
	HostVeth string
}

func runtimeConf(sandboxID, netnsPath, ifName string, ip netip.Addr) *libcni.RuntimeConf {
	rt := &libcni.RuntimeConf{ContainerID: sandboxID, NetNS: netnsPath, IfName: ifName}
	if ip.IsValid() {
		// The bridge plugin parses CNI_ARGS too and rejects keys it does not
		// know unless IgnoreUnknown is set; host-local reads IP.
		rt.Args = [][2]string{{"IgnoreUnknown", "1"}, {"IP", ip.String()}}
	}
	return rt
}

func (m *Manager) cniAdd(ctx context.Context, confList []byte, rt *libcni.RuntimeConf) (*cniResult, error) {
	lo, err := libcni.ConfListFromBytes(loopbackConfList)
	if err != nil {
		return nil, fmt.Errorf("parse loopback CNI config: %w", err)
	}
	list, err := libcni.ConfListFromBytes(confList)
	if err != nil {
		return nil, fmt.Errorf("parse CNI config: %w", err)
	}
	// The two plugins touch different interfaces; running them side by
	// side saves one plugin exec from every attach.
	var loErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		_, loErr = m.cni.AddNetworkList(ctx, lo, loopbackRuntimeConf(rt))
	})
	raw, err := m.cni.AddNetworkList(ctx, list, rt)
	wg.Wait()
	if err != nil {
		return nil, fmt.Errorf("CNI bridge ADD: %w", err)
	}
	if loErr != nil {
		return nil, fmt.Errorf("CNI loopback ADD: %w", loErr)
	}
	return parseBridgeResult(raw)
}

func loopbackRuntimeConf(rt *libcni.RuntimeConf) *libcni.RuntimeConf {
	return &libcni.RuntimeConf{ContainerID: rt.ContainerID, NetNS: rt.NetNS, IfName: "lo"}
}

func parseBridgeResult(raw types.Result) (*cniResult, error) {
	res, err := types100.NewResultFromResult(raw)
	if err != nil {
		return nil, fmt.Errorf("convert CNI result: %w", err)
	}
	var out cniResult
	for i, ifc := range res.Interfaces {
		if ifc.Sandbox != "" {
			for _, ipc := range res.IPs {
				if ipc.Interface == nil || *ipc.Interface != i || ipc.Address.IP.To4() == nil {
					continue
				}
				out.IP, _ = netip.AddrFromSlice(ipc.Address.IP.To4())
				out.Gateway, _ = netip.AddrFromSlice(ipc.Gateway.To4())
			}
		} else if ifc.Mac != "" && i > 0 {
			// The bridge plugin lists the bridge first, then the host end
			// of the veth, then the sandbox end.
			out.HostVeth = ifc.Name
		}
	}
	if !out.IP.IsValid() {
		return nil, fmt.Errorf("CNI result has no IPv4 address for the sandbox interface: %s", res)
	}
	return &out, nil
}

// cniDel releases everything ADD made; it succeeds when run again or when
// the namespace is already gone, as the CNI spec asks of plugins.
func (m *Manager) cniDel(ctx context.Context, confList []byte, rt *libcni.RuntimeConf) error {
	list, err := libcni.ConfListFromBytes(confList)
	if err != nil {
		return fmt.Errorf("parse CNI config: %w", err)
	}
	lo, err := libcni.ConfListFromBytes(loopbackConfList)
	if err != nil {
		return fmt.Errorf("parse loopback CNI config: %w", err)
	}
	var loErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		loErr = m.cni.DelNetworkList(ctx, lo, loopbackRuntimeConf(rt))
	})
	err = m.cni.DelNetworkList(ctx, list, rt)
	wg.Wait()
	if err != nil {
		return fmt.Errorf("CNI bridge DEL: %w", err)
	}
	if loErr != nil {
		return fmt.Errorf("CNI loopback DEL: %w", loErr)
	}
	return nil
}
