package imds

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestMetaDataCategories(t *testing.T) {
	in := sampleInstance()
	hs := newHarness(t, map[string]*Instance{"sb-1": in})
	const mac = "0e:49:61:0f:c3:11"
	macDir := "/latest/meta-data/network/interfaces/macs/" + mac + "/"
	cases := []struct {
		path, want string
	}{
		{"/latest/meta-data/ami-id", "ami-0abcdef1234567890"},
		{"/latest/meta-data/ami-launch-index", "2"},
		{"/latest/meta-data/ami-manifest-path", "(unknown)"},
		{"/latest/meta-data/block-device-mapping/", "ami\nebs1\nroot"},
		{"/latest/meta-data/block-device-mapping/ami", "/dev/xvda"},
		{"/latest/meta-data/block-device-mapping/root", "/dev/xvda"},
		{"/latest/meta-data/block-device-mapping/ebs1", "sdf"},
		{"/latest/meta-data/events/maintenance/", "history\nscheduled"},
		{"/latest/meta-data/events/maintenance/scheduled", "[]"},
		{"/latest/meta-data/hostname", "ip-10-213-0-5.ec2.internal"},
		{"/latest/meta-data/local-hostname", "ip-10-213-0-5.ec2.internal"},
		{"/latest/meta-data/instance-action", "none"},
		{"/latest/meta-data/instance-id", "i-0123456789abcdef0"},
		{"/latest/meta-data/instance-life-cycle", "on-demand"},
		{"/latest/meta-data/instance-type", "t3.micro"},
		{"/latest/meta-data/local-ipv4", "10.213.0.5"},
		{"/latest/meta-data/mac", mac},
		{"/latest/meta-data/network/", "interfaces/"},
		{"/latest/meta-data/network/interfaces/macs/", mac + "/"},
		{macDir, "device-number\ninterface-id\nlocal-hostname\nlocal-ipv4s\nmac\nowner-id\nsecurity-group-ids\nsecurity-groups\nsubnet-id\nsubnet-ipv4-cidr-block\nvpc-id\nvpc-ipv4-cidr-block\nvpc-ipv4-cidr-blocks"},
		{macDir + "device-number", "0"},
		{macDir + "interface-id", "eni-0a1b2c3d4e5f60718"},
		{macDir + "local-ipv4s", "10.213.0.5"},
		{macDir + "mac", mac},
		{macDir + "owner-id", "123456789012"},
		{macDir + "security-group-ids", "sg-0001\nsg-0002"},
		{macDir + "security-groups", "default\nweb"},
		{macDir + "subnet-id", "subnet-0aa"},
		{macDir + "subnet-ipv4-cidr-block", "172.31.0.0/20"},
		{macDir + "vpc-id", "vpc-0bb"},
		{macDir + "vpc-ipv4-cidr-block", "172.31.0.0/16"},
		{"/latest/meta-data/placement/", "availability-zone\navailability-zone-id\nregion"},
		{"/latest/meta-data/placement/availability-zone", "us-east-1a"},
		{"/latest/meta-data/placement/availability-zone-id", "use1-az1"},
		{"/latest/meta-data/placement/region", "us-east-1"},
		{"/latest/meta-data/profile", "default-hvm"},
		{"/latest/meta-data/public-keys/", "0=my-key"},
		{"/latest/meta-data/public-keys/0/", "openssh-key"},
		{"/latest/meta-data/public-keys/0/openssh-key", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample my-key"},
		{"/latest/meta-data/reservation-id", "r-0fedcba9876543210"},
		{"/latest/meta-data/security-groups", "default\nweb"},
		{"/latest/meta-data/services/domain", "amazonaws.com"},
		{"/latest/meta-data/services/partition", "aws"},
		{"/latest/dynamic/", "instance-identity/"},
		{"/latest/dynamic/instance-identity/", "document"},
		// Directories answer with or without the trailing slash.
		{"/latest/meta-data/placement", "availability-zone\navailability-zone-id\nregion"},
		// Dated versions alias latest.
		{"/2021-07-15/meta-data/instance-id", "i-0123456789abcdef0"},
		{"/1.0/meta-data/instance-type", "t3.micro"},
	}
	for _, c := range cases {
		t.Run(strings.TrimPrefix(c.path, "/"), func(t *testing.T) {
			res := hs.do("sb-1", http.MethodGet, c.path)
			if res.status != http.StatusOK {
				t.Fatalf("status %d, body %q", res.status, res.body)
			}
			if res.body != c.want {
				t.Errorf("body %q, want %q", res.body, c.want)
			}
			if ct := res.header.Get("Content-Type"); ct != "text/plain" {
				t.Errorf("Content-Type %q, want text/plain", ct)
			}
			if got := res.header.Get("Server"); got != "EC2ws" {
				t.Errorf("Server %q, want EC2ws", got)
			}
		})
	}
}

func TestListings(t *testing.T) {
	full := sampleInstance()
	full.Spot = true
	full.SpotAction = &SpotAction{Action: "terminate", Time: launch}
	full.IAM = &IAMProfile{RoleName: "app", Credentials: func(context.Context) (*RoleCredentials, error) { return &RoleCredentials{}, nil }}
	full.Options.InstanceMetadataTags = true
	bare := &Instance{InstanceID: "i-bare", Region: "eu-west-1", AvailabilityZone: "eu-west-1b", InstanceType: "t3.nano"}
	hs := newHarness(t, map[string]*Instance{"full": full, "bare": bare})

	cases := []struct {
		sandbox, path, want string
	}{
		{"full", "/", strings.Join(Versions, "\n") + "\nlatest"},
		{"full", "/latest/", "dynamic\nmeta-data\nuser-data"},
		{"full", "/latest", "dynamic\nmeta-data\nuser-data"},
		{"bare", "/latest/", "dynamic\nmeta-data"},
		{"full", "/latest/meta-data/", strings.Join([]string{
			"ami-id", "ami-launch-index", "ami-manifest-path", "block-device-mapping/", "events/", "hostname",
			"iam/", "instance-action", "instance-id", "instance-life-cycle", "instance-type", "local-hostname",
			"local-ipv4", "mac", "network/", "placement/", "profile", "public-keys/", "reservation-id",
			"security-groups", "services/", "spot/", "tags/",
		}, "\n")},
		{"bare", "/latest/meta-data/", strings.Join([]string{
			"ami-id", "ami-launch-index", "ami-manifest-path", "block-device-mapping/", "events/", "hostname",
			"instance-action", "instance-id", "instance-life-cycle", "instance-type", "local-hostname",
			"mac", "network/", "placement/", "profile", "reservation-id",
			"security-groups", "services/",
		}, "\n")},
		{"full", "/latest/meta-data/tags/instance/", "Name\nenv"},
		{"full", "/latest/meta-data/tags/instance/Name", "web-1"},
		{"full", "/latest/meta-data/instance-life-cycle", "spot"},
		{"bare", "/latest/meta-data/hostname", ""},
		{"bare", "/latest/meta-data/placement/", "availability-zone\nregion"},
		{"bare", "/latest/meta-data/mac", MACFor("i-bare")},
	}
	for _, c := range cases {
		t.Run(c.sandbox+c.path, func(t *testing.T) {
			res := hs.do(c.sandbox, http.MethodGet, c.path)
			if res.status != http.StatusOK || res.body != c.want {
				t.Errorf("got %d %q, want 200 %q", res.status, res.body, c.want)
			}
		})
	}
}

func TestNotFound(t *testing.T) {
	bare := &Instance{InstanceID: "i-bare", Region: "us-east-1"}
	hs := newHarness(t, map[string]*Instance{"sb-1": sampleInstance(), "bare": bare})
	cases := []struct{ sandbox, path string }{
		{"sb-1", "/latest/meta-data/no-such-thing"},
		{"sb-1", "/latest/meta-data/instance-id/extra"},
		{"sb-1", "/latest/nothing"},
		{"sb-1", "/1999-01-01/meta-data/instance-id"},
		{"sb-1", "/latest/meta-data/iam/"},
		{"sb-1", "/latest/meta-data/iam/security-credentials/"},
		{"sb-1", "/latest/meta-data/spot/instance-action"},
		{"sb-1", "/latest/meta-data/tags/instance/Name"}, // tags not enabled
		{"sb-1", "/latest/user-data/extra"},
		{"sb-1", "/latest/dynamic/instance-identity/signature"},
		{"bare", "/latest/user-data"},
		{"bare", "/latest/meta-data/public-keys/"},
		{"bare", "/latest/meta-data/local-ipv4"},
		{"unknown-sandbox", "/latest/meta-data/instance-id"},
	}
	for _, c := range cases {
		t.Run(c.sandbox+c.path, func(t *testing.T) {
			res := hs.do(c.sandbox, http.MethodGet, c.path)
			if res.status != http.StatusNotFound {
				t.Fatalf("status %d %q, want 404", res.status, res.body)
			}
			if ct := res.header.Get("Content-Type"); ct != "text/html" {
				t.Errorf("Content-Type %q, want text/html", ct)
			}
			if !strings.Contains(res.body, "<title>404 - Not Found</title>") || !strings.Contains(res.body, "<h1>404 - Not Found</h1>") {
				t.Errorf("body is not EC2's 404 page: %q", res.body)
			}
		})
	}
}

func TestUserDataBinarySafe(t *testing.T) {
	in := sampleInstance()
	in.UserData = make([]byte, 0, 512)
	for i := 0; i < 512; i++ {
		in.UserData = append(in.UserData, byte(i*7))
	}
	in.UserData = append(in.UserData, "\r\n\x00\xff"...)
	hs := newHarness(t, map[string]*Instance{"sb-1": in})
	res := hs.do("sb-1", http.MethodGet, "/latest/user-data")
	if res.status != http.StatusOK {
		t.Fatalf("status %d", res.status)
	}
	if res.body != string(in.UserData) {
		t.Errorf("user data changed in transit: got %d bytes, want %d", len(res.body), len(in.UserData))
	}
	if ct := res.header.Get("Content-Type"); ct != "application/octet-stream" {
		t.Errorf("Content-Type %q", ct)
	}
	// Empty but present user data is served as empty, not 404.
	in.UserData = []byte{}
	if res := hs.do("sb-1", http.MethodGet, "/latest/user-data"); res.status != http.StatusOK || res.body != "" {
		t.Errorf("empty user data: %d %q", res.status, res.body)
	}
}

func TestSpotInstanceAction(t *testing.T) {
	in := sampleInstance()
	in.Spot = true
	hs := newHarness(t, map[string]*Instance{"sb-1": in})
	if res := hs.do("sb-1", http.MethodGet, "/latest/meta-data/spot/instance-action"); res.status != http.StatusNotFound {
		t.Fatalf("before a notice: %d %q, want 404", res.status, res.body)
	}
	if res := hs.do("sb-1", http.MethodGet, "/latest/meta-data/spot/termination-time"); res.status != http.StatusNotFound {
		t.Fatalf("termination-time before a notice: %d, want 404", res.status)
	}

	for _, action := range []string{"terminate", "stop", "hibernate"} {
		t.Run(action, func(t *testing.T) {
			when := time.Date(2026, 11, 27, 23, 2, 0, 0, time.FixedZone("x", 3600))
			hs.lookup.mu.Lock()
			in.SpotAction = &SpotAction{Action: action, Time: when}
			hs.lookup.mu.Unlock()
			res := hs.do("sb-1", http.MethodGet, "/latest/meta-data/spot/instance-action")
			if res.status != http.StatusOK {
				t.Fatalf("status %d", res.status)
			}
			var doc struct{ Action, Time string }
			if err := json.Unmarshal([]byte(res.body), &doc); err != nil {
				t.Fatalf("instance-action %q: %v", res.body, err)
			}
			if doc.Action != action || doc.Time != "2026-11-27T22:02:00Z" {
				t.Errorf("instance-action %+v", doc)
			}
			wantList := "instance-action"
			if action != "hibernate" {
				wantList += "\ntermination-time"
			}
			if res := hs.do("sb-1", http.MethodGet, "/latest/meta-data/spot/"); res.body != wantList {
				t.Errorf("spot/ lists %q, want %q", res.body, wantList)
			}
		})
	}
	res := hs.do("sb-1", http.MethodGet, "/latest/meta-data/spot/termination-time")
	if res.status != http.StatusNotFound {
		t.Errorf("termination-time for hibernate: %d", res.status)
	}
}

func TestIdentityDocument(t *testing.T) {
	in := sampleInstance()
	hs := newHarness(t, map[string]*Instance{"sb-1": in})
	res := hs.do("sb-1", http.MethodGet, "/latest/dynamic/instance-identity/document")
	if res.status != http.StatusOK {
		t.Fatalf("status %d", res.status)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(res.body), &doc); err != nil {
		t.Fatalf("document %q: %v", res.body, err)
	}
	want := map[string]any{
		"accountId":        "123456789012",
		"architecture":     "x86_64",
		"availabilityZone": "us-east-1a",
		"imageId":          "ami-0abcdef1234567890",
		"instanceId":       "i-0123456789abcdef0",
		"instanceType":     "t3.micro",
		"pendingTime":      "2026-11-27T21:04:05Z",
		"privateIp":        "10.213.0.5",
		"region":           "us-east-1",
		"version":          "2017-09-30",
		"kernelId":         nil,
	}
	for k, v := range want {
		if got, ok := doc[k]; !ok || got != v {
			t.Errorf("%s = %v (present %v), want %v", k, got, ok, v)
		}
	}
	// EC2's layout: Jackson's pretty printer, accountId first.
	if !strings.HasPrefix(res.body, "{\n  \"accountId\" : \"123456789012\",\n  \"architecture\" : \"x86_64\",") {
		t.Errorf("layout differs from EC2's: %q", res.body)
	}
}

func TestIAMCredentials(t *testing.T) {
	expires := launch.Add(6 * time.Hour)
	calls := 0
	in := sampleInstance()
	in.IAM = &IAMProfile{
		InstanceProfileArn: "arn:aws:iam::123456789012:instance-profile/app-profile",
		InstanceProfileID:  "AIPAEXAMPLE",
		RoleName:           "app-role",
		Credentials: func(ctx context.Context) (*RoleCredentials, error) {
			calls++
			return &RoleCredentials{
				AccessKeyID: "ASIAEXAMPLE", SecretAccessKey: "secret/key+1", Token: "session-token",
				Expiration: expires, LastUpdated: launch,
			}, nil
		},
	}
	failing := sampleInstance()
	failing.IAM = &IAMProfile{RoleName: "broken", Credentials: func(context.Context) (*RoleCredentials, error) {
		return nil, fmt.Errorf("sts: %w", errBackend)
	}}
	hs := newHarness(t, map[string]*Instance{"sb-1": in, "sb-2": failing})

	if res := hs.do("sb-1", http.MethodGet, "/latest/meta-data/iam/"); res.body != "info\nsecurity-credentials/" {
		t.Errorf("iam/ lists %q", res.body)
	}
	if res := hs.do("sb-1", http.MethodGet, "/latest/meta-data/iam/security-credentials/"); res.body != "app-role" {
		t.Errorf("security-credentials/ lists %q", res.body)
	}
	res := hs.do("sb-1", http.MethodGet, "/latest/meta-data/iam/security-credentials/app-role")
	var creds map[string]string
	if err := json.Unmarshal([]byte(res.body), &creds); err != nil {
		t.Fatalf("credentials %d %q: %v", res.status, res.body, err)
	}
	wantCreds := map[string]string{
		"Code": "Success", "Type": "AWS-HMAC", "AccessKeyId": "ASIAEXAMPLE", "SecretAccessKey": "secret/key+1",
		"Token": "session-token", "Expiration": "2026-11-28T03:04:05Z", "LastUpdated": "2026-11-27T21:04:05Z",
	}
	for k, v := range wantCreds {
		if creds[k] != v {
			t.Errorf("%s = %q, want %q", k, creds[k], v)
		}
	}
	res = hs.do("sb-1", http.MethodGet, "/latest/meta-data/iam/info")
	var info map[string]string
	if err := json.Unmarshal([]byte(res.body), &info); err != nil {
		t.Fatalf("info %q: %v", res.body, err)
	}
	if info["Code"] != "Success" || info["InstanceProfileArn"] != in.IAM.InstanceProfileArn || info["InstanceProfileId"] != "AIPAEXAMPLE" {
		t.Errorf("iam/info %v", info)
	}
	if calls != 2 {
		t.Errorf("credentials hook called %d times, want once per credentials or info request (2)", calls)
	}
	if res := hs.do("sb-1", http.MethodGet, "/latest/meta-data/iam/security-credentials/other-role"); res.status != http.StatusNotFound {
		t.Errorf("another role: %d", res.status)
	}
	if res := hs.do("sb-2", http.MethodGet, "/latest/meta-data/iam/security-credentials/broken"); res.status != http.StatusInternalServerError {
		t.Errorf("failing credentials hook: %d, want 500", res.status)
	}
}

func TestHostname(t *testing.T) {
	in := sampleInstance()
	cases := []struct{ region, ip, want string }{
		{"us-east-1", "10.213.0.5", "ip-10-213-0-5.ec2.internal"},
		{"eu-west-1", "10.213.1.17", "ip-10-213-1-17.eu-west-1.compute.internal"},
		{"ap-southeast-2", "172.31.0.9", "ip-172-31-0-9.ap-southeast-2.compute.internal"},
	}
	for _, c := range cases {
		in.Region = c.region
		in.PrivateIP = mustAddr(t, c.ip)
		hs := newHarness(t, map[string]*Instance{"sb": in})
		for _, p := range []string{"hostname", "local-hostname"} {
			if res := hs.do("sb", http.MethodGet, "/latest/meta-data/"+p); res.body != c.want {
				t.Errorf("%s in %s: %q, want %q", p, c.region, res.body, c.want)
			}
		}
	}
	in.Hostname = "custom.internal"
	hs := newHarness(t, map[string]*Instance{"sb": in})
	if res := hs.do("sb", http.MethodGet, "/latest/meta-data/hostname"); res.body != "custom.internal" {
		t.Errorf("explicit hostname: %q", res.body)
	}
}

func TestMACForIsStableAndLocal(t *testing.T) {
	a, b := MACFor("i-0123456789abcdef0"), MACFor("i-0123456789abcdef1")
	if a != MACFor("i-0123456789abcdef0") {
		t.Error("MACFor is not stable")
	}
	if a == b {
		t.Errorf("two instances share MAC %s", a)
	}
	if !strings.HasPrefix(a, "0e:") || len(a) != 17 {
		t.Errorf("MAC %q is not a locally administered 6-byte address", a)
	}
}
