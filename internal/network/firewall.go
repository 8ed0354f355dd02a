package network

import (
	"context"
	"fmt"
	"net/netip"
	"slices"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Protocol is what a firewall Rule matches at layer 4.
type Protocol string

const (
	ProtocolTCP  Protocol = "tcp"
	ProtocolUDP  Protocol = "udp"
	ProtocolICMP Protocol = "icmp"
	ProtocolAll  Protocol = "all"
)

// Rule allows one kind of traffic, as an EC2 security group rule does.
// Security-group references are resolved by the EC2 layer into one Rule per
// member address.
type Rule struct {
	Protocol Protocol
	// FromPort and ToPort bound the destination port range, inclusive, for
	// tcp and udp; both zero means every port. Ignored for icmp and all.
	FromPort, ToPort uint16
	// CIDR is the peer: the source of ingress traffic, the destination of
	// egress traffic. Sandboxes are IPv4-only, so IPv6 peers match nothing
	// and are skipped.
	CIDR netip.Prefix
}

// AllowAll is the rule of a new security group's egress: everything.
var AllowAll = Rule{Protocol: ProtocolAll, CIDR: netip.MustParsePrefix("0.0.0.0/0")}

// RuleSet is a sandbox's firewall. Traffic is stateful: replies to allowed
// connections always pass.
type RuleSet struct {
	Ingress []Rule
	Egress  []Rule
}

func (r Rule) validate() error {
	switch r.Protocol {
	case ProtocolTCP, ProtocolUDP, ProtocolICMP, ProtocolAll:
	default:
		return fmt.Errorf("%w: protocol %q is not tcp, udp, icmp or all", ErrInvalid, r.Protocol)
	}
	if r.ToPort < r.FromPort {
		return fmt.Errorf("%w: port range %d-%d is reversed", ErrInvalid, r.FromPort, r.ToPort)
	}
	if !r.CIDR.IsValid() {
		return fmt.Errorf("%w: rule needs a CIDR", ErrInvalid)
	}
	return nil
}

// SetRules replaces the sandbox's firewall, live and atomically: ingress is
// denied except what a rule allows, egress is allowed only as the rules say.
// A nil egress keeps the default of a new security group, allow-all; an
// empty non-nil egress denies all outbound traffic. Replies to allowed
// connections always pass, and connections already established stay up
// (as with EC2's connection tracking); new ones are judged by the new rules
// as soon as SetRules returns. The metadata endpoint is always reachable.
//
// Ingress from the host is judged by the source address the host uses: the
// bridge gateway address or one of the host's own.
func (m *Manager) SetRules(ctx context.Context, sandboxID string, ingress, egress []Rule) error {
	if egress == nil {
		egress = []Rule{AllowAll}
	}
	for _, r := range slices.Concat(ingress, egress) {
		if err := r.validate(); err != nil {
			return fmt.Errorf("set rules of %s: %w", sandboxID, err)
		}
	}
	rules := &RuleSet{Ingress: slices.Clone(ingress), Egress: slices.Clone(egress)}
	return m.replaceFirewall(ctx, sandboxID, rules)
}

// ClearRules makes the sandbox unfiltered again, as it was when attached.
func (m *Manager) ClearRules(ctx context.Context, sandboxID string) error {
	return m.replaceFirewall(ctx, sandboxID, nil)
}

func (m *Manager) replaceFirewall(ctx context.Context, sandboxID string, rules *RuleSet) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	rec, ok := m.records[sandboxID]
	if !ok || !rec.Attachment.Complete {
		return fmt.Errorf("set rules of %s: %w: not attached", sandboxID, ErrNotFound)
	}
	old := rec.Attachment.Firewall
	rec.Attachment.Firewall = rules
	if err := m.applyFirewallLocked(); err != nil {
		rec.Attachment.Firewall = old
		return fmt.Errorf("set rules of %s: %w", sandboxID, err)
	}
	if err := m.writeRecord(rec); err != nil {
		return fmt.Errorf("set rules of %s: %w", sandboxID, err)
	}
	return nil
}

