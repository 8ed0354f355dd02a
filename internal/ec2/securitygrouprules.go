package ec2

import (
	"context"
	"net/netip"
	"strconv"
	"strings"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/store"
)

// Authorize and revoke security group rules, describe them one by one, and
// tag them. A request's IpPermissions become one sgRule per peer, each with a
// SecurityGroupRuleId, as AWS splits them.

// changeRulesInput is the input of the four Authorize/Revoke operations:
// IpPermissions, or the older short form (IpProtocol, FromPort, ToPort with
// CidrIp or a source group).
type changeRulesInput struct {
	GroupId                    string
	GroupName                  string
	IpPermissions              []ipPermission
	IpProtocol                 string
	FromPort                   *int
	ToPort                     *int
	CidrIp                     string
	SourceSecurityGroupName    string
	SourceSecurityGroupOwnerId string
	SecurityGroupRuleIds       []string
	TagSpecifications          []TagSpecification
	DryRun                     bool
}

type referencedGroup struct {
	GroupId string
	UserId  string
}

// securityGroupRule is EC2's SecurityGroupRule.
type securityGroupRule struct {
	SecurityGroupRuleId  string
	GroupId              string
	GroupOwnerId         string
	IsEgress             bool
	IpProtocol           string
	FromPort             int
	ToPort               int
	CidrIpv4             string           `json:",omitempty"`
	CidrIpv6             string           `json:",omitempty"`
	ReferencedGroupInfo  *referencedGroup `json:",omitempty"`
	Description          string           `json:",omitempty"`
	Tags                 []Tag
	SecurityGroupRuleArn string
}

func (r sgRule) describe(g securityGroup, region string) securityGroupRule {
	tags := r.Tags
	if tags == nil {
		tags = []Tag{}
	}
	out := securityGroupRule{SecurityGroupRuleId: r.SecurityGroupRuleId, GroupId: g.GroupId, GroupOwnerId: g.OwnerId,
		IsEgress: r.IsEgress, IpProtocol: r.IpProtocol, FromPort: r.FromPort, ToPort: r.ToPort,
		CidrIpv4: r.CidrIpv4, CidrIpv6: r.CidrIpv6, Description: r.Description, Tags: tags,
		SecurityGroupRuleArn: "arn:aws:ec2:" + region + ":" + g.OwnerId + ":security-group-rule/" + r.SecurityGroupRuleId}
	if r.ReferencedGroupId != "" {
		out.ReferencedGroupInfo = &referencedGroup{GroupId: r.ReferencedGroupId, UserId: r.ReferencedUserId}
	}
	return out
}

type authorizeRulesOutput struct {
	Return             bool
	SecurityGroupRules []securityGroupRule
}

type revokeRulesOutput struct {
	Return bool
}

func (e *EC2) authorizeSecurityGroupIngress(ctx context.Context, in *changeRulesInput) (*authorizeRulesOutput, error) {
	return e.authorizeRules(ctx, in, false)
}

func (e *EC2) authorizeSecurityGroupEgress(ctx context.Context, in *changeRulesInput) (*authorizeRulesOutput, error) {
	return e.authorizeRules(ctx, in, true)
}

func (e *EC2) revokeSecurityGroupIngress(ctx context.Context, in *changeRulesInput) (*revokeRulesOutput, error) {
	return e.revokeRules(ctx, in, false)
}

func (e *EC2) revokeSecurityGroupEgress(ctx context.Context, in *changeRulesInput) (*revokeRulesOutput, error) {
	return e.revokeRules(ctx, in, true)
}

// normalizeProtocol turns an IpProtocol (a name or a number) into the form
// AWS stores: tcp, udp, icmp, icmpv6, -1, or another protocol's number.
func normalizeProtocol(p string) (string, error) {
	switch strings.ToLower(p) {
	case "tcp", "6":
		return "tcp", nil
	case "udp", "17":
		return "udp", nil
	case "icmp", "1":
		return "icmp", nil
	case "icmpv6", "58":
		return "icmpv6", nil
	case "-1", "all":
		return "-1", nil
	case "":
		return "", awserr.Missing("IpProtocol")
	}
	if n, err := strconv.Atoi(p); err == nil && n >= 0 && n <= 255 {
		return strconv.Itoa(n), nil
	}
	return "", invalidParameter("Invalid value '%s' for IP protocol. Unknown protocol.", p)
}

