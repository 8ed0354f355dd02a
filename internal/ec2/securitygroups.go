package ec2

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/network"
	"github.com/nimbus-dev/nimbus/internal/service"
	"github.com/nimbus-dev/nimbus/internal/store"
)

// Security groups are stored one object per group, rules inside, so a rule
// change is one write and a group is deleted with its rules. Every region has
// a group named "default" in the default VPC, created on first use with
// AWS's default rules: all traffic in from members of the group itself, all
// traffic out.

const kindSecurityGroup = "ec2:securitygroup"

// defaultGroupName is the name of every VPC's default group.
const defaultGroupName = "default"

// groupIdentifier names a security group, as instances list theirs.
type groupIdentifier struct {
	GroupId   string
	GroupName string
}

// securityGroup is a stored security group.
type securityGroup struct {
	GroupId     string
	GroupName   string
	Description string
	VpcId       string
	OwnerId     string
	Rules       []sgRule
	Tags        []Tag
}

// StoreIndexes makes group names unique within a VPC.
func (g *securityGroup) StoreIndexes() []store.IndexValue {
	return []store.IndexValue{{Name: "group-name", Value: g.VpcId + "/" + g.GroupName, Unique: true}}
}

// sgRule is one rule: one protocol and port range with one peer (an IPv4 or
// IPv6 CIDR, or another group).
type sgRule struct {
	SecurityGroupRuleId string
	IsEgress            bool
	IpProtocol          string // tcp, udp, icmp, icmpv6, -1 or a protocol number
	FromPort, ToPort    int    // -1 where the protocol has no ports
	CidrIpv4            string `json:",omitempty"`
	CidrIpv6            string `json:",omitempty"`
	ReferencedGroupId   string `json:",omitempty"`
	ReferencedUserId    string `json:",omitempty"`
	Description         string `json:",omitempty"`
	Tags                []Tag  `json:",omitempty"`
}

// sameTraffic reports whether two rules allow the same traffic, which AWS
// refuses to hold twice.
func (r sgRule) sameTraffic(o sgRule) bool {
	return r.IsEgress == o.IsEgress && r.IpProtocol == o.IpProtocol && r.FromPort == o.FromPort &&
		r.ToPort == o.ToPort && r.CidrIpv4 == o.CidrIpv4 && r.CidrIpv6 == o.CidrIpv6 &&
		r.ReferencedGroupId == o.ReferencedGroupId
}

// String describes a rule as AWS's InvalidPermission errors do.
func (r sgRule) String() string {
	peer := r.CidrIpv4
	if r.CidrIpv6 != "" {
		peer = r.CidrIpv6
	}
	if r.ReferencedGroupId != "" {
		peer = r.ReferencedGroupId
	}
	proto := strings.ToUpper(r.IpProtocol)
	if r.IpProtocol == "-1" {
		proto = "ALL"
	}
	return fmt.Sprintf("peer: %s, %s, from port: %d, to port: %d, ALLOW", peer, proto, r.FromPort, r.ToPort)
}

func (e *EC2) registerSecurityGroups(svc *service.Service) {
	e.kinds = append(e.kinds, kindSecurityGroup)
	svc.Handle("CreateSecurityGroup", service.Op(e.createSecurityGroup))
	svc.Handle("DescribeSecurityGroups", service.Op(e.describeSecurityGroups))
	svc.Handle("DeleteSecurityGroup", service.Op(e.deleteSecurityGroup))
	svc.Handle("AuthorizeSecurityGroupIngress", service.Op(e.authorizeSecurityGroupIngress))
	svc.Handle("AuthorizeSecurityGroupEgress", service.Op(e.authorizeSecurityGroupEgress))
	svc.Handle("RevokeSecurityGroupIngress", service.Op(e.revokeSecurityGroupIngress))
	svc.Handle("RevokeSecurityGroupEgress", service.Op(e.revokeSecurityGroupEgress))
	svc.Handle("DescribeSecurityGroupRules", service.Op(e.describeSecurityGroupRules))
	e.registerTagger("sg-", tagger{ResourceType: "security-group", Apply: e.tagSecurityGroup, List: e.listSecurityGroupTags})
	e.registerTagger("sgr-", tagger{ResourceType: "security-group-rule", Apply: e.tagSecurityGroupRule, List: e.listSecurityGroupRuleTags})
}