// applyFirewallLocked rebuilds nimbus's tables from the manager's state in
// one netlink batch: each table is deleted and recreated inside the same
// transaction, so packets see either the old rules or the new ones, and no
// rule can be left over from a sandbox that is gone. Only nimbus's two
// tables (inet and bridge <TableName>, see addAntiSpoofing) are touched.
// m.mu must be held.
//
// Layout (inet <TableName>):
//   - metadata (nat, prerouting): iifname <bridge> ip daddr 169.254.169.254
//     tcp dport 80 dnat to <gateway>:<MetadataPort>, per network;
//   - egress-nat (nat, postrouting): ip saddr <subnet> ip daddr != <subnet>
//     masquerade, per network. Doing this here rather than with the bridge
//     plugin's ipMasq halves attach+detach time (no iptables execs) and
//     keeps every nimbus rule in one table;
//   - input: metadata traffic and traffic to the ports AllowGatewayPort
//     named (on the gateway) is accepted, then sandbox-originated traffic
//     jumps to that sandbox's egress chain;
//   - forward: traffic to a sandbox jumps to its ingress chain, traffic from
//     it to its egress chain (bridged sandbox-to-sandbox traffic reaches this
//     hook through br_netfilter);
//   - output: host-originated traffic to a sandbox jumps to its ingress chain.
//
// A per-sandbox chain returns for allowed traffic and drops the rest, so
// sandbox-to-sandbox traffic must pass both the sender's egress and the
// receiver's ingress, as with security groups.
func (m *Manager) applyFirewallLocked() error {
	c, err := newNFTConn()
	if err != nil {
		return fmt.Errorf("open nftables: %w", err)
	}
	table := &nftables.Table{Family: nftables.TableFamilyINet, Name: m.opts.TableName}
	// Add first so the delete cannot fail on a missing table.
	c.AddTable(table)
	c.DelTable(table)
	table = c.AddTable(table)

	accept := nftables.ChainPolicyAccept
	natChain := c.AddChain(&nftables.Chain{Name: "metadata", Table: table, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityNATDest})
	masqChain := c.AddChain(&nftables.Chain{Name: "egress-nat", Table: table, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource})
	input := c.AddChain(&nftables.Chain{Name: "input", Table: table, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookInput, Priority: nftables.ChainPriorityFilter, Policy: &accept})
	forward := c.AddChain(&nftables.Chain{Name: "forward", Table: table, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &accept})
	output := c.AddChain(&nftables.Chain{Name: "output", Table: table, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookOutput, Priority: nftables.ChainPriorityFilter, Policy: &accept})

	for _, n := range m.knownNetworksLocked() {
		comment := userdata.AppendString(nil, userdata.TypeComment, "metadata of network "+n.Name)
		c.AddRule(&nftables.Rule{Table: table, Chain: natChain, UserData: comment, Exprs: concat(
			matchIIF(n.Bridge), matchIPv4(), matchAddr(ipv4DaddrOffset, MetadataAddr),
			matchL4Proto(unix.IPPROTO_TCP), matchDport(80, 80),
			dnatTo(n.Gateway, uint16(m.opts.MetadataPort)))})
		if !n.NoEgress {
			c.AddRule(&nftables.Rule{Table: table, Chain: masqChain, UserData: userdata.AppendString(nil, userdata.TypeComment, "egress NAT of network "+n.Name),
				Exprs: concat(matchIPv4(), matchPrefix(ipv4SaddrOffset, n.Subnet), matchOutsidePrefix(ipv4DaddrOffset, n.Subnet), []expr.Any{&expr.Masq{}})})
		}
		c.AddRule(&nftables.Rule{Table: table, Chain: input, UserData: comment, Exprs: concat(
			matchIIF(n.Bridge), matchIPv4(), matchAddr(ipv4DaddrOffset, n.Gateway),
			matchL4Proto(unix.IPPROTO_TCP), matchDport(uint16(m.opts.MetadataPort), uint16(m.opts.MetadataPort)),
			[]expr.Any{verdict(expr.VerdictAccept)})})
		for _, port := range m.gatewayPorts {
			c.AddRule(&nftables.Rule{Table: table, Chain: input, UserData: userdata.AppendString(nil, userdata.TypeComment, "gateway service of network "+n.Name),
				Exprs: concat(matchIIF(n.Bridge), matchIPv4(), matchAddr(ipv4DaddrOffset, n.Gateway),
					matchL4Proto(unix.IPPROTO_TCP), matchDport(port, port), []expr.Any{verdict(expr.VerdictAccept)})})
		}
	}

	for _, id := range m.sortedIDsLocked(func(r *record) bool { return r.Attachment.Complete && r.Attachment.Firewall != nil }) {
		rec := m.records[id]
		a := rec.Attachment
		bridge := rec.NetworkDef.Bridge
		comment := userdata.AppendString(nil, userdata.TypeComment, "sandbox "+id)
		in := c.AddChain(&nftables.Chain{Name: "in-" + id, Table: table})
		out := c.AddChain(&nftables.Chain{Name: "out-" + id, Table: table})
		fillRuleChain(c, table, in, a.Firewall.Ingress, ipv4SaddrOffset, comment)
		fillRuleChain(c, table, out, a.Firewall.Egress, ipv4DaddrOffset, comment)

		toSandbox := concat(matchOIF(bridge), matchIPv4(), matchAddr(ipv4DaddrOffset, a.IP))
		fromSandbox := concat(matchIIF(bridge), matchIPv4(), matchAddr(ipv4SaddrOffset, a.IP))
		c.AddRule(&nftables.Rule{Table: table, Chain: forward, UserData: comment, Exprs: concat(toSandbox, []expr.Any{jump(in.Name)})})
		c.AddRule(&nftables.Rule{Table: table, Chain: forward, UserData: comment, Exprs: concat(fromSandbox, []expr.Any{jump(out.Name)})})
		c.AddRule(&nftables.Rule{Table: table, Chain: output, UserData: comment, Exprs: concat(toSandbox, []expr.Any{jump(in.Name)})})
		c.AddRule(&nftables.Rule{Table: table, Chain: input, UserData: comment, Exprs: concat(fromSandbox, []expr.Any{jump(out.Name)})})
	}
	addNetworkIsolation(c, table, forward, m.knownNetworksLocked())
	m.addAntiSpoofing(c)
	if err := c.Flush(); err != nil {
		return fmt.Errorf("apply nftables tables inet and bridge %s: %w", m.opts.TableName, err)
	}
	return nil
}

