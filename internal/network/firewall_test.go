package network

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestFirewallBetweenSandboxes(t *testing.T) {
	requireHost(t)
	t.Parallel()
	m := newTestManager(t, testOptions(t))
	n := testNetwork(t, m)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	client, server := "sb-a-"+randomHex(t, 3), "sb-b-"+randomHex(t, 3)
	a, err := m.Attach(ctx, client, n.Name, AttachOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.Attach(ctx, server, n.Name, AttachOptions{})
	if err != nil {
		t.Fatal(err)
	}
	startHTTPD(t, b.NetNSPath, server)
	eventually(t, 5*time.Second, "unfiltered sandbox-to-sandbox HTTP", func() error {
		body, err := fetch(ctx, a.NetNSPath, b.IP)
		if err == nil && !strings.Contains(body, "hello from "+server) {
			return fmt.Errorf("answer %q is not the server's", body)
		}
		return err
	})

	clientCIDR := netip.PrefixFrom(netip.MustParseAddr(a.IP), 32)
	gatewayCIDR := netip.PrefixFrom(n.Gateway, 32)
	otherCIDR := netip.MustParsePrefix("192.0.2.0/24")

	// Each step replaces the server's ingress rules; the probes that follow
	// run at once, so a revoked rule must hold as soon as SetRules returns.
	steps := []struct {
		name             string
		ingress          []Rule
		clientOK, hostOK bool // HTTP to the server on 8080
		pingOK           bool // ICMP echo from the client
	}{
		{name: "deny all ingress", ingress: []Rule{}, clientOK: false, hostOK: false, pingOK: false},
		{name: "allow client tcp 8080", ingress: []Rule{{Protocol: ProtocolTCP, FromPort: 8080, ToPort: 8080, CIDR: clientCIDR}}, clientOK: true, hostOK: false, pingOK: false},
		{name: "wrong port range", ingress: []Rule{{Protocol: ProtocolTCP, FromPort: 8000, ToPort: 8079, CIDR: clientCIDR}}, clientOK: false, hostOK: false},
		{name: "port range and host", ingress: []Rule{
			{Protocol: ProtocolTCP, FromPort: 8000, ToPort: 9000, CIDR: n.Subnet},
			{Protocol: ProtocolICMP, CIDR: clientCIDR},
		}, clientOK: true, hostOK: true, pingOK: true},
		{name: "udp only", ingress: []Rule{{Protocol: ProtocolUDP, CIDR: netip.MustParsePrefix("0.0.0.0/0")}}, clientOK: false, hostOK: false},
		{name: "host only", ingress: []Rule{{Protocol: ProtocolAll, CIDR: gatewayCIDR}}, clientOK: false, hostOK: true},
		{name: "revoked: other network only", ingress: []Rule{{Protocol: ProtocolAll, CIDR: otherCIDR}}, clientOK: false, hostOK: false},
		{name: "everything", ingress: []Rule{AllowAll}, clientOK: true, hostOK: true, pingOK: true},
	}
	for _, s := range steps {
		if err := m.SetRules(ctx, server, s.ingress, nil); err != nil {
			t.Fatalf("%s: SetRules: %v", s.name, err)
		}
		// Each probe gives up after a second.
		_, err := fetch(ctx, a.NetNSPath, b.IP)
		if (err == nil) != s.clientOK {
			t.Errorf("%s: client to server HTTP err = %v, want ok=%v", s.name, err, s.clientOK)
		}
		_, err = fetch(ctx, "", b.IP)
		if (err == nil) != s.hostOK {
			t.Errorf("%s: host to server HTTP err = %v, want ok=%v", s.name, err, s.hostOK)
		}
		_, err = inNetNS(ctx, a.NetNSPath, "ping", "-c", "1", "-W", "1", b.IP)
		if (err == nil) != s.pingOK {
			t.Errorf("%s: client to server ping err = %v, want ok=%v", s.name, err, s.pingOK)
		}
	}

	// Egress of the client: only what its rules allow leaves it, while the
	// server still allows everything in.
	if err := m.SetRules(ctx, client, nil, []Rule{}); err != nil {
		t.Fatal(err)
	}
	if _, err := fetch(ctx, a.NetNSPath, b.IP); err == nil {
		t.Errorf("client with no egress rules reached the server")
	}
	if err := m.SetRules(ctx, client, nil, []Rule{{Protocol: ProtocolTCP, FromPort: 8080, ToPort: 8080, CIDR: netip.PrefixFrom(netip.MustParseAddr(b.IP), 32)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := fetch(ctx, a.NetNSPath, b.IP); err != nil {
		t.Errorf("client egress allowed to the server on 8080, but: %v", err)
	}
	if _, err := inNetNS(ctx, a.NetNSPath, "ping", "-c", "1", "-W", "1", b.IP); err == nil {
		t.Errorf("client pinged the server though its egress allows only tcp 8080")
	}

	out, err := onHost(ctx, "nft", "list", "table", "inet", m.opts.TableName)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"in-" + server, "out-" + client, "dnat ip to " + n.Gateway.String()} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}

	// Clearing rules restores an unfiltered sandbox; detaching removes its chains.
	if err := m.ClearRules(ctx, client); err != nil {
		t.Fatal(err)
	}
	if _, err := inNetNS(ctx, a.NetNSPath, "ping", "-c", "1", "-W", "1", b.IP); err != nil {
		t.Errorf("client with cleared rules cannot ping: %v", err)
	}
	srv, _ := m.Attachment(server)
	if err := m.Detach(ctx, server); err != nil {
		t.Fatal(err)
	}
	assertNothingLeft(t, m, srv)
}

func TestSetRulesUnknownSandbox(t *testing.T) {
	requireHost(t)
	t.Parallel()
	m := newTestManager(t, testOptions(t))
	if err := m.SetRules(context.Background(), "sb-missing", []Rule{AllowAll}, nil); err == nil {
		t.Error("SetRules on an unattached sandbox succeeded")
	}
}

// Every SetRules rebuilds the whole table in one netlink batch; with a few
// dozen firewalled sandboxes its acknowledgements once overflowed the
// socket's receive buffer (ENOBUFS) and every later attach failed.
func TestFirewallWithManySandboxes(t *testing.T) {
	requireHost(t)
	if testing.Short() {
		t.Skip("attaches 48 sandboxes")
	}
	t.Parallel()
	m := newTestManager(t, testOptions(t))
	n := testNetwork(t, m)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	prefix := "sb-many-" + randomHex(t, 3)
	ingress := []Rule{
		{Protocol: ProtocolTCP, FromPort: 22, ToPort: 22, CIDR: netip.MustParsePrefix("10.0.0.0/8")},
		{Protocol: ProtocolTCP, FromPort: 80, ToPort: 443, CIDR: netip.MustParsePrefix("0.0.0.0/0")},
		{Protocol: ProtocolICMP, CIDR: netip.MustParsePrefix("192.168.0.0/16")},
	}
	var ids []string
	t.Cleanup(func() {
		for _, id := range ids {
			m.Detach(context.Background(), id)
		}
	})
	for i := range 48 {
		id := fmt.Sprintf("%s-%d", prefix, i)
		if _, err := m.Attach(ctx, id, n.Name, AttachOptions{}); err != nil {
			t.Fatalf("attach %d: %v", i, err)
		}
		ids = append(ids, id)
		if err := m.SetRules(ctx, id, ingress, []Rule{}); err != nil {
			t.Fatalf("firewall of sandbox %d: %v", i, err)
		}
	}
}
