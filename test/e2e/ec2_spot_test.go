package e2e

import (
	"context"
	"encoding/base64"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// TestEC2SpotSDK launches a spot instance, reads its request, requests and
// cancels more, and reads the spot price history, with aws-sdk-go-v2.
func TestEC2SpotSDK(t *testing.T) {
	n := startNimbus(t, "")
	ctx := context.Background()
	client := instancesClient(n)
	ami := busyboxAMI(t, client)

	run, err := client.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(ami), InstanceType: ec2types.InstanceTypeT3Micro,
		MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		InstanceMarketOptions: &ec2types.InstanceMarketOptionsRequest{MarketType: ec2types.MarketTypeSpot,
			SpotOptions: &ec2types.SpotMarketOptions{MaxPrice: aws.String("0.05")}}})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(run.Instances[0].InstanceId)
	if run.Instances[0].InstanceLifecycle != ec2types.InstanceLifecycleTypeSpot || aws.ToString(run.Instances[0].SpotInstanceRequestId) == "" {
		t.Errorf("spot instance = lifecycle %q request %q", run.Instances[0].InstanceLifecycle, aws.ToString(run.Instances[0].SpotInstanceRequestId))
	}
	waitRunning(t, client, id)
	spotOnly, err := client.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{
		{Name: aws.String("instance-lifecycle"), Values: []string{"spot"}}}})
	if err != nil || len(spotOnly.Reservations) != 1 {
		t.Errorf("instance-lifecycle=spot = %+v, %v", spotOnly, err)
	}
	reqs, err := client.DescribeSpotInstanceRequests(ctx, &ec2.DescribeSpotInstanceRequestsInput{
		SpotInstanceRequestIds: []string{aws.ToString(run.Instances[0].SpotInstanceRequestId)}})
	if err != nil || len(reqs.SpotInstanceRequests) != 1 {
		t.Fatalf("DescribeSpotInstanceRequests = %+v, %v", reqs, err)
	}
	r := reqs.SpotInstanceRequests[0]
	if r.State != ec2types.SpotInstanceStateActive || aws.ToString(r.Status.Code) != "fulfilled" || aws.ToString(r.InstanceId) != id ||
		aws.ToString(r.SpotPrice) != "0.05" || r.Type != ec2types.SpotInstanceTypeOneTime {
		t.Errorf("spot request = %+v", r)
	}

	low, err := client.RequestSpotInstances(ctx, &ec2.RequestSpotInstancesInput{SpotPrice: aws.String("0.000001"), InstanceCount: aws.Int32(1),
		LaunchSpecification: &ec2types.RequestSpotLaunchSpecification{ImageId: aws.String(ami), InstanceType: ec2types.InstanceTypeT3Nano}})
	if err != nil || len(low.SpotInstanceRequests) != 1 || low.SpotInstanceRequests[0].State != ec2types.SpotInstanceStateOpen ||
		aws.ToString(low.SpotInstanceRequests[0].Status.Code) != "price-too-low" {
		t.Fatalf("RequestSpotInstances below the price = %+v, %v", low, err)
	}
	cancelled, err := client.CancelSpotInstanceRequests(ctx, &ec2.CancelSpotInstanceRequestsInput{
		SpotInstanceRequestIds: []string{aws.ToString(low.SpotInstanceRequests[0].SpotInstanceRequestId)}})
	if err != nil || len(cancelled.CancelledSpotInstanceRequests) != 1 ||
		cancelled.CancelledSpotInstanceRequests[0].State != ec2types.CancelSpotInstanceRequestStateCancelled {
		t.Errorf("CancelSpotInstanceRequests = %+v, %v", cancelled, err)
	}

	hist, err := client.DescribeSpotPriceHistory(ctx, &ec2.DescribeSpotPriceHistoryInput{InstanceTypes: []ec2types.InstanceType{"m5.large"},
		AvailabilityZone: aws.String("us-east-1a"), StartTime: aws.Time(time.Now().Add(-3 * time.Hour)), EndTime: aws.Time(time.Now())})
	if err != nil || len(hist.SpotPriceHistory) < 3 {
		t.Fatalf("DescribeSpotPriceHistory = %+v, %v", hist, err)
	}
	for _, p := range hist.SpotPriceHistory {
		price, err := strconv.ParseFloat(aws.ToString(p.SpotPrice), 64)
		if err != nil || price <= 0 || price >= 0.096 || p.Timestamp == nil || aws.ToString(p.AvailabilityZone) != "us-east-1a" {
			t.Errorf("price point = %+v", p)
		}
	}

	if _, err := client.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{id}}); err != nil {
		t.Fatal(err)
	}
	waitTerminated(t, client, id)
	reqs, err = client.DescribeSpotInstanceRequests(ctx, &ec2.DescribeSpotInstanceRequestsInput{Filters: []ec2types.Filter{
		{Name: aws.String("instance-id"), Values: []string{id}}}})
	if err != nil || len(reqs.SpotInstanceRequests) != 1 || reqs.SpotInstanceRequests[0].State != ec2types.SpotInstanceStateClosed ||
		aws.ToString(reqs.SpotInstanceRequests[0].Status.Code) != "instance-terminated-by-user" {
		t.Errorf("request after terminate = %+v, %v", reqs, err)
	}
}

