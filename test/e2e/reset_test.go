package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// A reset in the middle of running instances leaves no sandbox, mount,
// network namespace, veth or firewall rule of theirs behind (issue 11).
func TestResetWithRunningInstances(t *testing.T) {
	requireRealSandboxes(t)
	n := startRealNimbus(t, "")
	ctx := context.Background()
	client := instancesClient(n)
	ami := busyboxAMI(t, client)
	out, err := client.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(ami), InstanceType: "t3.nano",
		MinCount: aws.Int32(3), MaxCount: aws.Int32(3)})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, i := range out.Instances {
		ids = append(ids, aws.ToString(i.InstanceId))
	}
	waitRunning(t, client, ids...)
	type hostSide struct{ NetNSPath, HostVeth, IP string }
	var sides []hostSide
	for _, id := range ids {
		var rec struct {
			Attachment struct{ NetNSPath, HostVeth, IP string }
		}
		raw, err := os.ReadFile(filepath.Join(n.DataDir, "network", "attachments", id+".json"))
		if err != nil {
			t.Fatalf("network attachment of %s: %v", id, err)
		}
		if err := json.Unmarshal(raw, &rec); err != nil || rec.Attachment.HostVeth == "" {
			t.Fatalf("attachment %s: %v", raw, err)
		}
		sides = append(sides, hostSide(rec.Attachment))
	}
	if h := health(t, n); h.Sandboxes["running"] != 3 {
		t.Fatalf("sandboxes before reset: %v", h.Sandboxes)
	}

	resp, err := http.Post(n.URL+"/_localstack/state/reset", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("reset: %d %s", resp.StatusCode, body)
	}

	if h := health(t, n); len(h.Sandboxes) != 0 {
		t.Errorf("sandboxes after reset: %v", h.Sandboxes)
	}
	desc, err := client.DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
	if err != nil || len(desc.Reservations) != 0 {
		t.Errorf("instances after reset: %+v %v", desc, err)
	}
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	nft, _ := exec.Command("nft", "list", "ruleset").CombinedOutput()
	for i, s := range sides {
		if _, err := os.Stat(s.NetNSPath); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("netns %s after reset: %v", s.NetNSPath, err)
		}
		if out, err := exec.Command("ip", "link", "show", s.HostVeth).CombinedOutput(); err == nil {
			t.Errorf("veth %s after reset: %s", s.HostVeth, out)
		}
		if strings.Contains(string(mounts), ids[i]) {
			t.Errorf("a mount of %s after reset", ids[i])
		}
		if ip := strings.Split(s.IP, "/")[0]; ip != "" && strings.Contains(string(nft), ip+" ") {
			t.Errorf("an nftables rule for %s (%s) after reset", ids[i], ip)
		}
		if _, err := os.Stat(filepath.Join(n.DataDir, "ec2", "instances", ids[i])); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("root of %s after reset: %v", ids[i], err)
		}
	}
	// nimbus goes on serving after a reset.
	if _, err := sts.NewFromConfig(n.cfg()).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
		t.Errorf("after reset: %v", err)
	}
}

// kill -9 of nimbus right after RunInstances is acknowledged, and again
// while instances run: after each restart every acknowledged instance runs,
// in exactly one sandbox, and none is lost.
func TestKill9AroundRunningInstances(t *testing.T) {
	requireRealSandboxes(t)
	n := startRealNimbus(t, "")
	ctx := context.Background()
	client := instancesClient(n)
	ami := busyboxAMI(t, client)
	out, err := client.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(ami), InstanceType: "t3.nano",
		MinCount: aws.Int32(2), MaxCount: aws.Int32(2)})
	if err != nil {
		t.Fatal(err)
	}
	n.Kill() // acknowledged, possibly before any sandbox exists
	var ids []string
	for _, i := range out.Instances {
		ids = append(ids, aws.ToString(i.InstanceId))
	}

	n2 := startRealNimbus(t, n.DataDir)
	client = instancesClient(n2)
	waitRunning(t, client, ids...)
	if h := health(t, n2); h.Sandboxes["running"] != 2 || len(h.Sandboxes) != 1 {
		t.Errorf("sandboxes after kill -9 and restart: %v (want exactly 2 running)", h.Sandboxes)
	}
	n2.Kill() // while they run

	n3 := startRealNimbus(t, n.DataDir)
	client = instancesClient(n3)
	for _, id := range ids {
		if got := describeOne(t, client, id).State.Name; got != "running" {
			t.Errorf("%s after a second kill -9: %s", id, got)
		}
	}
	if h := health(t, n3); h.Sandboxes["running"] != 2 || len(h.Sandboxes) != 1 {
		t.Errorf("sandboxes after the second restart: %v (want the same 2, adopted)", h.Sandboxes)
	}
	if _, err := client.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: ids}); err != nil {
		t.Fatal(err)
	}
	waitTerminated(t, client, ids...)
	if h := health(t, n3); len(h.Sandboxes) != 0 {
		t.Errorf("sandboxes after terminate: %v", h.Sandboxes)
	}
}
