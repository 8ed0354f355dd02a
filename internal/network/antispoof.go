package network

import (
	"net/netip"
	"slices"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"golang.org/x/sys/unix"
)

// arpSenderIPOffset is where an Ethernet/IPv4 ARP packet carries the
// sender's protocol address: htype, ptype, hlen, plen, oper, then the
// 6-byte sender hardware address.
const arpSenderIPOffset = 14

// addAntiSpoofing fills the bridge-family table: a frame entering the
// bridge from a sandbox's veth must carry that sandbox's own IPv4 address,
// in IP and in ARP. Without this a sandbox could take another's address
// and, since the metadata endpoint identifies callers by source address,
// read that sandbox's instance metadata and role credentials; firewall
// rules keyed on addresses would be as easy to dodge.
func (m *Manager) addAntiSpoofing(c *nftables.Conn) {
	table := &nftables.Table{Family: nftables.TableFamilyBridge, Name: m.opts.TableName}
	c.AddTable(table)
	c.DelTable(table)
	table = c.AddTable(table)
	accept := nftables.ChainPolicyAccept
	chain := c.AddChain(&nftables.Chain{Name: "sandbox-sources", Table: table, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityFilter, Policy: &accept})
	// Spares get theirs when made, so that claiming one changes no rule.
	var guarded []*record
	for _, recs := range []map[string]*record{m.records, m.spares} {
		for _, r := range recs {
			if r.Attachment.Complete && r.Attachment.HostVeth != "" {
				guarded = append(guarded, r)
			}
		}
	}
	slices.SortFunc(guarded, compareIDs)
	for _, r := range guarded {
		a := r.Attachment
		comment := userdata.AppendString(nil, userdata.TypeComment, "veth "+a.HostVeth)
		drop := []expr.Any{verdict(expr.VerdictDrop)}
		c.AddRule(&nftables.Rule{Table: table, Chain: chain, UserData: comment, Exprs: concat(
			matchIIF(a.HostVeth), matchEtherType(unix.ETH_P_IP), matchAddrNot(ipv4SaddrOffset, a.IP), drop)})
		c.AddRule(&nftables.Rule{Table: table, Chain: chain, UserData: comment, Exprs: concat(
			matchIIF(a.HostVeth), matchEtherType(unix.ETH_P_ARP), matchAddrNot(arpSenderIPOffset, a.IP), drop)})
	}
}

func matchEtherType(ethType uint16) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyPROTOCOL, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: be16(ethType)},
	}
}

func matchAddrNot(offset uint32, a netip.Addr) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: 4},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: a.AsSlice()},
	}
}

// sortedIDsLocked lists the sandbox IDs whose records pass keep, sorted so
// that rebuilt tables come out the same every time.
func (m *Manager) sortedIDsLocked(keep func(*record) bool) []string {
	ids := make([]string, 0, len(m.records))
	for id, r := range m.records {
		if keep(r) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}