// TestEC2SpotInterruptionAndVolumeReal runs on runc: a spot instance with an
// EBS volume writes to the volume and watches IMDS for its interruption
// notice; an on-demand launch that needs its room interrupts it; the volume
// outlives it and, attached to the running on-demand instance, shows the
// spot instance's file there without a reboot.
func TestEC2SpotInterruptionAndVolumeReal(t *testing.T) {
	requireRealSandboxes(t)
	if _, err := exec.LookPath("mkfs.ext4"); err != nil {
		t.Skip("needs mkfs.ext4 (e2fsprogs)")
	}
	// Room for one t3.micro (2 vCPUs), and a short notice.
	n := startRealNimbus(t, "", "--ec2-vcpus", "2", "--ec2-spot-warning", "3s")
	ctx := context.Background()
	client := instancesClient(n)
	ami := busyboxAMI(t, client)

	spotScript := `#!/bin/sh
echo from-the-spot-instance > /mnt/sdf/proof.txt && sync && echo volume-written
while :; do
  a=$(wget -qO- http://169.254.169.254/latest/meta-data/spot/instance-action 2>/dev/null)
  case "$a" in *terminate*) echo "NOTICE $a"; break;; esac
  sleep 0.1
done
`
	run, err := client.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(ami), InstanceType: ec2types.InstanceTypeT3Micro,
		MinCount: aws.Int32(1), MaxCount: aws.Int32(1), UserData: aws.String(base64.StdEncoding.EncodeToString([]byte(spotScript))),
		InstanceMarketOptions: &ec2types.InstanceMarketOptionsRequest{MarketType: ec2types.MarketTypeSpot},
		BlockDeviceMappings: []ec2types.BlockDeviceMapping{{DeviceName: aws.String("/dev/sdf"),
			Ebs: &ec2types.EbsBlockDevice{VolumeSize: aws.Int32(1), DeleteOnTermination: aws.Bool(false)}}}})
	if err != nil {
		t.Fatal(err)
	}
	spot := aws.ToString(run.Instances[0].InstanceId)
	waitRunning(t, client, spot)
	var volID string
	for _, m := range describeOne(t, client, spot).BlockDeviceMappings {
		if aws.ToString(m.DeviceName) == "/dev/sdf" && m.Ebs != nil {
			volID = aws.ToString(m.Ebs.VolumeId)
		}
	}
	if volID == "" {
		t.Fatalf("no /dev/sdf volume on %s", spot)
	}
	waitConsole(t, client, spot, "volume-written")

	readScript := `#!/bin/sh
until [ -f /mnt/sdg/proof.txt ]; do sleep 0.1; done
echo "READ $(cat /mnt/sdg/proof.txt)"
`
	od, err := client.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(ami), InstanceType: ec2types.InstanceTypeT3Micro,
		MinCount: aws.Int32(1), MaxCount: aws.Int32(1), UserData: aws.String(base64.StdEncoding.EncodeToString([]byte(readScript)))})
	if err != nil {
		t.Fatalf("on-demand launch that needs the spot instance's room: %v", err)
	}
	onDemand := aws.ToString(od.Instances[0].InstanceId)
	// The notice reaches the instance through IMDS before it goes.
	waitConsole(t, client, spot, `NOTICE {"action": "terminate"`)
	waitTerminated(t, client, spot)
	if r := describeOne(t, client, spot).StateReason; r == nil || aws.ToString(r.Code) != "Server.SpotInstanceTermination" {
		t.Errorf("state reason of the interrupted instance = %+v", r)
	}
	waitRunning(t, client, onDemand)

	available := func(o *ec2.VolumeAvailableWaiterOptions) {
		o.MinDelay, o.MaxDelay = 50*time.Millisecond, 200*time.Millisecond
	}
	if err := ec2.NewVolumeAvailableWaiter(client, available).Wait(ctx, &ec2.DescribeVolumesInput{VolumeIds: []string{volID}}, time.Minute); err != nil {
		t.Fatalf("the volume after its instance was interrupted: %v", err)
	}
	if _, err := client.AttachVolume(ctx, &ec2.AttachVolumeInput{VolumeId: aws.String(volID), InstanceId: aws.String(onDemand), Device: aws.String("/dev/sdg")}); err != nil {
		t.Fatal(err)
	}
	waitConsole(t, client, onDemand, "READ from-the-spot-instance")

	// Detached from the running instance: unmounted there, no reboot.
	if _, err := client.DetachVolume(ctx, &ec2.DetachVolumeInput{VolumeId: aws.String(volID)}); err != nil {
		t.Fatal(err)
	}
	if err := ec2.NewVolumeAvailableWaiter(client, available).Wait(ctx, &ec2.DescribeVolumesInput{VolumeIds: []string{volID}}, time.Minute); err != nil {
		t.Fatalf("the volume after detaching it from the running instance: %v", err)
	}
	if s := describeOne(t, client, onDemand).State.Name; s != ec2types.InstanceStateNameRunning {
		t.Errorf("instance after the detach is %s", s)
	}
	if _, err := client.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{onDemand}}); err != nil {
		t.Fatal(err)
	}
	waitTerminated(t, client, onDemand)
	if _, err := client.DeleteVolume(ctx, &ec2.DeleteVolumeInput{VolumeId: aws.String(volID)}); err != nil {
		t.Fatal(err)
	}
	if h := health(t, n); h.Sandboxes["running"] != 0 {
		t.Errorf("sandboxes left running: %v", h.Sandboxes)
	}
}