// nftReadBuffer is the netlink send and receive buffer for a table
// rebuild: the batch goes out in one message and the kernel acknowledges
// each of its parts; with a few dozen sandboxes either overflows the
// default buffers (about 200 KB: EMSGSIZE, ENOBUFS) and the whole rebuild
// fails. Rebuilding only the changed sandbox's chains would make this
// independent of the number of sandboxes (not done yet).
const nftReadBuffer = 32 << 20

// newNFTConn opens nftables with a receive buffer large enough for the
// acknowledgements of a whole-table batch (as root, past rmem_max).
func newNFTConn() (*nftables.Conn, error) {
	return nftables.New(nftables.WithSockOptions(func(c *netlink.Conn) error {
		// The batch goes out in one sendmsg, bounded by the send buffer.
		if err := c.SetWriteBuffer(nftReadBuffer); err != nil {
			return err
		}
		return c.SetReadBuffer(nftReadBuffer)
	}))
}

// fillRuleChain writes one direction of a sandbox's firewall: replies pass,
// each rule returns (so the other side's chain still judges), the rest drops.
// peerOffset is where the peer address is: the source for ingress, the
// destination for egress.
func fillRuleChain(c *nftables.Conn, table *nftables.Table, chain *nftables.Chain, rules []Rule, peerOffset uint32, comment []byte) {
	ret := []expr.Any{verdict(expr.VerdictReturn)}
	c.AddRule(&nftables.Rule{Table: table, Chain: chain, UserData: comment, Exprs: concat(matchEstablished(), ret)})
	for _, r := range rules {
		if !r.CIDR.Addr().Is4() {
			continue
		}
		var l4 []expr.Any
		switch r.Protocol {
		case ProtocolTCP, ProtocolUDP:
			proto := byte(unix.IPPROTO_TCP)
			if r.Protocol == ProtocolUDP {
				proto = unix.IPPROTO_UDP
			}
			l4 = matchL4Proto(proto)
			if r.FromPort != 0 || r.ToPort != 0 {
				l4 = append(l4, matchDport(r.FromPort, r.ToPort)...)
			}
		case ProtocolICMP:
			l4 = matchL4Proto(unix.IPPROTO_ICMP)
		}
		c.AddRule(&nftables.Rule{Table: table, Chain: chain, UserData: comment, Exprs: concat(
			matchPrefix(peerOffset, r.CIDR.Masked()), l4, ret)})
	}
	c.AddRule(&nftables.Rule{Table: table, Chain: chain, UserData: comment, Exprs: []expr.Any{verdict(expr.VerdictDrop)}})
}

// deleteTables removes nimbus's tables entirely.
func (m *Manager) deleteTables() error {
	c, err := newNFTConn()
	if err != nil {
		return fmt.Errorf("open nftables: %w", err)
	}
	for _, family := range []nftables.TableFamily{nftables.TableFamilyINet, nftables.TableFamilyBridge} {
		table := &nftables.Table{Family: family, Name: m.opts.TableName}
		c.AddTable(table)
		c.DelTable(table)
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("delete nftables tables %s: %w", m.opts.TableName, err)
	}
	return nil
}

// AllowGatewayPort lets every sandbox reach TCP port on its network's
// gateway whatever its firewall says, as the metadata port always is: a
// nimbus endpoint served there (the Lambda Runtime API) must stay reachable
// from sandboxes whose egress is denied. Allowing a port twice is a no-op.
func (m *Manager) AllowGatewayPort(ctx context.Context, port uint16) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if slices.Contains(m.gatewayPorts, port) || int(port) == m.opts.MetadataPort {
		return nil
	}
	m.gatewayPorts = append(m.gatewayPorts, port)
	if err := m.applyFirewallLocked(); err != nil {
		m.gatewayPorts = m.gatewayPorts[:len(m.gatewayPorts)-1]
		return fmt.Errorf("allow gateway port %d: %w", port, err)
	}
	return nil
}