// parsePermissions turns IpPermissions (or the short form) into rules for
// group g, resolving source groups by ID or name.
func parsePermissions(tx store.Tx, account, region string, g securityGroup, in *changeRulesInput, egress bool) ([]sgRule, error) {
	perms := in.IpPermissions
	if len(perms) == 0 && (in.IpProtocol != "" || in.CidrIp != "" || in.SourceSecurityGroupName != "") {
		p := ipPermission{IpProtocol: in.IpProtocol, FromPort: in.FromPort, ToPort: in.ToPort}
		if p.IpProtocol == "" && in.SourceSecurityGroupName != "" {
			// A source group alone allows all traffic from it.
			p.IpProtocol = "-1"
		}
		if in.CidrIp != "" {
			p.IpRanges = []ipRange{{CidrIp: in.CidrIp}}
		}
		if in.SourceSecurityGroupName != "" {
			p.UserIdGroupPairs = []userIDGroupPair{{GroupName: in.SourceSecurityGroupName, UserId: in.SourceSecurityGroupOwnerId}}
		}
		perms = []ipPermission{p}
	}
	var rules []sgRule
	for _, p := range perms {
		proto, err := normalizeProtocol(p.IpProtocol)
		if err != nil {
			return nil, err
		}
		from, to := -1, -1
		switch proto {
		case "tcp", "udp":
			if p.FromPort == nil || p.ToPort == nil {
				return nil, invalidParameter("Invalid value 'Must specify both from and to ports with TCP/UDP.' for portRange")
			}
			from, to = *p.FromPort, *p.ToPort
			if from < 0 || to > 65535 || from > to {
				return nil, invalidParameter("Invalid TCP/UDP port range %d-%d", from, to)
			}
		case "icmp", "icmpv6":
			if p.FromPort != nil {
				from = *p.FromPort
			}
			if p.ToPort != nil {
				to = *p.ToPort
			}
			if from < -1 || from > 255 || to < -1 || to > 255 {
				return nil, invalidParameter("Invalid value for portRange. ICMP type and code must be between -1 and 255.")
			}
		}
		base := sgRule{IsEgress: egress, IpProtocol: proto, FromPort: from, ToPort: to}
		if len(p.PrefixListIds) > 0 {
			return nil, awserr.New(awserr.NotImplemented, "Unsupported", "Prefix lists are not supported by nimbus.")
		}
		if len(p.IpRanges)+len(p.Ipv6Ranges)+len(p.UserIdGroupPairs) == 0 {
			return nil, invalidParameter("The request must contain at least one of IpRanges, Ipv6Ranges, UserIdGroupPairs or PrefixListIds for each IpPermission.")
		}
		for _, r := range p.IpRanges {
			pfx, err := netip.ParsePrefix(r.CidrIp)
			if err != nil || !pfx.Addr().Is4() {
				return nil, invalidParameter("CIDR block %s is malformed", r.CidrIp)
			}
			rule := base
			rule.CidrIpv4, rule.Description = pfx.Masked().String(), r.Description
			rules = append(rules, rule)
		}
		for _, r := range p.Ipv6Ranges {
			pfx, err := netip.ParsePrefix(r.CidrIpv6)
			if err != nil || !pfx.Addr().Is6() {
				return nil, invalidParameter("CIDR block %s is malformed", r.CidrIpv6)
			}
			rule := base
			rule.CidrIpv6, rule.Description = pfx.Masked().String(), r.Description
			rules = append(rules, rule)
		}
		for _, pair := range p.UserIdGroupPairs {
			var ref securityGroup
			if pair.GroupId == g.GroupId || (pair.GroupId == "" && pair.GroupName == g.GroupName) {
				ref = g
			} else {
				if pair.GroupId == "" && pair.GroupName == "" {
					return nil, awserr.Missing("GroupId")
				}
				ref, _, err = findGroup(tx, account, region, pair.GroupId, pair.GroupName)
				if err != nil {
					return nil, err
				}
			}
			rule := base
			rule.ReferencedGroupId, rule.ReferencedUserId, rule.Description = ref.GroupId, ref.OwnerId, pair.Description
			rules = append(rules, rule)
		}
	}
	return rules, nil
}

