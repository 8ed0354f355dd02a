package ec2

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nimbus-dev/nimbus/internal/identity"
	"github.com/nimbus-dev/nimbus/internal/imds"
	"github.com/nimbus-dev/nimbus/internal/network"
	"github.com/nimbus-dev/nimbus/internal/region"
	"github.com/nimbus-dev/nimbus/internal/service"
	"github.com/nimbus-dev/nimbus/internal/store/sqlitestore"
	"github.com/nimbus-dev/nimbus/internal/substrate"
)

// openNetworkedOCIHarness is the instance harness over runc on networks of
// its own (a private nftables table, default network and namespace
// directory, so it never touches nimbus0), with IAM for instance profiles
// and the metadata server on every network, VPC networks included.
func openNetworkedOCIHarness(t *testing.T) *instanceHarness {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: runs runc sandboxes on bridges with nftables rules")
	}
	for _, bin := range []string{"runc", "nft", "busybox"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("needs %s", bin)
		}
	}
	for _, f := range []string{"/usr/lib/cni/bridge", "/usr/lib/cni/host-local", "/usr/lib/cni/loopback", "/usr/bin/tini-static"} {
		if _, err := os.Stat(f); err != nil {
			t.Skipf("needs %s", f)
		}
	}
	h := &instanceHarness{t: t, st: sqlitestore.OpenTemp(t), dataDir: t.TempDir()}
	h.ctx = identity.With(context.Background(), &identity.Call{Region: "us-east-1",
		Principal: &identity.Principal{Type: identity.Root, Account: testAccount}})
	suffix := fmt.Sprintf("%06x", time.Now().UnixNano()&0xffffff)
	name := "nbv" + suffix
	netnsDir := filepath.Join("/run/nimbus", "ec2-vpc-test-"+suffix, "netns")
	host, err := substrate.Open(context.Background(), substrate.Options{DataDir: h.dataDir, Store: h.st, Driver: substrate.DriverOCI,
		Runtime: "runc", Network: network.Options{NetNSDir: netnsDir, TableName: name, MetadataPort: 20000 + int(time.Now().UnixNano()%20000),
			Networks: []network.Network{{Name: name, Subnet: netip.MustParsePrefix(fmt.Sprintf("10.232.%d.0/24", time.Now().UnixNano()%250))}}}})
	if err != nil {
		t.Fatal(err)
	}
	if host.Network() == nil {
		host.Close()
		t.Skip("the substrate came up without networking")
	}
	h.host = host
	h.profiles = iamWithProfile(t, h)
	regions, _ := region.NewCatalog(nil, false)
	svc, err := service.New("ec2")
	if err != nil {
		t.Fatal(err)
	}
	h.e = &EC2{store: h.st, regions: regions, host: host, profiles: h.profiles}
	h.e.setCapacity(Capacity{VCPUs: 64, MemoryMiB: 1 << 16}, 0)
	h.e.registerCatalog(svc)
	h.e.registerInstances(svc)
	h.e.registerVPCs(svc)
	h.ctrl, err = NewInstanceController(InstanceControllerOptions{Store: h.st, Regions: regions, Host: host,
		DataDir: h.dataDir, StopGrace: time.Second, InstanceProfiles: h.profiles})
	if err != nil {
		t.Fatal(err)
	}
	metadata := network.NewMetadataServer(host.Network(), imds.New(h.ctrl))
	if err := metadata.ListenAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.ctrl.SetMetadataListener(metadata)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.ctrl.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		cctx, ccancel := context.WithTimeout(context.Background(), time.Minute)
		defer ccancel()
		metadata.Close(cctx)
		if err := host.Reset(cctx, nil); err != nil {
			t.Errorf("reset: %v", err)
		}
		if err := host.Network().Teardown(cctx); err != nil {
			t.Errorf("network teardown: %v", err)
		}
		host.Close()
		unix.Unmount(netnsDir, unix.MNT_DETACH)
		os.RemoveAll(filepath.Dir(netnsDir))
	})
	amis, err := h.e.builtinAMIs(h.ctx, "us-east-1")
	if err != nil || len(amis) == 0 {
		t.Fatalf("no busybox AMI: %v", err)
	}
	h.amiID = amis[0].ImageId
	return h
}

