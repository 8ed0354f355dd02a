package ec2

import (
	"context"
	"net/netip"
	"slices"
	"testing"

	"github.com/nimbus-dev/nimbus/internal/network"
)

func intp(n int) *int { return &n }

func TestDefaultSecurityGroup(t *testing.T) {
	e := catalogEC2(t)
	ctx := callIn("us-east-1")
	out, err := e.describeSecurityGroups(ctx, &describeSecurityGroupsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.SecurityGroups) != 1 {
		t.Fatalf("got %d groups, want the default one", len(out.SecurityGroups))
	}
	g := out.SecurityGroups[0]
	if g.GroupName != "default" || g.VpcId != defaultVPCID(catalogTestAccount, "us-east-1") || g.OwnerId != catalogTestAccount {
		t.Errorf("default group = %+v", g)
	}
	// AWS's default rules: everything in from the group itself, everything out.
	if len(g.IpPermissions) != 1 || g.IpPermissions[0].IpProtocol != "-1" || g.IpPermissions[0].FromPort != nil ||
		len(g.IpPermissions[0].UserIdGroupPairs) != 1 || g.IpPermissions[0].UserIdGroupPairs[0].GroupId != g.GroupId {
		t.Errorf("default ingress = %+v", g.IpPermissions)
	}
	if len(g.IpPermissionsEgress) != 1 || g.IpPermissionsEgress[0].IpRanges[0].CidrIp != "0.0.0.0/0" {
		t.Errorf("default egress = %+v", g.IpPermissionsEgress)
	}
	// The default group is per region and per account, and stable.
	other, err := e.describeSecurityGroups(callIn("eu-west-1"), &describeSecurityGroupsInput{GroupNames: []string{"default"}})
	if err != nil || len(other.SecurityGroups) != 1 || other.SecurityGroups[0].GroupId == g.GroupId {
		t.Errorf("eu-west-1 default group: %+v %v", other, err)
	}
	ids, err := e.resolveGroups(ctx, catalogTestAccount, "us-east-1", defaultVPCID(catalogTestAccount, "us-east-1"), "", nil, nil)
	if err != nil || len(ids) != 1 || ids[0].GroupId != g.GroupId || ids[0].GroupName != "default" {
		t.Errorf("resolveGroups(none) = %+v %v", ids, err)
	}
	_, err = e.deleteSecurityGroup(ctx, &deleteSecurityGroupInput{GroupName: "default"})
	wantCode(t, "delete default", err, "CannotDelete")
	_, err = e.createSecurityGroup(ctx, &createSecurityGroupInput{GroupName: "default", Description: "x"})
	wantCode(t, "create default", err, "InvalidGroup.Reserved")
}

