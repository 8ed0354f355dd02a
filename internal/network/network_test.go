package network

import (
	"net/netip"
	"strings"
	"testing"
)

func TestNetworkDefaults(t *testing.T) {
	cases := []struct {
		name    string
		in      Network
		wantErr bool
		bridge  string
		gateway string
	}{
		{name: "default", in: DefaultNetwork(), bridge: "nimbus0", gateway: "10.213.0.1"},
		{name: "bridge from name", in: Network{Name: "vpc-1", Subnet: netip.MustParsePrefix("172.31.5.7/20")}, bridge: "vpc-1", gateway: "172.31.0.1"},
		{name: "explicit gateway", in: Network{Name: "n", Bridge: "br-n", Subnet: netip.MustParsePrefix("10.0.0.0/24"), Gateway: netip.MustParseAddr("10.0.0.254")}, bridge: "br-n", gateway: "10.0.0.254"},
		{name: "gateway outside", in: Network{Name: "n", Subnet: netip.MustParsePrefix("10.0.0.0/24"), Gateway: netip.MustParseAddr("10.0.1.1")}, wantErr: true},
		{name: "ipv6", in: Network{Name: "n", Subnet: netip.MustParsePrefix("fd00::/64")}, wantErr: true},
		{name: "too small", in: Network{Name: "n", Subnet: netip.MustParsePrefix("10.0.0.0/31")}, wantErr: true},
		{name: "long bridge", in: Network{Name: "n", Bridge: "a-very-long-bridge", Subnet: DefaultSubnet}, wantErr: true},
		{name: "bad name", in: Network{Name: "Bad_Name", Subnet: DefaultSubnet}, wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.in.withDefaults()
			if tc.wantErr {
				if err == nil {
					t.Fatalf("withDefaults(%+v) = %+v, want error", tc.in, got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Bridge != tc.bridge || got.Gateway.String() != tc.gateway {
				t.Errorf("got bridge %q gateway %s, want %q %s", got.Bridge, got.Gateway, tc.bridge, tc.gateway)
			}
		})
	}
}

func TestRuleValidate(t *testing.T) {
	cidr := netip.MustParsePrefix("10.0.0.0/8")
	cases := []struct {
		rule Rule
		ok   bool
	}{
		{Rule{Protocol: ProtocolTCP, FromPort: 22, ToPort: 22, CIDR: cidr}, true},
		{Rule{Protocol: ProtocolUDP, FromPort: 1000, ToPort: 2000, CIDR: cidr}, true},
		{AllowAll, true},
		{Rule{Protocol: ProtocolICMP, CIDR: cidr}, true},
		{Rule{Protocol: "sctp", CIDR: cidr}, false},
		{Rule{Protocol: ProtocolTCP, FromPort: 30, ToPort: 20, CIDR: cidr}, false},
		{Rule{Protocol: ProtocolTCP, FromPort: 80, ToPort: 80}, false},
	}
	for _, tc := range cases {
		if err := tc.rule.validate(); (err == nil) != tc.ok {
			t.Errorf("validate(%+v) = %v, want ok=%v", tc.rule, err, tc.ok)
		}
	}
}

func TestBridgeConfList(t *testing.T) {
	n, err := Network{Name: "nbtconf", Subnet: netip.MustParsePrefix("10.9.8.0/24")}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	b, err := bridgeConfList(n, "/state/ipam")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"bridge":"nbtconf"`, `"ipMasq":false`, `"isGateway":true`, `"subnet":"10.9.8.0/24"`, `"gateway":"10.9.8.1"`, `"dataDir":"/state/ipam"`, `"type":"host-local"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("CNI config %s lacks %s", b, want)
		}
	}
}