// httpdUserData serves "hello from <instance>" on port 8080.
const httpdUserData = "#!/bin/sh\nmkdir -p /www && cat /run/nimbus/instance-id > /www/index.html && busybox httpd -p 8080 -h /www && echo httpd-up\n"

// inInstance runs busybox wget inside an instance, bounded to two seconds.
func (h *instanceHarness) fetchFrom(id, url string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	code, err := h.host.Exec(ctx, id, []string{"busybox", "wget", "-q", "-O", "-", url}, nil, &out, &errOut)
	if err == nil && code != 0 {
		err = fmt.Errorf("wget %s exited %d: %s", url, code, errOut.String())
	}
	return out.String(), err
}

// TestVPCNetworkingOCI runs instances in two VPCs under runc: within a VPC
// security groups decide, across VPCs nothing passes whatever the groups
// say, and IMDS (with an instance profile's credentials) answers on a VPC's
// own network.
func TestVPCNetworkingOCI(t *testing.T) {
	h := openNetworkedOCIHarness(t)
	third := 160 + time.Now().UnixNano()%40
	vpcA := newVPC(t, h.e, h.ctx, fmt.Sprintf("10.%d.1.0/24", third))
	vpcB := newVPC(t, h.e, h.ctx, fmt.Sprintf("10.%d.2.0/24", third))
	subnetA := newSubnet(t, h.e, h.ctx, vpcA, fmt.Sprintf("10.%d.1.0/25", third))
	subnetB := newSubnet(t, h.e, h.ctx, vpcB, fmt.Sprintf("10.%d.2.128/25", third))
	closed, err := h.e.createSecurityGroup(h.ctx, &createSecurityGroupInput{GroupName: "closed", Description: "no ingress", VpcId: vpcA})
	if err != nil {
		t.Fatal(err)
	}
	openB := vpcDefaultGroupID(testAccount, "us-east-1", vpcB)
	port := 8080
	if _, err := h.e.authorizeSecurityGroupIngress(h.ctx, &changeRulesInput{GroupId: openB, IpPermissions: []ipPermission{
		{IpProtocol: "tcp", FromPort: &port, ToPort: &port, IpRanges: []ipRange{{CidrIp: "0.0.0.0/0"}}}}}); err != nil {
		t.Fatal(err)
	}
	// Both VPCs get egress, so what keeps them apart below is isolation,
	// not a missing internet gateway.
	for _, vpcID := range []string{vpcA, vpcB} {
		gw, err := h.e.createInternetGateway(h.ctx, &createInternetGatewayInput{})
		if err != nil {
			t.Fatal(err)
		}
		igw := gw.InternetGateway.InternetGatewayId
		if _, err := h.e.attachInternetGateway(h.ctx, &attachInternetGatewayInput{InternetGatewayId: igw, VpcId: vpcID}); err != nil {
			t.Fatal(err)
		}
		main := routeTablesOf(t, h.e, h.ctx, vpcID)[0].RouteTableId
		if _, err := h.e.createRoute(h.ctx, &createRouteInput{RouteTableId: main, DestinationCidrBlock: "0.0.0.0/0", GatewayId: igw}); err != nil {
			t.Fatal(err)
		}
	}
	userData := base64.StdEncoding.EncodeToString([]byte(httpdUserData))
	launch := func(subnet string, groups []string, profile *iamInstanceProfileSpecification) instanceView {
		t.Helper()
		return h.run(&runInstancesInput{SubnetId: subnet, SecurityGroupIds: groups, UserData: userData, IamInstanceProfile: profile}).Instances[0]
	}
	a1 := launch(subnetA, nil, &iamInstanceProfileSpecification{Name: "app-profile"})
	a2 := launch(subnetA, nil, nil)
	a3 := launch(subnetA, []string{closed.GroupId}, nil)
	b1 := launch(subnetB, nil, nil)
	for i, inst := range []instanceView{a1, a2, a3, b1} {
		v := h.waitState(inst.InstanceId, "running")
		subnet := []string{subnetA, subnetA, subnetA, subnetB}[i]
		want := []string{fmt.Sprintf("10.%d.1.%d", third, 4+i), fmt.Sprintf("10.%d.1.%d", third, 4+i),
			fmt.Sprintf("10.%d.1.%d", third, 4+i), fmt.Sprintf("10.%d.2.132", third)}[i]
		if v.PrivateIpAddress != want || v.SubnetId != subnet {
			t.Errorf("instance %d: %s in %s, want %s in %s", i, v.PrivateIpAddress, v.SubnetId, want, subnet)
		}
		waitFor(t, "httpd in "+inst.InstanceId, func() bool { return strings.Contains(h.console(inst.InstanceId), "httpd-up") })
	}
	url := func(v instanceView) string { return "http://" + v.PrivateIpAddress + ":8080/" }

	// The VPC's default group admits its own members.
	var body string
	eventuallyOK := func(what string, f func() error) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			err := f()
			if err == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %v", what, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	eventuallyOK("a1 to a2 in one VPC", func() error {
		var err error
		body, err = h.fetchFrom(a1.InstanceId, url(a2))
		return err
	})
	if strings.TrimSpace(body) != a2.InstanceId {
		t.Errorf("a2 answered %q", body)
	}
	// b1 is up and open to everyone (the host reaches it)...
	eventuallyOK("host to b1", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, "busybox", "wget", "-q", "-O", "-", url(b1)).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	})
	// ...but not from another VPC; and a group without ingress keeps a3 shut.
	if out, err := h.fetchFrom(a1.InstanceId, url(b1)); err == nil {
		t.Errorf("an instance of %s reached one of %s: %q", vpcA, vpcB, out)
	}
	if out, err := h.fetchFrom(b1.InstanceId, url(a2)); err == nil {
		t.Errorf("an instance of %s reached one of %s: %q", vpcB, vpcA, out)
	}
	if out, err := h.fetchFrom(a1.InstanceId, url(a3)); err == nil {
		t.Errorf("a group without ingress let a1 in: %q", out)
	}

	// IMDS on the VPC's network, with the profile's role credentials.
	const md = "http://169.254.169.254/latest/meta-data/"
	var ip string
	eventuallyOK("IMDS from a1", func() error {
		var err error
		ip, err = h.fetchFrom(a1.InstanceId, md+"local-ipv4")
		return err
	})
	if ip != a1.PrivateIpAddress {
		t.Errorf("IMDS local-ipv4 = %q, want %s", ip, a1.PrivateIpAddress)
	}
	if vpc, err := h.fetchFrom(a1.InstanceId, md+"network/interfaces/macs/"+a1.NetworkInterfaces[0].MacAddress+"/vpc-ipv4-cidr-block"); err != nil || vpc != fmt.Sprintf("10.%d.1.0/24", third) {
		t.Errorf("IMDS vpc-ipv4-cidr-block = %q, %v", vpc, err)
	}
	roles, err := h.fetchFrom(a1.InstanceId, md+"iam/security-credentials/")
	if err != nil || strings.TrimSpace(roles) != "app" {
		t.Fatalf("IMDS roles = %q, %v", roles, err)
	}
	creds, err := h.fetchFrom(a1.InstanceId, md+"iam/security-credentials/app")
	if err != nil || !strings.Contains(creds, `"AccessKeyId" : "ASIA`) || !strings.Contains(creds, `"Code" : "Success"`) {
		t.Fatalf("IMDS credentials = %q, %v", creds, err)
	}
	if _, err := h.fetchFrom(a2.InstanceId, md+"iam/security-credentials/"); err == nil {
		t.Error("an instance without a profile has iam/security-credentials")
	}

	// The VPC's egress follows its route: without it, nothing leaves the
	// VPC's bridge (the host's default network's gateway stands in for the
	// internet).
	n, err := h.host.Network().Network(vpcNetworkName(vpcA))
	if err != nil || n.NoEgress {
		t.Fatalf("network of %s = %+v, %v: want egress", vpcA, n, err)
	}
	main := routeTablesOf(t, h.e, h.ctx, vpcA)[0].RouteTableId
	if _, err := h.e.deleteRoute(h.ctx, &deleteRouteInput{RouteTableId: main, DestinationCidrBlock: "0.0.0.0/0"}); err != nil {
		t.Fatal(err)
	}
	if n, err := h.host.Network().Network(vpcNetworkName(vpcA)); err != nil || !n.NoEgress {
		t.Errorf("network of %s after its default route went = %+v, %v: want no egress", vpcA, n, err)
	}
}
