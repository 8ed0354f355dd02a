package e2e

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// instancesClient is an EC2 client that retries, unlike the harness's
// default: responses over about 4 KB sometimes fail to read with "use of
// closed network connection" on a reused connection (reproduced with
// DescribeInstanceTypes too; an edge/transport issue reported separately),
// which the SDK's retryer absorbs.
func instancesClient(n *Nimbus) *ec2.Client {
	cfg := n.cfg()
	cfg.RetryMaxAttempts = 3
	return ec2.NewFromConfig(cfg)
}

// busyboxAMI finds the built-in busybox AMI.
func busyboxAMI(t *testing.T, client *ec2.Client) string {
	t.Helper()
	out, err := client.DescribeImages(context.Background(), &ec2.DescribeImagesInput{Owners: []string{"amazon"},
		Filters: []ec2types.Filter{{Name: aws.String("name"), Values: []string{"nimbus-busybox-*"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Images) == 0 {
		t.Skip("no busybox AMI: busybox-static is not installed")
	}
	return aws.ToString(out.Images[0].ImageId)
}

func describeOne(t *testing.T, client *ec2.Client, id string) ec2types.Instance {
	t.Helper()
	out, err := client.DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Reservations) != 1 || len(out.Reservations[0].Instances) != 1 {
		t.Fatalf("describe %s: %+v", id, out.Reservations)
	}
	return out.Reservations[0].Instances[0]
}

// Waiters as the SDK has them, polling fast enough for a test.
func waitRunning(t *testing.T, client *ec2.Client, ids ...string) {
	t.Helper()
	err := ec2.NewInstanceRunningWaiter(client, func(o *ec2.InstanceRunningWaiterOptions) {
		o.MinDelay, o.MaxDelay = 50*time.Millisecond, 200*time.Millisecond
	}).Wait(context.Background(), &ec2.DescribeInstancesInput{InstanceIds: ids}, 60*time.Second)
	if err != nil {
		t.Fatalf("wait running: %v", err)
	}
}

func waitStopped(t *testing.T, client *ec2.Client, ids ...string) {
	t.Helper()
	err := ec2.NewInstanceStoppedWaiter(client, func(o *ec2.InstanceStoppedWaiterOptions) {
		o.MinDelay, o.MaxDelay = 50*time.Millisecond, 200*time.Millisecond
	}).Wait(context.Background(), &ec2.DescribeInstancesInput{InstanceIds: ids}, 60*time.Second)
	if err != nil {
		t.Fatalf("wait stopped: %v", err)
	}
}

func waitTerminated(t *testing.T, client *ec2.Client, ids ...string) {
	t.Helper()
	err := ec2.NewInstanceTerminatedWaiter(client, func(o *ec2.InstanceTerminatedWaiterOptions) {
		o.MinDelay, o.MaxDelay = 50*time.Millisecond, 200*time.Millisecond
	}).Wait(context.Background(), &ec2.DescribeInstancesInput{InstanceIds: ids}, 60*time.Second)
	if err != nil {
		t.Fatalf("wait terminated: %v", err)
	}
}

func consoleText(t *testing.T, client *ec2.Client, id string) string {
	t.Helper()
	out, err := client.GetConsoleOutput(context.Background(), &ec2.GetConsoleOutputInput{InstanceId: aws.String(id), Latest: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	if out.Timestamp == nil || aws.ToString(out.InstanceId) != id {
		t.Errorf("GetConsoleOutput = %+v", out)
	}
	raw, err := base64.StdEncoding.DecodeString(aws.ToString(out.Output))
	if err != nil {
		t.Fatalf("console output is not base64: %v", err)
	}
	return string(raw)
}

func TestEC2InstancesSDK(t *testing.T) {
	n := startNimbus(t, "")
	ctx := context.Background()
	client := instancesClient(n)
	ami := busyboxAMI(t, client)

	if _, err := client.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(ami), MinCount: aws.Int32(1),
		MaxCount: aws.Int32(1), DryRun: aws.Bool(true)}); err == nil {
		t.Error("dry run launched")
	} else if code, _ := apiCode(t, err); code != "DryRunOperation" {
		t.Errorf("dry run: %s", code)
	}
	run, err := client.RunInstances(ctx, &ec2.RunInstancesInput{
		ImageId: aws.String(ami), InstanceType: ec2types.InstanceTypeT3Small, MinCount: aws.Int32(2), MaxCount: aws.Int32(2),
		UserData:    aws.String(base64.StdEncoding.EncodeToString([]byte("#!/bin/sh\necho hi\n"))),
		ClientToken: aws.String("sdk-token"),
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeInstance,
			Tags: []ec2types.Tag{{Key: aws.String("Name"), Value: aws.String("sdk")}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Instances) != 2 || run.Instances[0].State.Name != ec2types.InstanceStateNamePending ||
		aws.ToInt32(run.Instances[0].State.Code) != 0 || aws.ToString(run.OwnerId) != "000000000000" {
		t.Fatalf("RunInstances = %+v", run)
	}
	ids := []string{aws.ToString(run.Instances[0].InstanceId), aws.ToString(run.Instances[1].InstanceId)}
	// The same client token gives the same reservation back.
	again, err := client.RunInstances(ctx, &ec2.RunInstancesInput{
		ImageId: aws.String(ami), InstanceType: ec2types.InstanceTypeT3Small, MinCount: aws.Int32(2), MaxCount: aws.Int32(2),
		UserData:    aws.String(base64.StdEncoding.EncodeToString([]byte("#!/bin/sh\necho hi\n"))),
		ClientToken: aws.String("sdk-token"),
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeInstance,
			Tags: []ec2types.Tag{{Key: aws.String("Name"), Value: aws.String("sdk")}}}},
	})
	if err != nil || aws.ToString(again.ReservationId) != aws.ToString(run.ReservationId) {
		t.Errorf("idempotent retry = %v, %v", again, err)
	}
	waitRunning(t, client, ids...)

	inst := describeOne(t, client, ids[0])
	if inst.InstanceType != ec2types.InstanceTypeT3Small || aws.ToString(inst.PrivateIpAddress) == "" ||
		len(inst.NetworkInterfaces) != 1 || len(inst.SecurityGroups) != 1 || aws.ToString(inst.Placement.AvailabilityZone) != "us-east-1a" ||
		inst.RootDeviceType != ec2types.DeviceTypeEbs || aws.ToString(inst.RootDeviceName) != "/dev/xvda" ||
		aws.ToString(inst.PlatformDetails) != "Linux/UNIX" || aws.ToString(inst.UsageOperation) != "RunInstances" ||
		inst.LaunchTime == nil || aws.ToInt32(inst.CpuOptions.CoreCount) != 1 || inst.MetadataOptions.HttpTokens != ec2types.HttpTokensStateOptional {
		t.Errorf("running instance = %+v", inst)
	}
	filtered, err := client.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{
		{Name: aws.String("tag:Name"), Values: []string{"sdk"}},
		{Name: aws.String("instance-state-name"), Values: []string{"running"}},
		{Name: aws.String("instance-type"), Values: []string{"t3.small"}},
	}})
	if err != nil || len(filtered.Reservations) != 1 || len(filtered.Reservations[0].Instances) != 2 {
		t.Errorf("filtered describe = %+v, %v", filtered, err)
	}
	status, err := client.DescribeInstanceStatus(ctx, &ec2.DescribeInstanceStatusInput{InstanceIds: ids})
	if err != nil || len(status.InstanceStatuses) != 2 || status.InstanceStatuses[0].InstanceStatus.Status != ec2types.SummaryStatusOk {
		t.Errorf("DescribeInstanceStatus = %+v, %v", status, err)
	}
	if c := consoleText(t, client, ids[0]); !strings.Contains(c, "nimbus-init: instance "+ids[0]) {
		t.Errorf("console = %q", c)
	}

	if _, err := client.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: ids[:1]}); err != nil {
		t.Fatal(err)
	}
	waitStopped(t, client, ids[0])
	stopped := describeOne(t, client, ids[0])
	if aws.ToString(stopped.StateReason.Code) != "Client.UserInitiatedShutdown" || !strings.HasPrefix(aws.ToString(stopped.StateTransitionReason), "User initiated (") {
		t.Errorf("stopped instance reason %+v %q", stopped.StateReason, aws.ToString(stopped.StateTransitionReason))
	}
	_, err = client.RebootInstances(ctx, &ec2.RebootInstancesInput{InstanceIds: ids[:1]})
	if code, _ := apiCode(t, err); code != "IncorrectInstanceState" {
		t.Errorf("reboot of a stopped instance: %s", code)
	}
	if _, err := client.StartInstances(ctx, &ec2.StartInstancesInput{InstanceIds: ids[:1]}); err != nil {
		t.Fatal(err)
	}
	waitRunning(t, client, ids[0])
	if _, err := client.RebootInstances(ctx, &ec2.RebootInstancesInput{InstanceIds: ids}); err != nil {
		t.Fatal(err)
	}
	// Termination protection through ModifyInstanceAttribute.
	if _, err := client.ModifyInstanceAttribute(ctx, &ec2.ModifyInstanceAttributeInput{InstanceId: aws.String(ids[1]),
		DisableApiTermination: &ec2types.AttributeBooleanValue{Value: aws.Bool(true)}}); err != nil {
		t.Fatal(err)
	}
	_, err = client.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: ids})
	if code, _ := apiCode(t, err); code != "OperationNotPermitted" {
		t.Errorf("terminate a protected instance: %s", code)
	}
	attr, err := client.DescribeInstanceAttribute(ctx, &ec2.DescribeInstanceAttributeInput{InstanceId: aws.String(ids[1]),
		Attribute: ec2types.InstanceAttributeNameDisableApiTermination})
	if err != nil || !aws.ToBool(attr.DisableApiTermination.Value) {
		t.Errorf("DescribeInstanceAttribute = %+v, %v", attr, err)
	}
	if _, err := client.ModifyInstanceAttribute(ctx, &ec2.ModifyInstanceAttributeInput{InstanceId: aws.String(ids[1]),
		DisableApiTermination: &ec2types.AttributeBooleanValue{Value: aws.Bool(false)}}); err != nil {
		t.Fatal(err)
	}
	term, err := client.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: ids})
	if err != nil || len(term.TerminatingInstances) != 2 || term.TerminatingInstances[0].CurrentState.Name != ec2types.InstanceStateNameShuttingDown {
		t.Fatalf("terminate = %+v, %v", term, err)
	}
	waitTerminated(t, client, ids...)
	_, err = client.StartInstances(ctx, &ec2.StartInstancesInput{InstanceIds: ids[:1]})
	if code, msg := apiCode(t, err); code != "IncorrectInstanceState" || !strings.Contains(msg, ids[0]) {
		t.Errorf("start of a terminated instance: %s %s", code, msg)
	}
	_, err = client.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{"i-0123456789abcdef0"}})
	if code, _ := apiCode(t, err); code != "InvalidInstanceID.NotFound" {
		t.Errorf("describe unknown: %s", code)
	}
	_, err = client.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{"i-nope"}})
	if code, _ := apiCode(t, err); code != "InvalidInstanceID.Malformed" {
		t.Errorf("describe malformed: %s", code)
	}
	if h := health(t, n); h.Sandboxes["running"] != 0 {
		t.Errorf("sandboxes after terminate: %v", h.Sandboxes)
	}
}