func (e *EC2) authorizeRules(ctx context.Context, in *changeRulesInput, egress bool) (*authorizeRulesOutput, error) {
	if in.GroupId == "" && in.GroupName == "" {
		return nil, awserr.Missing("GroupId")
	}
	tags, err := tagsFor(in.TagSpecifications, "security-group-rule")
	if err != nil {
		return nil, err
	}
	if err := validateTags(tags); err != nil {
		return nil, err
	}
	account, region := partition(ctx)
	if err := e.ensureDefaultGroup(ctx, account, region); err != nil {
		return nil, err
	}
	var g securityGroup
	var added []sgRule
	err = e.store.Update(ctx, func(tx store.Tx) error {
		var meta store.Meta
		var err error
		g, meta, err = findGroup(tx, account, region, in.GroupId, in.GroupName)
		if err != nil {
			return err
		}
		rules, err := parsePermissions(tx, account, region, g, in, egress)
		if err != nil {
			return err
		}
		if len(rules) == 0 {
			return awserr.Missing("IpPermissions")
		}
		for i, r := range rules {
			for _, have := range append(append([]sgRule(nil), g.Rules...), rules[:i]...) {
				if have.sameTraffic(r) {
					return awserr.New(awserr.AlreadyExists, "InvalidPermission.Duplicate",
						"the specified rule \"%s\" already exists", r)
				}
			}
		}
		if in.DryRun {
			return dryRun()
		}
		for i := range rules {
			rules[i].SecurityGroupRuleId = newID("sgr")
			rules[i].Tags = tags
		}
		g.Rules = append(g.Rules, rules...)
		added = rules
		_, err = tx.Put(groupKey(account, region, g.GroupId), &g, meta.Version)
		return err
	})
	if err != nil {
		return nil, asAPIError(err, "authorize security group rules")
	}
	if e.onGroupChanged != nil {
		e.onGroupChanged(ctx, account, region, g.GroupId)
	}
	out := &authorizeRulesOutput{Return: true, SecurityGroupRules: []securityGroupRule{}}
	for _, r := range added {
		out.SecurityGroupRules = append(out.SecurityGroupRules, r.describe(g, region))
	}
	return out, nil
}

func (e *EC2) revokeRules(ctx context.Context, in *changeRulesInput, egress bool) (*revokeRulesOutput, error) {
	if in.GroupId == "" && in.GroupName == "" {
		return nil, awserr.Missing("GroupId")
	}
	account, region := partition(ctx)
	if err := e.ensureDefaultGroup(ctx, account, region); err != nil {
		return nil, err
	}
	var g securityGroup
	err := e.store.Update(ctx, func(tx store.Tx) error {
		var meta store.Meta
		var err error
		g, meta, err = findGroup(tx, account, region, in.GroupId, in.GroupName)
		if err != nil {
			return err
		}
		remove := map[string]bool{}
		for _, id := range in.SecurityGroupRuleIds {
			found := false
			for _, r := range g.Rules {
				if r.SecurityGroupRuleId == id && r.IsEgress == egress {
					remove[id], found = true, true
				}
			}
			if !found {
				return awserr.New(awserr.NotFound, "InvalidSecurityGroupRuleId.NotFound",
					"The security group rule ID '%s' does not exist", id)
			}
		}
		if len(in.SecurityGroupRuleIds) == 0 {
			rules, err := parsePermissions(tx, account, region, g, in, egress)
			if err != nil {
				return err
			}
			if len(rules) == 0 {
				return awserr.Missing("IpPermissions")
			}
			// AWS revokes nothing unless every rule named exists, and answers
			// InvalidPermission.NotFound, as it does in non-default VPCs. (In a
			// default VPC AWS instead succeeds and lists the rules it did not
			// find in UnknownIpPermissions; nimbus reports the mistake.)
			for _, want := range rules {
				found := false
				for _, r := range g.Rules {
					if r.sameTraffic(want) {
						remove[r.SecurityGroupRuleId], found = true, true
					}
				}
				if !found {
					return awserr.New(awserr.NotFound, "InvalidPermission.NotFound",
						"The specified rule does not exist in this security group.")
				}
			}
		}
		if in.DryRun {
			return dryRun()
		}
		kept := g.Rules[:0:0]
		for _, r := range g.Rules {
			if !remove[r.SecurityGroupRuleId] {
				kept = append(kept, r)
			}
		}
		g.Rules = kept
		_, err = tx.Put(groupKey(account, region, g.GroupId), &g, meta.Version)
		return err
	})
	if err != nil {
		return nil, asAPIError(err, "revoke security group rules")
	}
	if e.onGroupChanged != nil {
		e.onGroupChanged(ctx, account, region, g.GroupId)
	}
	return &revokeRulesOutput{Return: true}, nil
}

// DescribeSecurityGroupRules

type describeSecurityGroupRulesInput struct {
	SecurityGroupRuleIds []string
	Filters              []Filter
	MaxResults           int
	NextToken            string
	DryRun               bool
}

type describeSecurityGroupRulesOutput struct {
	SecurityGroupRules []securityGroupRule
	NextToken          string `json:",omitempty"`
}

