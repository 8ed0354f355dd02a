package ec2

import (
	"regexp"
	"testing"
)

func TestDefaultVPCAndSubnets(t *testing.T) {
	id := regexp.MustCompile(`^(vpc|subnet)-[0-9a-f]{17}$`)
	vpc := defaultVPCID("111111111111", "us-east-1")
	if !id.MatchString(vpc) || vpc != defaultVPCID("111111111111", "us-east-1") {
		t.Errorf("default VPC ID %q is malformed or not stable", vpc)
	}
	if vpc == defaultVPCID("222222222222", "us-east-1") || vpc == defaultVPCID("111111111111", "eu-west-1") {
		t.Error("default VPC IDs collide across accounts or regions")
	}
	cases := []struct{ zone, cidr string }{
		{"us-east-1a", "172.31.0.0/20"},
		{"us-east-1b", "172.31.16.0/20"},
		{"us-east-1c", "172.31.32.0/20"},
		{"eu-west-1c", "172.31.32.0/20"},
	}
	seen := map[string]bool{}
	for _, tc := range cases {
		sub, cidr := defaultSubnet("111111111111", tc.zone)
		again, _ := defaultSubnet("111111111111", tc.zone)
		if !id.MatchString(sub) || sub != again || cidr != tc.cidr || seen[sub] {
			t.Errorf("defaultSubnet(%s) = %s %s (again %s), want a new stable ID and %s", tc.zone, sub, cidr, again, tc.cidr)
		}
		seen[sub] = true
	}
}
