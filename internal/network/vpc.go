package network

import (
	"context"
	"fmt"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
)

// EC2 VPCs are networks of their own (Network.Isolated): a sandbox on one
// reaches no sandbox of another network through the host's forwarding, in
// either direction, whatever its firewall allows; within the network the
// firewall (security groups) decides. A VPC without an internet gateway
// route is also NoEgress: nothing it sends is forwarded off its bridge and
// it gets no egress NAT. The gateway's own services (metadata, allowed
// gateway ports) stay reachable, as the VPC's router is on AWS.

// addNetworkIsolation adds to the forward chain the drops that keep
// isolated networks apart and NoEgress networks on their bridge. Drops are
// final whatever order the per-sandbox chains run in, since those only
// return or drop.
func addNetworkIsolation(c *nftables.Conn, table *nftables.Table, forward *nftables.Chain, networks []Network) {
	drop := []expr.Any{verdict(expr.VerdictDrop)}
	for _, n := range networks {
		if n.NoEgress {
			comment := userdata.AppendString(nil, userdata.TypeComment, "no egress from network "+n.Name)
			c.AddRule(&nftables.Rule{Table: table, Chain: forward, UserData: comment,
				Exprs: concat(matchIIF(n.Bridge), matchNotOIF(n.Bridge), drop)})
		}
		if !n.Isolated {
			continue
		}
		comment := userdata.AppendString(nil, userdata.TypeComment, "isolation of network "+n.Name)
		for _, other := range networks {
			if other.Bridge == n.Bridge {
				continue
			}
			c.AddRule(&nftables.Rule{Table: table, Chain: forward, UserData: comment,
				Exprs: concat(matchIIF(n.Bridge), matchOIF(other.Bridge), drop)})
			c.AddRule(&nftables.Rule{Table: table, Chain: forward, UserData: comment,
				Exprs: concat(matchIIF(other.Bridge), matchOIF(n.Bridge), drop)})
		}
	}
}

func matchNotOIF(name string) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: ifnameBytes(name)},
	}
}

// SetNetworkEgress turns a defined network's egress on or off, live: an
// EC2 VPC gains or loses its internet gateway route while its sandboxes
// run, which DefineNetwork would refuse as a redefinition.
func (m *Manager) SetNetworkEgress(ctx context.Context, name string, egress bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	n, ok := m.networks[name]
	if !ok {
		return fmt.Errorf("set egress of network %s: %w", name, ErrNotFound)
	}
	if n.NoEgress == !egress {
		return nil
	}
	old := n
	n.NoEgress = !egress
	m.networks[name] = n
	if err := m.applyFirewallLocked(); err != nil {
		m.networks[name] = old
		return fmt.Errorf("set egress of network %s: %w", name, err)
	}
	return nil
}