func (e *EC2) describeSecurityGroupRules(ctx context.Context, in *describeSecurityGroupRulesInput) (*describeSecurityGroupRulesOutput, error) {
	if err := checkMaxResults(in.MaxResults, 5, 1000); err != nil {
		return nil, err
	}
	if in.DryRun {
		return nil, dryRun()
	}
	account, region := partition(ctx)
	groups, err := e.listGroups(ctx, account, region)
	if err != nil {
		return nil, err
	}
	var matched []securityGroupRule
	found := map[string]bool{}
	for _, g := range groups {
		for _, r := range g.Rules {
			if len(in.SecurityGroupRuleIds) > 0 && !matchAny(in.SecurityGroupRuleIds, r.SecurityGroupRuleId) {
				continue
			}
			found[r.SecurityGroupRuleId] = true
			ok, err := matchFilters(in.Filters, func(name string) ([]string, bool) {
				switch name {
				case "group-id":
					return []string{g.GroupId}, true
				case "security-group-rule-id":
					return []string{r.SecurityGroupRuleId}, true
				}
				return nil, false
			}, r.Tags)
			if err != nil {
				return nil, err
			}
			if ok {
				matched = append(matched, r.describe(g, region))
			}
		}
	}
	for _, id := range in.SecurityGroupRuleIds {
		if !found[id] {
			return nil, awserr.New(awserr.NotFound, "InvalidSecurityGroupRuleId.NotFound",
				"The security group rule ID '%s' does not exist", id)
		}
	}
	sortByKey(matched, func(r securityGroupRule) string { return r.SecurityGroupRuleId })
	page, next, err := paginate(matched, in.MaxResults, in.NextToken, func(r securityGroupRule) string { return r.SecurityGroupRuleId })
	if err != nil {
		return nil, err
	}
	return &describeSecurityGroupRulesOutput{SecurityGroupRules: page, NextToken: next}, nil
}

// Tags on groups and rules.

func (e *EC2) tagSecurityGroup(ctx context.Context, account, region, id string, set, remove []Tag) error {
	if err := checkGroupID(id); err != nil {
		return err
	}
	err := e.store.Update(ctx, func(tx store.Tx) error {
		return retagStored(tx, groupKey(account, region, id), func() error { return groupNotFound(id) },
			func(g *securityGroup) *[]Tag { return &g.Tags }, set, remove)
	})
	return asAPIErrorOrNil(err, "tag security group")
}

func (e *EC2) listSecurityGroupTags(ctx context.Context, account, region string) ([]TaggedResource, error) {
	groups, err := e.listGroups(ctx, account, region)
	if err != nil {
		return nil, err
	}
	return taggedResources(groups, "security-group", func(g securityGroup) string { return g.GroupId },
		func(g securityGroup) []Tag { return g.Tags }), nil
}

func (e *EC2) tagSecurityGroupRule(ctx context.Context, account, region, id string, set, remove []Tag) error {
	groups, err := e.listGroups(ctx, account, region)
	if err != nil {
		return err
	}
	for _, g := range groups {
		for _, r := range g.Rules {
			if r.SecurityGroupRuleId != id {
				continue
			}
			err := e.store.Update(ctx, func(tx store.Tx) error {
				var cur securityGroup
				meta, err := tx.Get(groupKey(account, region, g.GroupId), &cur)
				if err != nil {
					return err
				}
				for i := range cur.Rules {
					if cur.Rules[i].SecurityGroupRuleId == id {
						if cur.Rules[i].Tags, err = mergeTags(cur.Rules[i].Tags, set, remove); err != nil {
							return err
						}
					}
				}
				_, err = tx.Put(groupKey(account, region, g.GroupId), &cur, meta.Version)
				return err
			})
			return asAPIErrorOrNil(err, "tag security group rule")
		}
	}
	return awserr.New(awserr.NotFound, "InvalidSecurityGroupRuleId.NotFound", "The security group rule ID '%s' does not exist", id)
}

func (e *EC2) listSecurityGroupRuleTags(ctx context.Context, account, region string) ([]TaggedResource, error) {
	groups, err := e.listGroups(ctx, account, region)
	if err != nil {
		return nil, err
	}
	var out []TaggedResource
	for _, g := range groups {
		for _, r := range g.Rules {
			out = append(out, TaggedResource{ResourceId: r.SecurityGroupRuleId, ResourceType: "security-group-rule", Tags: r.Tags})
		}
	}
	return out, nil
}

func asAPIErrorOrNil(err error, what string) error {
	if err == nil {
		return nil
	}
	return asAPIError(err, what)
}