// Errors, worded as AWS words them.

func groupNotFound(id string) error {
	return awserr.New(awserr.NotFound, "InvalidGroup.NotFound", "The security group '%s' does not exist", id)
}

func groupNameNotFound(name, vpcID string) error {
	return awserr.New(awserr.NotFound, "InvalidGroup.NotFound",
		"The security group '%s' does not exist in default VPC '%s'", name, vpcID)
}

func malformedGroupID(id string) error { return malformedID(id, "sg", "InvalidGroupId.Malformed") }

func checkGroupID(id string) error { return checkResourceID(id, "sg", "InvalidGroupId.Malformed") }

// checkResourceID refuses an ID that is not prefix- and 8 or 17 hex digits
// with the resource's own Malformed code, in EC2's words.
func checkResourceID(id, prefix, code string) error {
	if !validResourceID(id, prefix) {
		return malformedID(id, prefix, code)
	}
	return nil
}

func malformedID(id, prefix, code string) error {
	return awserr.New(awserr.Validation, code, "Invalid id: \"%s\" (expecting \"%s-...\")", id, prefix)
}

// validResourceID reports whether id is prefix-, then 8 or 17 hex digits.
func validResourceID(id, prefix string) bool {
	hexPart, ok := strings.CutPrefix(id, prefix+"-")
	if !ok || (len(hexPart) != 8 && len(hexPart) != 17) {
		return false
	}
	for _, c := range hexPart {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func groupKey(account, region, id string) store.Key {
	return store.Key{Account: account, Region: region, Kind: kindSecurityGroup, ID: id}
}

// defaultGroupID is the ID of the default group of account's default VPC in
// region: derived, so concurrent first uses create the same group once.
func defaultGroupID(account, region string) string {
	return derivedID("sg", "default-security-group", account, region)
}

// ensureDefaultGroup creates the region's default group if it does not
// exist yet.
func (e *EC2) ensureDefaultGroup(ctx context.Context, account, region string) error {
	id := defaultGroupID(account, region)
	key := groupKey(account, region, id)
	err := e.store.View(ctx, func(tx store.Tx) error {
		_, err := tx.Get(key, nil)
		return err
	})
	if err == nil {
		return nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return awserr.Internalf(err, "read default security group")
	}
	g := newDefaultGroup(account, region, defaultVPCID(account, region))
	err = e.store.Update(ctx, func(tx store.Tx) error {
		_, err := tx.Create(key, g)
		return err
	})
	if err != nil && !errors.Is(err, store.ErrAlreadyExists) {
		return awserr.Internalf(err, "create default security group")
	}
	return nil
}

// listGroups returns every group of the partition, the default one included.
func (e *EC2) listGroups(ctx context.Context, account, region string) ([]securityGroup, error) {
	if err := e.ensureDefaultGroup(ctx, account, region); err != nil {
		return nil, err
	}
	return listKind(ctx, e.store, account, region, kindSecurityGroup, "security groups", func(g securityGroup) string { return g.GroupId })
}

// findGroup looks a group up by ID or, without an ID, by name in the
// default VPC, inside a transaction.
func findGroup(tx store.Tx, account, region, id, name string) (securityGroup, store.Meta, error) {
	var g securityGroup
	if id != "" {
		if err := checkGroupID(id); err != nil {
			return g, store.Meta{}, err
		}
		meta, err := tx.Get(groupKey(account, region, id), &g)
		if errors.Is(err, store.ErrNotFound) {
			return g, meta, groupNotFound(id)
		}
		return g, meta, err
	}
	vpc := defaultVPCID(account, region)
	var meta store.Meta
	found := false
	err := tx.List(store.Query{Kind: kindSecurityGroup, Account: account, Region: region,
		Index: "group-name", IndexValue: vpc + "/" + name}, func(o store.Object) error {
		found, meta = true, o.Meta
		return o.Decode(&g)
	})
	if err != nil {
		return g, meta, err
	}
	if !found {
		return g, meta, groupNameNotFound(name, vpc)
	}
	return g, meta, nil
}

// vpcDefaultGroupID is the ID of a VPC's default group: derived, so it
// needs no lookup.
func vpcDefaultGroupID(account, region, vpcID string) string {
	if vpcID == defaultVPCID(account, region) {
		return defaultGroupID(account, region)
	}
	return derivedID("sg", "default-security-group", account, region, vpcID)
}

// newDefaultGroup is a VPC's default group as AWS makes it: all traffic
// from its own members in, everything out.
func newDefaultGroup(account, region, vpcID string) *securityGroup {
	id := vpcDefaultGroupID(account, region, vpcID)
	return &securityGroup{GroupId: id, GroupName: defaultGroupName, Description: "default VPC security group",
		VpcId: vpcID, OwnerId: account, Tags: []Tag{},
		Rules: []sgRule{
			{SecurityGroupRuleId: derivedID("sgr", id, "ingress"), IpProtocol: "-1", FromPort: -1, ToPort: -1,
				ReferencedGroupId: id, ReferencedUserId: account},
			{SecurityGroupRuleId: derivedID("sgr", id, "egress"), IsEgress: true, IpProtocol: "-1", FromPort: -1, ToPort: -1,
				CidrIpv4: "0.0.0.0/0"},
		}}
}

// resolveGroups turns group IDs and names into identifiers of groups of
// the VPC of subnetID; none means the VPC's default group.
func (e *EC2) resolveGroups(ctx context.Context, account, region, vpcID, subnetID string, ids, names []string) ([]groupIdentifier, error) {
	if err := e.ensureDefaultGroup(ctx, account, region); err != nil {
		return nil, err
	}
	if len(ids) == 0 && len(names) == 0 {
		return []groupIdentifier{{GroupId: vpcDefaultGroupID(account, region, vpcID), GroupName: defaultGroupName}}, nil
	}
	if len(names) > 0 && vpcID != defaultVPCID(account, region) {
		// Names are looked up in the default VPC only, as on EC2.
		return nil, awserr.New(awserr.Validation, "InvalidParameterCombination",
			"The parameter groupName cannot be used with the parameter subnet")
	}
	var out []groupIdentifier
	seen := map[string]bool{}
	err := e.store.View(ctx, func(tx store.Tx) error {
		add := func(id, name string) error {
			g, _, err := findGroup(tx, account, region, id, name)
			if err != nil {
				return err
			}
			if g.VpcId != vpcID {
				return awserr.New(awserr.Validation, "InvalidParameter",
					"Security group %s and subnet %s belong to different networks.", g.GroupId, subnetID)
			}
			if !seen[g.GroupId] {
				seen[g.GroupId] = true
				out = append(out, groupIdentifier{GroupId: g.GroupId, GroupName: g.GroupName})
			}
			return nil
		}
		for _, id := range ids {
			if err := add(id, ""); err != nil {
				return err
			}
		}
		for _, n := range names {
			if err := add("", n); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, asAPIError(err, "resolve security groups")
	}
	return out, nil
}

// asAPIError passes an AWS error through and wraps anything else as an
// internal error.
func asAPIError(err error, what string) error {
	if ae := awserr.As(err); ae != nil {
		return ae
	}
	return awserr.Internalf(err, "%s", what)
}

// firewallRules is the union of the groups' rules as firewall rules, with
// group references expanded into their members' addresses. Rules nimbus's
// firewall cannot express (IPv6 peers, protocols other than tcp, udp, icmp
// and all) are left out: they would match no traffic of IPv4 sandboxes.
func (e *EC2) firewallRules(ctx context.Context, account, region string, groupIDs []string) (ingress, egress []network.Rule, err error) {
	var groups []securityGroup
	err = e.store.View(ctx, func(tx store.Tx) error {
		for _, id := range groupIDs {
			var g securityGroup
			if _, err := tx.Get(groupKey(account, region, id), &g); err != nil {
				if errors.Is(err, store.ErrNotFound) {
					return groupNotFound(id)
				}
				return err
			}
			groups = append(groups, g)
		}
		return nil
	})
	if err != nil {
		return nil, nil, asAPIError(err, "read security groups")
	}
	members := map[string][]netip.Addr{}
	seen := map[network.Rule]bool{}
	for _, g := range groups {
		for _, r := range g.Rules {
			proto, ok := firewallProtocol(r.IpProtocol)
			if !ok || r.CidrIpv6 != "" {
				continue
			}
			base := network.Rule{Protocol: proto}
			if proto == network.ProtocolTCP || proto == network.ProtocolUDP {
				base.FromPort, base.ToPort = uint16(r.FromPort), uint16(r.ToPort)
			}
			var peers []netip.Prefix
			switch {
			case r.CidrIpv4 != "":
				p, err := netip.ParsePrefix(r.CidrIpv4)
				if err != nil {
					return nil, nil, fmt.Errorf("security group %s rule %s: %w", g.GroupId, r.SecurityGroupRuleId, err)
				}
				peers = append(peers, p)
			case r.ReferencedGroupId != "":
				addrs, ok := members[r.ReferencedGroupId]
				if !ok && e.groupMembers != nil {
					addrs, err = e.groupMembers(ctx, account, region, r.ReferencedGroupId)
					if err != nil {
						return nil, nil, fmt.Errorf("members of security group %s: %w", r.ReferencedGroupId, err)
					}
					members[r.ReferencedGroupId] = addrs
				}
				for _, a := range addrs {
					if a.Is4() {
						peers = append(peers, netip.PrefixFrom(a, 32))
					}
				}
			}
			for _, p := range peers {
				rule := base
				rule.CIDR = p
				if seen[rule] {
					continue
				}
				seen[rule] = true
				if r.IsEgress {
					egress = append(egress, rule)
				} else {
					ingress = append(ingress, rule)
				}
			}
		}
	}
	return ingress, egress, nil
}

// firewallProtocol maps an EC2 IpProtocol to the firewall's protocols.
func firewallProtocol(p string) (network.Protocol, bool) {
	switch p {
	case "tcp":
		return network.ProtocolTCP, true
	case "udp":
		return network.ProtocolUDP, true
	case "icmp":
		return network.ProtocolICMP, true
	case "-1":
		return network.ProtocolAll, true
	}
	return "", false
}

// CreateSecurityGroup

type createSecurityGroupInput struct {
	GroupName         string
	Description       string
	VpcId             string
	TagSpecifications []TagSpecification
	DryRun            bool
}

type createSecurityGroupOutput struct {
	GroupId          string
	Tags             []Tag `json:",omitempty"`
	SecurityGroupArn string
}

func (e *EC2) createSecurityGroup(ctx context.Context, in *createSecurityGroupInput) (*createSecurityGroupOutput, error) {
	account, region := partition(ctx)
	switch {
	case in.GroupName == "":
		return nil, awserr.Missing("GroupName")
	case in.Description == "":
		return nil, awserr.Missing("GroupDescription")
	case len(in.GroupName) > 255:
		return nil, invalidParameter("Value (%s) for parameter groupName is invalid. Length exceeds maximum of 255.", in.GroupName)
	case len(in.Description) > 255:
		return nil, invalidParameter("Value for parameter GroupDescription is invalid. Length exceeds maximum of 255.")
	case strings.HasPrefix(in.GroupName, "sg-"):
		return nil, invalidParameter("Group names may not be in the format sg-*.")
	case in.GroupName == defaultGroupName:
		return nil, awserr.New(awserr.Validation, "InvalidGroup.Reserved", "The security group '%s' is reserved", in.GroupName)
	}
	vpc := defaultVPCID(account, region)
	if in.VpcId != "" && in.VpcId != vpc {
		if err := checkVPCID(in.VpcId); err != nil {
			return nil, err
		}
		err := e.store.View(ctx, func(tx store.Tx) error {
			_, _, err := getVPC(tx, account, region, in.VpcId)
			return err
		})
		if err != nil {
			return nil, asAPIError(err, "read VPC")
		}
		vpc = in.VpcId
	}
	tags, err := tagsFor(in.TagSpecifications, "security-group")
	if err != nil {
		return nil, err
	}
	if err := validateTags(tags); err != nil {
		return nil, err
	}
	if in.DryRun {
		return nil, dryRun()
	}
	if err := e.ensureDefaultGroup(ctx, account, region); err != nil {
		return nil, err
	}
	if tags == nil {
		tags = []Tag{}
	}
	g := &securityGroup{GroupId: newID("sg"), GroupName: in.GroupName, Description: in.Description, VpcId: vpc,
		OwnerId: account, Tags: tags, Rules: []sgRule{{SecurityGroupRuleId: newID("sgr"), IsEgress: true,
			IpProtocol: "-1", FromPort: -1, ToPort: -1, CidrIpv4: "0.0.0.0/0"}}}
	err = e.store.Update(ctx, func(tx store.Tx) error {
		_, err := tx.Create(groupKey(account, region, g.GroupId), g)
		return err
	})
	if errors.Is(err, store.ErrAlreadyExists) {
		return nil, awserr.New(awserr.AlreadyExists, "InvalidGroup.Duplicate",
			"The security group '%s' already exists for VPC '%s'", in.GroupName, vpc)
	}
	if err != nil {
		return nil, awserr.Internalf(err, "store security group")
	}
	out := &createSecurityGroupOutput{GroupId: g.GroupId, SecurityGroupArn: groupARN(region, account, g.GroupId)}
	if len(tags) > 0 {
		out.Tags = tags
	}
	return out, nil
}

func groupARN(region, account, id string) string {
	return "arn:aws:ec2:" + region + ":" + account + ":security-group/" + id
}

// DescribeSecurityGroups

type describeSecurityGroupsInput struct {
	GroupIds   []string
	GroupNames []string
	Filters    []Filter
	MaxResults int
	NextToken  string
	DryRun     bool
}

type ipRange struct {
	CidrIp      string
	Description string `json:",omitempty"`
}

type ipv6Range struct {
	CidrIpv6    string
	Description string `json:",omitempty"`
}

type userIDGroupPair struct {
	GroupId     string `json:",omitempty"`
	GroupName   string `json:",omitempty"`
	UserId      string `json:",omitempty"`
	VpcId       string `json:",omitempty"`
	Description string `json:",omitempty"`
}

type prefixListID struct {
	PrefixListId string
	Description  string `json:",omitempty"`
}

// ipPermission is EC2's IpPermission: one protocol and port range with any
// number of peers.
type ipPermission struct {
	IpProtocol       string
	FromPort         *int `json:",omitempty"`
	ToPort           *int `json:",omitempty"`
	IpRanges         []ipRange
	Ipv6Ranges       []ipv6Range
	UserIdGroupPairs []userIDGroupPair
	PrefixListIds    []prefixListID
}

type securityGroupDescription struct {
	GroupId             string
	GroupName           string
	Description         string
	OwnerId             string
	VpcId               string
	IpPermissions       []ipPermission
	IpPermissionsEgress []ipPermission
	Tags                []Tag
	SecurityGroupArn    string
}

type describeSecurityGroupsOutput struct {
	SecurityGroups []securityGroupDescription
	NextToken      string `json:",omitempty"`
}

// permissions groups a direction's rules back into IpPermissions, one per
// protocol and port range, in the order the rules were added.
func permissions(rules []sgRule, egress bool) []ipPermission {
	out := []ipPermission{}
	index := map[string]int{}
	for _, r := range rules {
		if r.IsEgress != egress {
			continue
		}
		k := fmt.Sprintf("%s/%d/%d", r.IpProtocol, r.FromPort, r.ToPort)
		i, ok := index[k]
		if !ok {
			p := ipPermission{IpProtocol: r.IpProtocol, IpRanges: []ipRange{}, Ipv6Ranges: []ipv6Range{},
				UserIdGroupPairs: []userIDGroupPair{}, PrefixListIds: []prefixListID{}}
			if r.IpProtocol != "-1" {
				from, to := r.FromPort, r.ToPort
				p.FromPort, p.ToPort = &from, &to
			}
			out = append(out, p)
			i = len(out) - 1
			index[k] = i
		}
		p := &out[i]
		switch {
		case r.CidrIpv4 != "":
			p.IpRanges = append(p.IpRanges, ipRange{CidrIp: r.CidrIpv4, Description: r.Description})
		case r.CidrIpv6 != "":
			p.Ipv6Ranges = append(p.Ipv6Ranges, ipv6Range{CidrIpv6: r.CidrIpv6, Description: r.Description})
		case r.ReferencedGroupId != "":
			p.UserIdGroupPairs = append(p.UserIdGroupPairs, userIDGroupPair{GroupId: r.ReferencedGroupId,
				UserId: r.ReferencedUserId, Description: r.Description})
		}
	}
	return out
}

func (g securityGroup) describe(region string) securityGroupDescription {
	tags := g.Tags
	if tags == nil {
		tags = []Tag{}
	}
	return securityGroupDescription{GroupId: g.GroupId, GroupName: g.GroupName, Description: g.Description,
		OwnerId: g.OwnerId, VpcId: g.VpcId, IpPermissions: permissions(g.Rules, false),
		IpPermissionsEgress: permissions(g.Rules, true), Tags: tags,
		SecurityGroupArn: groupARN(region, g.OwnerId, g.GroupId)}
}

// fields answers DescribeSecurityGroups filter names for one group.
func (g securityGroup) fields(name string) ([]string, bool) {
	switch name {
	case "group-id":
		return []string{g.GroupId}, true
	case "group-name":
		return []string{g.GroupName}, true
	case "description":
		return []string{g.Description}, true
	case "vpc-id":
		return []string{g.VpcId}, true
	case "owner-id":
		return []string{g.OwnerId}, true
	}
	egress := strings.HasPrefix(name, "egress.")
	attr, ok := strings.CutPrefix(strings.TrimPrefix(name, "egress."), "ip-permission.")
	if !ok {
		return nil, false
	}
	var vals []string
	for _, r := range g.Rules {
		if r.IsEgress != egress {
			continue
		}
		switch attr {
		case "cidr":
			vals = append(vals, r.CidrIpv4)
		case "ipv6-cidr":
			vals = append(vals, r.CidrIpv6)
		case "from-port":
			vals = append(vals, strconv.Itoa(r.FromPort))
		case "to-port":
			vals = append(vals, strconv.Itoa(r.ToPort))
		case "protocol":
			vals = append(vals, r.IpProtocol)
		case "group-id":
			vals = append(vals, r.ReferencedGroupId)
		case "user-id":
			vals = append(vals, r.ReferencedUserId)
		default:
			return nil, false
		}
	}
	return vals, true
}

func (e *EC2) describeSecurityGroups(ctx context.Context, in *describeSecurityGroupsInput) (*describeSecurityGroupsOutput, error) {
	if err := checkDescribe(in.MaxResults, in.GroupIds, checkGroupID, in.DryRun); err != nil {
		return nil, err
	}
	account, region := partition(ctx)
	all, err := e.listGroups(ctx, account, region)
	if err != nil {
		return nil, err
	}
	byID, byName := map[string]bool{}, map[string]bool{}
	for _, g := range all {
		byID[g.GroupId], byName[g.GroupName] = true, true
	}
	for _, id := range in.GroupIds {
		if !byID[id] {
			return nil, groupNotFound(id)
		}
	}
	for _, n := range in.GroupNames {
		if !byName[n] {
			return nil, groupNameNotFound(n, defaultVPCID(account, region))
		}
	}
	named := slices.DeleteFunc(all, func(g securityGroup) bool {
		return len(in.GroupIds) > 0 && !matchAny(in.GroupIds, g.GroupId) ||
			len(in.GroupNames) > 0 && !matchAny(in.GroupNames, g.GroupName)
	})
	matched, err := matching(named, in.Filters,
		func(g securityGroup) fields { return g.fields },
		func(g securityGroup) []Tag { return g.Tags })
	if err != nil {
		return nil, err
	}
	page, next, err := paginate(matched, in.MaxResults, in.NextToken, func(g securityGroup) string { return g.GroupId })
	if err != nil {
		return nil, err
	}
	out := &describeSecurityGroupsOutput{SecurityGroups: make([]securityGroupDescription, 0, len(page)), NextToken: next}
	for _, g := range page {
		out.SecurityGroups = append(out.SecurityGroups, g.describe(region))
	}
	return out, nil
}

// DeleteSecurityGroup

type deleteSecurityGroupInput struct {
	GroupId   string
	GroupName string
	DryRun    bool
}

type deleteSecurityGroupOutput struct {
	Return  bool
	GroupId string
}

func (e *EC2) deleteSecurityGroup(ctx context.Context, in *deleteSecurityGroupInput) (*deleteSecurityGroupOutput, error) {
	if in.GroupId == "" && in.GroupName == "" {
		return nil, awserr.Missing("GroupId")
	}
	if in.GroupId != "" {
		if err := checkGroupID(in.GroupId); err != nil {
			return nil, err
		}
	}
	account, region := partition(ctx)
	if err := e.ensureDefaultGroup(ctx, account, region); err != nil {
		return nil, err
	}
	var g securityGroup
	err := e.store.View(ctx, func(tx store.Tx) error {
		var err error
		g, _, err = findGroup(tx, account, region, in.GroupId, in.GroupName)
		return err
	})
	if err != nil {
		return nil, asAPIError(err, "find security group")
	}
	if g.GroupName == defaultGroupName {
		return nil, awserr.New(awserr.Conflict, "CannotDelete",
			"the specified group: \"%s\" name: \"%s\" cannot be deleted by a user", g.GroupId, g.GroupName)
	}
	if e.groupMembers != nil {
		addrs, err := e.groupMembers(ctx, account, region, g.GroupId)
		if err != nil {
			return nil, awserr.Internalf(err, "members of security group %s", g.GroupId)
		}
		if len(addrs) > 0 {
			return nil, dependencyViolation(g.GroupId)
		}
	}
	if in.DryRun {
		return nil, dryRun()
	}
	err = e.store.Update(ctx, func(tx store.Tx) error {
		// Another group's rule naming this one is a dependent object too.
		err := tx.List(store.Query{Kind: kindSecurityGroup, Account: account, Region: region}, func(o store.Object) error {
			var other securityGroup
			if err := o.Decode(&other); err != nil {
				return err
			}
			if other.GroupId == g.GroupId {
				return nil
			}
			for _, r := range other.Rules {
				if r.ReferencedGroupId == g.GroupId {
					return dependencyViolation(g.GroupId)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		err = tx.Delete(groupKey(account, region, g.GroupId), 0)
		if errors.Is(err, store.ErrNotFound) {
			return groupNotFound(g.GroupId)
		}
		return err
	})
	if err != nil {
		return nil, asAPIError(err, "delete security group")
	}
	return &deleteSecurityGroupOutput{Return: true, GroupId: g.GroupId}, nil
}

func dependencyViolation(id string) error {
	return awserr.New(awserr.Conflict, "DependencyViolation", "resource %s has a dependent object", id)
}