func TestEC2InstancesCLI(t *testing.T) {
	n := startNimbus(t, "")
	ami := busyboxAMI(t, instancesClient(n))
	var run struct {
		Instances []struct {
			InstanceId string
			State      struct{ Name string }
		}
	}
	if _, err := n.cli(t, &run, "ec2", "run-instances", "--image-id", ami, "--count", "1", "--instance-type", "t3.micro",
		"--tag-specifications", "ResourceType=instance,Tags=[{Key=Name,Value=cli}]"); err != nil {
		t.Fatal(err)
	}
	if len(run.Instances) != 1 || run.Instances[0].State.Name != "pending" {
		t.Fatalf("run-instances = %+v", run)
	}
	id := run.Instances[0].InstanceId
	mustCLI := func(args ...string) {
		t.Helper()
		if _, err := n.cli(t, nil, args...); err != nil {
			t.Fatal(err)
		}
	}
	mustCLI("ec2", "wait", "instance-running", "--instance-ids", id)
	var desc struct {
		Reservations []struct {
			Instances []struct {
				InstanceId, PrivateIpAddress string
				State                        struct{ Name string }
				Tags                         []struct{ Key, Value string }
			}
		}
	}
	if _, err := n.cli(t, &desc, "ec2", "describe-instances", "--filters", "Name=tag:Name,Values=cli"); err != nil {
		t.Fatal(err)
	}
	if len(desc.Reservations) != 1 || desc.Reservations[0].Instances[0].InstanceId != id ||
		desc.Reservations[0].Instances[0].State.Name != "running" || desc.Reservations[0].Instances[0].PrivateIpAddress == "" {
		t.Errorf("describe-instances = %+v", desc)
	}
	mustCLI("ec2", "stop-instances", "--instance-ids", id)
	mustCLI("ec2", "wait", "instance-stopped", "--instance-ids", id)
	mustCLI("ec2", "start-instances", "--instance-ids", id)
	mustCLI("ec2", "wait", "instance-running", "--instance-ids", id)
	mustCLI("ec2", "terminate-instances", "--instance-ids", id)
	mustCLI("ec2", "wait", "instance-terminated", "--instance-ids", id)
	stderr, err := n.cli(t, nil, "ec2", "stop-instances", "--instance-ids", id)
	if err == nil || !strings.Contains(stderr, "IncorrectInstanceState") {
		t.Errorf("stop of a terminated instance: %v %s", err, stderr)
	}
}

