package network

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// TestIsolatedNetworks checks that an isolated network (an EC2 VPC) is
// unreachable from another network and the other way round, while its own
// sandboxes reach each other, and that a network without egress reaches
// nothing off its bridge until egress is turned back on.
func TestIsolatedNetworks(t *testing.T) {
	requireHost(t)
	t.Parallel()
	opts := testOptions(t)
	plain := opts.Networks[0]
	vpcNet := Network{Name: "nbv" + randomHex(t, 3),
		Subnet: netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(200 + randomInt(t, 20)), byte(randomInt(t, 256)), 0}), 24)}
	m := newTestManager(t, opts)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	vpcNet.Isolated = true
	if err := m.DefineNetwork(ctx, vpcNet); err != nil {
		t.Fatal(err)
	}
	attach := func(prefix, network string) (string, string) {
		id := prefix + "-" + randomHex(t, 3)
		a, err := m.Attach(ctx, id, network, AttachOptions{})
		if err != nil {
			t.Fatal(err)
		}
		startHTTPD(t, a.NetNSPath, id)
		return a.NetNSPath, a.IP
	}
	in1NS, in1IP := attach("sb-v1", vpcNet.Name)
	in2NS, in2IP := attach("sb-v2", vpcNet.Name)
	outNS, outIP := attach("sb-p", plain.Name)

	eventually(t, 5*time.Second, "HTTP within the isolated network", func() error {
		body, err := fetch(ctx, in1NS, in2IP)
		if err == nil && !strings.HasPrefix(body, "hello from sb-v2") {
			return fmt.Errorf("answer %q is not the peer's", body)
		}
		return err
	})
	// The plain network's sandbox is up (the host reaches it), so a failure
	// below is the isolation, not a slow httpd.
	eventually(t, 5*time.Second, "HTTP from the host to the plain network", func() error {
		_, err := fetch(ctx, "", outIP)
		return err
	})
	if _, err := fetch(ctx, in2NS, in1IP); err != nil {
		t.Errorf("isolated sandboxes of one network: %v", err)
	}
	if body, err := fetch(ctx, in1NS, outIP); err == nil {
		t.Errorf("isolated sandbox reached another network's sandbox: %q", body)
	}
	if body, err := fetch(ctx, outNS, in1IP); err == nil {
		t.Errorf("another network's sandbox reached an isolated one: %q", body)
	}

	// Egress off on the plain network: its sandbox loses the isolated one
	// and every other off-bridge destination; the rule is live both ways.
	if err := m.SetNetworkEgress(ctx, plain.Name, false); err != nil {
		t.Fatal(err)
	}
	if err := m.DefineNetwork(ctx, vpcNet); err != nil {
		t.Fatal(err)
	}
	vpcNet.Isolated = false
	if err := m.DefineNetwork(ctx, vpcNet); err == nil {
		t.Fatal("redefining a network in use succeeded")
	}
	out, err := onHost(ctx, "nft", "list", "table", "inet", m.opts.TableName)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "no egress from network "+plain.Name) || strings.Contains(out, "egress NAT of network "+plain.Name) {
		t.Errorf("network without egress: want its drop and no NAT rule in\n%s", out)
	}
	if err := m.SetNetworkEgress(ctx, plain.Name, true); err != nil {
		t.Fatal(err)
	}
	out, err = onHost(ctx, "nft", "list", "table", "inet", m.opts.TableName)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "no egress from network "+plain.Name) || !strings.Contains(out, "egress NAT of network "+plain.Name) {
		t.Errorf("network with egress again: want its NAT rule and no drop in\n%s", out)
	}
	if err := m.SetNetworkEgress(ctx, "nope", true); err == nil {
		t.Error("SetNetworkEgress of an unknown network succeeded")
	}
}