func TestSecurityGroupLifecycle(t *testing.T) {
	e := catalogEC2(t)
	ctx := callIn("us-east-1")
	var changed []string
	e.onGroupChanged = func(_ context.Context, _, _, id string) { changed = append(changed, id) }

	web, err := e.createSecurityGroup(ctx, &createSecurityGroupInput{GroupName: "web", Description: "web servers",
		TagSpecifications: []TagSpecification{{ResourceType: "security-group", Tags: []Tag{{"team", "a"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	if !validResourceID(web.GroupId, "sg") || len(web.Tags) != 1 {
		t.Errorf("create = %+v", web)
	}
	db, err := e.createSecurityGroup(ctx, &createSecurityGroupInput{GroupName: "db", Description: "databases",
		VpcId: defaultVPCID(catalogTestAccount, "us-east-1")})
	if err != nil {
		t.Fatal(err)
	}

	createErrs := []struct {
		name string
		in   createSecurityGroupInput
		code string
	}{
		{"duplicate", createSecurityGroupInput{GroupName: "web", Description: "again"}, "InvalidGroup.Duplicate"},
		{"no description", createSecurityGroupInput{GroupName: "x"}, "MissingParameter"},
		{"no name", createSecurityGroupInput{Description: "x"}, "MissingParameter"},
		{"sg- name", createSecurityGroupInput{GroupName: "sg-1", Description: "x"}, "InvalidParameterValue"},
		{"unknown vpc", createSecurityGroupInput{GroupName: "x", Description: "x", VpcId: "vpc-0123456789abcdef0"}, "InvalidVpcID.NotFound"},
		{"dry run", createSecurityGroupInput{GroupName: "x", Description: "x", DryRun: true}, "DryRunOperation"},
	}
	for _, tc := range createErrs {
		_, err := e.createSecurityGroup(ctx, &tc.in)
		wantCode(t, tc.name, err, tc.code)
	}

	// Authorize: the IpPermissions form, with two CIDRs and a group.
	auth, err := e.authorizeSecurityGroupIngress(ctx, &changeRulesInput{GroupId: web.GroupId, IpPermissions: []ipPermission{
		{IpProtocol: "tcp", FromPort: intp(22), ToPort: intp(22), IpRanges: []ipRange{{CidrIp: "10.0.0.0/8", Description: "ssh"}, {CidrIp: "192.168.1.7/32"}}},
		{IpProtocol: "6", FromPort: intp(80), ToPort: intp(443), UserIdGroupPairs: []userIDGroupPair{{GroupId: db.GroupId}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(auth.SecurityGroupRules) != 3 || !auth.Return {
		t.Fatalf("authorize gave %+v", auth)
	}
	for _, r := range auth.SecurityGroupRules {
		if !validResourceID(r.SecurityGroupRuleId, "sgr") || r.GroupId != web.GroupId || r.IsEgress || r.IpProtocol != "tcp" {
			t.Errorf("rule %+v", r)
		}
	}
	// The short form, by group name.
	if _, err := e.authorizeSecurityGroupIngress(ctx, &changeRulesInput{GroupName: "web", IpProtocol: "udp",
		FromPort: intp(53), ToPort: intp(53), CidrIp: "0.0.0.0/0"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.authorizeSecurityGroupEgress(ctx, &changeRulesInput{GroupId: db.GroupId, IpPermissions: []ipPermission{
		{IpProtocol: "icmp", FromPort: intp(8), ToPort: intp(-1), IpRanges: []ipRange{{CidrIp: "172.31.0.0/16"}}}}}); err != nil {
		t.Fatal(err)
	}

	authErrs := []struct {
		name string
		in   changeRulesInput
		code string
	}{
		{"duplicate", changeRulesInput{GroupId: web.GroupId, IpPermissions: []ipPermission{{IpProtocol: "tcp", FromPort: intp(22), ToPort: intp(22),
			IpRanges: []ipRange{{CidrIp: "10.0.0.0/8"}}}}}, "InvalidPermission.Duplicate"},
		{"duplicate by number", changeRulesInput{GroupId: web.GroupId, IpProtocol: "17", FromPort: intp(53), ToPort: intp(53), CidrIp: "0.0.0.0/0"}, "InvalidPermission.Duplicate"},
		{"no ports", changeRulesInput{GroupId: web.GroupId, IpProtocol: "tcp", CidrIp: "0.0.0.0/0"}, "InvalidParameterValue"},
		{"bad range", changeRulesInput{GroupId: web.GroupId, IpProtocol: "tcp", FromPort: intp(90), ToPort: intp(80), CidrIp: "0.0.0.0/0"}, "InvalidParameterValue"},
		{"bad protocol", changeRulesInput{GroupId: web.GroupId, IpProtocol: "carrier-pigeon", CidrIp: "0.0.0.0/0"}, "InvalidParameterValue"},
		{"bad cidr", changeRulesInput{GroupId: web.GroupId, IpProtocol: "-1", CidrIp: "10.0.0.300/8"}, "InvalidParameterValue"},
		{"unknown group", changeRulesInput{GroupId: "sg-0123456789abcdef0", IpProtocol: "-1", CidrIp: "0.0.0.0/0"}, "InvalidGroup.NotFound"},
		{"malformed group", changeRulesInput{GroupId: "web", IpProtocol: "-1", CidrIp: "0.0.0.0/0"}, "InvalidGroupId.Malformed"},
		{"unknown source group", changeRulesInput{GroupId: web.GroupId, IpPermissions: []ipPermission{{IpProtocol: "-1",
			UserIdGroupPairs: []userIDGroupPair{{GroupId: "sg-0123456789abcdef0"}}}}}, "InvalidGroup.NotFound"},
		{"dry run", changeRulesInput{GroupId: web.GroupId, IpProtocol: "tcp", FromPort: intp(8080), ToPort: intp(8080), CidrIp: "0.0.0.0/0", DryRun: true}, "DryRunOperation"},
	}
	for _, tc := range authErrs {
		_, err := e.authorizeSecurityGroupIngress(ctx, &tc.in)
		wantCode(t, tc.name, err, tc.code)
	}

	// Describe puts rules back together per protocol and port range.
	desc, err := e.describeSecurityGroups(ctx, &describeSecurityGroupsInput{GroupIds: []string{web.GroupId}})
	if err != nil {
		t.Fatal(err)
	}
	perms := desc.SecurityGroups[0].IpPermissions
	if len(perms) != 3 || *perms[0].FromPort != 22 || len(perms[0].IpRanges) != 2 || perms[0].IpRanges[0].Description != "ssh" ||
		perms[1].UserIdGroupPairs[0].GroupId != db.GroupId || perms[2].IpProtocol != "udp" {
		t.Errorf("web ingress = %+v", perms)
	}
	if len(desc.SecurityGroups[0].IpPermissionsEgress) != 1 {
		t.Errorf("a new group's egress = %+v, want allow all", desc.SecurityGroups[0].IpPermissionsEgress)
	}

	filterCases := []struct {
		name    string
		filters []Filter
		want    []string
	}{
		{"by name", []Filter{{"group-name", []string{"web", "db"}}}, []string{"db", "web"}},
		{"by cidr", []Filter{{"ip-permission.cidr", []string{"10.0.0.0/8"}}}, []string{"web"}},
		{"by port", []Filter{{"ip-permission.from-port", []string{"80"}}}, []string{"web"}},
		{"by referenced group", []Filter{{"ip-permission.group-id", []string{db.GroupId}}}, []string{"web"}},
		{"by egress protocol", []Filter{{"egress.ip-permission.protocol", []string{"icmp"}}}, []string{"db"}},
		{"by tag", []Filter{{"tag:team", []string{"a"}}}, []string{"web"}},
		{"by description", []Filter{{"description", []string{"data*"}}}, []string{"db"}},
		{"by vpc", []Filter{{"vpc-id", []string{defaultVPCID(catalogTestAccount, "us-east-1")}}}, []string{"db", "default", "web"}},
	}
	for _, tc := range filterCases {
		out, err := e.describeSecurityGroups(ctx, &describeSecurityGroupsInput{Filters: tc.filters})
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		var got []string
		for _, g := range out.SecurityGroups {
			got = append(got, g.GroupName)
		}
		slices.Sort(got)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
	_, err = e.describeSecurityGroups(ctx, &describeSecurityGroupsInput{GroupNames: []string{"nope"}})
	wantCode(t, "describe unknown name", err, "InvalidGroup.NotFound")
	_, err = e.describeSecurityGroups(ctx, &describeSecurityGroupsInput{GroupIds: []string{"sg-12"}})
	wantCode(t, "describe malformed id", err, "InvalidGroupId.Malformed")

	// DescribeSecurityGroupRules.
	rules, err := e.describeSecurityGroupRules(ctx, &describeSecurityGroupRulesInput{Filters: []Filter{{"group-id", []string{web.GroupId}}}})
	if err != nil || len(rules.SecurityGroupRules) != 5 { // 4 ingress + the egress all
		t.Fatalf("rules of web: %+v %v", rules, err)
	}
	one, err := e.describeSecurityGroupRules(ctx, &describeSecurityGroupRulesInput{SecurityGroupRuleIds: []string{auth.SecurityGroupRules[2].SecurityGroupRuleId}})
	if err != nil || len(one.SecurityGroupRules) != 1 || one.SecurityGroupRules[0].ReferencedGroupInfo == nil ||
		one.SecurityGroupRules[0].ReferencedGroupInfo.GroupId != db.GroupId || one.SecurityGroupRules[0].FromPort != 80 {
		t.Errorf("rule by id: %+v %v", one, err)
	}
	_, err = e.describeSecurityGroupRules(ctx, &describeSecurityGroupRulesInput{SecurityGroupRuleIds: []string{"sgr-0123456789abcdef0"}})
	wantCode(t, "unknown rule", err, "InvalidSecurityGroupRuleId.NotFound")

	// Revoke: a rule that is not there, then real ones by content and by ID.
	_, err = e.revokeSecurityGroupIngress(ctx, &changeRulesInput{GroupId: web.GroupId, IpProtocol: "tcp", FromPort: intp(23), ToPort: intp(23), CidrIp: "10.0.0.0/8"})
	wantCode(t, "revoke missing", err, "InvalidPermission.NotFound")
	if _, err := e.revokeSecurityGroupIngress(ctx, &changeRulesInput{GroupId: web.GroupId, IpPermissions: []ipPermission{
		{IpProtocol: "tcp", FromPort: intp(22), ToPort: intp(22), IpRanges: []ipRange{{CidrIp: "10.0.0.0/8"}}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.revokeSecurityGroupIngress(ctx, &changeRulesInput{GroupId: web.GroupId,
		SecurityGroupRuleIds: []string{auth.SecurityGroupRules[1].SecurityGroupRuleId}}); err != nil {
		t.Fatal(err)
	}
	desc, _ = e.describeSecurityGroups(ctx, &describeSecurityGroupsInput{GroupIds: []string{web.GroupId}})
	if perms := desc.SecurityGroups[0].IpPermissions; len(perms) != 2 || perms[0].FromPort == nil || *perms[0].FromPort != 80 {
		t.Errorf("after revoking port 22: %+v", perms)
	}
	if len(changed) != 5 {
		t.Errorf("onGroupChanged called %d times, want 5 (3 authorize, 2 revoke)", len(changed))
	}

	// Delete: db is referenced by web's rule, then web has members.
	_, err = e.deleteSecurityGroup(ctx, &deleteSecurityGroupInput{GroupId: db.GroupId})
	wantCode(t, "delete referenced", err, "DependencyViolation")
	e.groupMembers = func(_ context.Context, _, _, id string) ([]netip.Addr, error) {
		if id == web.GroupId {
			return []netip.Addr{netip.MustParseAddr("10.213.0.9")}, nil
		}
		return nil, nil
	}
	_, err = e.deleteSecurityGroup(ctx, &deleteSecurityGroupInput{GroupName: "web"})
	wantCode(t, "delete in use", err, "DependencyViolation")
	e.groupMembers = nil
	if out, err := e.deleteSecurityGroup(ctx, &deleteSecurityGroupInput{GroupName: "web"}); err != nil || out.GroupId != web.GroupId {
		t.Fatalf("delete web: %+v %v", out, err)
	}
	if _, err := e.deleteSecurityGroup(ctx, &deleteSecurityGroupInput{GroupId: db.GroupId}); err != nil {
		t.Fatalf("delete db once nothing refers to it: %v", err)
	}
	_, err = e.deleteSecurityGroup(ctx, &deleteSecurityGroupInput{GroupId: db.GroupId})
	wantCode(t, "delete twice", err, "InvalidGroup.NotFound")
	_, err = e.resolveGroups(ctx, catalogTestAccount, "us-east-1", defaultVPCID(catalogTestAccount, "us-east-1"), "", []string{db.GroupId}, nil)
	wantCode(t, "resolve deleted", err, "InvalidGroup.NotFound")
}

func TestDescribeSecurityGroupsPages(t *testing.T) {
	e := catalogEC2(t)
	ctx := callIn("us-east-1")
	for i := range 11 {
		if _, err := e.createSecurityGroup(ctx, &createSecurityGroupInput{GroupName: "g" + string(rune('a'+i)), Description: "d"}); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	token := ""
	for {
		out, err := e.describeSecurityGroups(ctx, &describeSecurityGroupsInput{MaxResults: 5, NextToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range out.SecurityGroups {
			if seen[g.GroupId] {
				t.Fatalf("%s twice", g.GroupName)
			}
			seen[g.GroupId] = true
		}
		if token = out.NextToken; token == "" {
			break
		}
	}
	if len(seen) != 12 {
		t.Errorf("pages gave %d groups, want 12", len(seen))
	}
}

func TestFirewallRules(t *testing.T) {
	e := catalogEC2(t)
	ctx := callIn("us-east-1")
	acct, reg := catalogTestAccount, "us-east-1"
	web, _ := e.createSecurityGroup(ctx, &createSecurityGroupInput{GroupName: "web", Description: "w"})
	app, _ := e.createSecurityGroup(ctx, &createSecurityGroupInput{GroupName: "app", Description: "a"})
	mustAuth := func(in *changeRulesInput) {
		t.Helper()
		if _, err := e.authorizeSecurityGroupIngress(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	mustAuth(&changeRulesInput{GroupId: web.GroupId, IpProtocol: "tcp", FromPort: intp(22), ToPort: intp(22), CidrIp: "10.0.0.0/8"})
	mustAuth(&changeRulesInput{GroupId: web.GroupId, IpPermissions: []ipPermission{{IpProtocol: "tcp", FromPort: intp(8080), ToPort: intp(8081),
		UserIdGroupPairs: []userIDGroupPair{{GroupId: app.GroupId}}}}})
	mustAuth(&changeRulesInput{GroupId: web.GroupId, IpPermissions: []ipPermission{{IpProtocol: "icmp", FromPort: intp(-1), ToPort: intp(-1),
		Ipv6Ranges: []ipv6Range{{CidrIpv6: "::/0"}}}}}) // IPv6: no firewall rule
	mustAuth(&changeRulesInput{GroupId: app.GroupId, IpProtocol: "tcp", FromPort: intp(22), ToPort: intp(22), CidrIp: "10.0.0.0/8"})

	appMembers := []netip.Addr{netip.MustParseAddr("10.213.0.5"), netip.MustParseAddr("10.213.0.6")}
	e.groupMembers = func(_ context.Context, _, _, id string) ([]netip.Addr, error) {
		if id == app.GroupId {
			return appMembers, nil
		}
		return nil, nil
	}
	in, out, err := e.firewallRules(ctx, acct, reg, []string{web.GroupId, app.GroupId})
	if err != nil {
		t.Fatal(err)
	}
	want := []network.Rule{
		{Protocol: network.ProtocolTCP, FromPort: 22, ToPort: 22, CIDR: netip.MustParsePrefix("10.0.0.0/8")},
		{Protocol: network.ProtocolTCP, FromPort: 8080, ToPort: 8081, CIDR: netip.MustParsePrefix("10.213.0.5/32")},
		{Protocol: network.ProtocolTCP, FromPort: 8080, ToPort: 8081, CIDR: netip.MustParsePrefix("10.213.0.6/32")},
	}
	if !slices.Equal(in, want) {
		t.Errorf("ingress = %v, want %v (the union, deduplicated)", in, want)
	}
	if !slices.Equal(out, []network.Rule{network.AllowAll}) {
		t.Errorf("egress = %v, want allow all", out)
	}
	// The default group lets its own members in.
	def := defaultGroupID(acct, reg)
	e.groupMembers = func(_ context.Context, _, _, id string) ([]netip.Addr, error) {
		if id == def {
			return []netip.Addr{netip.MustParseAddr("10.213.0.9")}, nil
		}
		return nil, nil
	}
	ids, _ := e.resolveGroups(ctx, acct, reg, defaultVPCID(acct, reg), "", nil, nil)
	in, _, err = e.firewallRules(ctx, acct, reg, []string{ids[0].GroupId})
	if err != nil || !slices.Equal(in, []network.Rule{{Protocol: network.ProtocolAll, CIDR: netip.MustParsePrefix("10.213.0.9/32")}}) {
		t.Errorf("default group ingress = %v %v", in, err)
	}
	_, _, err = e.firewallRules(ctx, acct, reg, []string{"sg-0123456789abcdef0"})
	wantCode(t, "firewall of unknown group", err, "InvalidGroup.NotFound")
}

func TestNormalizeProtocol(t *testing.T) {
	cases := map[string]string{"tcp": "tcp", "TCP": "tcp", "6": "tcp", "17": "udp", "icmp": "icmp", "1": "icmp",
		"-1": "-1", "all": "-1", "58": "icmpv6", "47": "47"}
	for in, want := range cases {
		if got, err := normalizeProtocol(in); err != nil || got != want {
			t.Errorf("normalizeProtocol(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"256", "gre", ""} {
		if _, err := normalizeProtocol(bad); err == nil {
			t.Errorf("normalizeProtocol(%q) accepted", bad)
		}
	}
}