type healthInfo struct {
	Sandboxes map[string]int
}

func health(t *testing.T, n *Nimbus) healthInfo {
	t.Helper()
	resp, err := http.Get(n.URL + "/_nimbus/health")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Drivers struct {
			Sandboxes map[string]int `json:"sandboxes"`
		} `json:"drivers"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	return healthInfo{Sandboxes: doc.Drivers.Sandboxes}
}

// requireRealSandboxes skips unless this host can run instances for real:
// root, runc, the CNI plugins, tini-static and busybox-static.
func requireRealSandboxes(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("real instances need root")
	}
	if _, err := exec.LookPath("runc"); err != nil {
		t.Skip("real instances need runc (apt-get install runc)")
	}
	for _, f := range []string{"/usr/lib/cni/bridge", "/usr/lib/cni/host-local", "/usr/bin/tini-static", "/bin/busybox"} {
		if _, err := os.Stat(f); err != nil {
			t.Skipf("real instances need %s (containernetworking-plugins, tini, busybox-static)", f)
		}
	}
}

// startRealNimbus starts nimbus with the oci driver (the flag overrides the
// harness's NIMBUS_DRIVER=fake) and, should the test fail half-way, resets
// it before it stops so no sandbox outlives the test.
func startRealNimbus(t *testing.T, dataDir string, args ...string) *Nimbus {
	t.Helper()
	n := startNimbus(t, dataDir, append([]string{"--driver", "oci"}, args...)...)
	t.Cleanup(func() {
		if n.cmd.ProcessState != nil {
			return
		}
		resp, err := http.Post(n.URL+"/_nimbus/reset", "application/json", nil)
		if err != nil {
			t.Logf("reset after the test: %v", err)
			return
		}
		resp.Body.Close()
	})
	return n
}

// reachable reports whether a TCP connection to addr opens within a second.
func reachable(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

func TestEC2InstancesReal(t *testing.T) {
	requireRealSandboxes(t)
	n := startRealNimbus(t, "")
	ctx := context.Background()
	client := instancesClient(n)
	ami := busyboxAMI(t, client)

	var tok [6]byte
	rand.Read(tok[:])
	marker := "USERDATA-" + hex.EncodeToString(tok[:])
	userData := fmt.Sprintf(`#!/bin/sh
echo "%s ran"
echo persisted-%s > /root/userdata-file
mkdir -p /srv && echo served > /srv/index.html
busybox httpd -p 8080 -h /srv
echo "IMDS instance-id: $(wget -qO- http://169.254.169.254/latest/meta-data/instance-id)"
`, marker, marker)
	if _, err := client.CreateKeyPair(ctx, &ec2.CreateKeyPairInput{KeyName: aws.String("real"), KeyType: ec2types.KeyTypeEd25519}); err != nil {
		t.Fatal(err)
	}
	run, err := client.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(ami), MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		KeyName: aws.String("real"), UserData: aws.String(base64.StdEncoding.EncodeToString([]byte(userData)))})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(run.Instances[0].InstanceId)
	waitRunning(t, client, id)
	inst := describeOne(t, client, id)
	ip := aws.ToString(inst.PrivateIpAddress)
	if !strings.HasPrefix(ip, "10.213.") {
		t.Fatalf("private IP %q is not on nimbus0", ip)
	}
	var console string
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		console = consoleText(t, client, id)
		if strings.Contains(console, "Cloud-init v. nimbus finished") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(console, marker+" ran") {
		t.Errorf("user data did not run; console:\n%s", console)
	}
	if !strings.Contains(console, "IMDS instance-id: "+id) {
		t.Errorf("IMDS from inside did not give the instance ID; console:\n%s", console)
	}
	keys, err := os.ReadFile(filepath.Join(n.DataDir, "ec2", "instances", id, "root", "upper", "root", ".ssh", "authorized_keys"))
	if err != nil || !strings.HasPrefix(string(keys), "ssh-ed25519 ") || !strings.HasSuffix(strings.TrimSpace(string(keys)), " real") {
		t.Errorf("root's authorized_keys in the instance = %q, %v", keys, err)
	}

	// The default group admits nothing from the host until port 8080 is
	// authorized.
	if reachable(ip + ":8080") {
		t.Error("port 8080 reachable before any rule allows it")
	}
	sgs, err := client.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupNames: []string{"default"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: sgs.SecurityGroups[0].GroupId,
		IpPermissions: []ec2types.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(8080), ToPort: aws.Int32(8080),
			IpRanges: []ec2types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}}}}); err != nil {
		t.Fatal(err)
	}
	httpClient := &http.Client{Timeout: 3 * time.Second}
	resp, err := httpClient.Get("http://" + ip + ":8080/")
	if err != nil {
		t.Fatalf("port 8080 after authorizing it: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.TrimSpace(string(body)) != "served" {
		t.Errorf("httpd answered %q", body)
	}
	if reachable(ip + ":8081") {
		t.Error("port 8081 reachable though only 8080 is authorized")
	}

	// The host side of the instance, to check it is gone after terminate.
	var rec struct {
		Attachment struct{ NetNSPath, HostVeth string }
	}
	raw, err := os.ReadFile(filepath.Join(n.DataDir, "network", "attachments", id+".json"))
	if err != nil {
		t.Fatalf("network attachment of the instance: %v", err)
	}
	if err := json.Unmarshal(raw, &rec); err != nil || rec.Attachment.NetNSPath == "" || rec.Attachment.HostVeth == "" {
		t.Fatalf("attachment %s: %v", raw, err)
	}
	att := rec.Attachment

	// A nimbus restart keeps the instance running: same sandbox, httpd up.
	n.Stop()
	n = startRealNimbus(t, n.DataDir)
	client = instancesClient(n)
	if s := describeOne(t, client, id).State.Name; s != ec2types.InstanceStateNameRunning {
		t.Errorf("after a nimbus restart the instance is %s", s)
	}
	if !reachable(ip + ":8080") {
		t.Error("instance unreachable after a nimbus restart")
	}

	// Stop and start: the root survives, the user data does not run again.
	if _, err := client.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: []string{id}}); err != nil {
		t.Fatal(err)
	}
	waitStopped(t, client, id)
	if h := health(t, n); h.Sandboxes["running"] != 0 {
		t.Errorf("a stopped instance holds a sandbox: %v", h.Sandboxes)
	}
	if _, err := client.StartInstances(ctx, &ec2.StartInstancesInput{InstanceIds: []string{id}}); err != nil {
		t.Fatal(err)
	}
	waitRunning(t, client, id)
	deadline = time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		console = consoleText(t, client, id)
		if strings.Count(console, "Cloud-init v. nimbus finished") == 2 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if strings.Count(console, "Cloud-init v. nimbus finished") != 2 || strings.Count(console, marker+" ran") != 1 {
		t.Errorf("after stop/start the console should show two boots and one user-data run:\n%s", console)
	}
	kept, err := os.ReadFile(filepath.Join(n.DataDir, "ec2", "instances", id, "root", "upper", "root", "userdata-file"))
	if err != nil || strings.TrimSpace(string(kept)) != "persisted-"+marker {
		t.Errorf("file written by user data after stop/start: %q, %v", kept, err)
	}
	if got := aws.ToString(describeOne(t, client, id).PrivateIpAddress); got != ip {
		t.Errorf("private IP changed across stop/start: %s then %s", ip, got)
	}

	if _, err := client.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{id}}); err != nil {
		t.Fatal(err)
	}
	waitTerminated(t, client, id)
	if h := health(t, n); len(h.Sandboxes) != 0 {
		t.Errorf("sandboxes after terminate: %v", h.Sandboxes)
	}
	if _, err := os.Stat(filepath.Join(n.DataDir, "ec2", "instances", id)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("root volume after terminate: %v", err)
	}
	if _, err := os.Stat(att.NetNSPath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("network namespace %s after terminate: %v", att.NetNSPath, err)
	}
	if out, err := exec.Command("ip", "link", "show", att.HostVeth).CombinedOutput(); err == nil {
		t.Errorf("veth %s after terminate: %s", att.HostVeth, out)
	}
}
