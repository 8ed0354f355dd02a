package e2e

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// TestEC2VolumesSDK drives EBS with aws-sdk-go-v2 and its waiters: create,
// describe with filters, attach to an instance, the errors of a volume in
// use, forced detach, snapshot, volume from snapshot, delete.
func TestEC2VolumesSDK(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("volumes are mounted through loop devices: needs root")
	}
	if _, err := exec.LookPath("mkfs.ext4"); err != nil {
		t.Skip("needs mkfs.ext4 (e2fsprogs)")
	}
	n := startNimbus(t, "")
	ctx := context.Background()
	client := instancesClient(n)
	ami := busyboxAMI(t, client)
	fast := func(o *ec2.VolumeAvailableWaiterOptions) {
		o.MinDelay, o.MaxDelay = 50*time.Millisecond, 200*time.Millisecond
	}

	_, err := client.CreateVolume(ctx, &ec2.CreateVolumeInput{Size: aws.Int32(1)})
	if code, _ := apiCode(t, err); code != "MissingParameter" {
		t.Errorf("CreateVolume without a zone: %s", code)
	}
	_, err = client.CreateVolume(ctx, &ec2.CreateVolumeInput{AvailabilityZone: aws.String("us-east-1a"), Size: aws.Int32(20000)})
	if code, _ := apiCode(t, err); code != "InvalidParameterValue" {
		t.Errorf("CreateVolume 20000 GiB gp2: %s", code)
	}
	vol, err := client.CreateVolume(ctx, &ec2.CreateVolumeInput{AvailabilityZone: aws.String("us-east-1a"), Size: aws.Int32(1),
		VolumeType: ec2types.VolumeTypeGp3, TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeVolume,
			Tags: []ec2types.Tag{{Key: aws.String("Name"), Value: aws.String("e2e")}}}}})
	if err != nil {
		t.Fatal(err)
	}
	volID := aws.ToString(vol.VolumeId)
	if vol.State != ec2types.VolumeStateCreating || aws.ToInt32(vol.Iops) != 3000 || aws.ToInt32(vol.Throughput) != 125 || vol.CreateTime == nil {
		t.Errorf("CreateVolume = %+v", vol)
	}
	if err := ec2.NewVolumeAvailableWaiter(client, fast).Wait(ctx, &ec2.DescribeVolumesInput{VolumeIds: []string{volID}}, time.Minute); err != nil {
		t.Fatalf("wait available: %v", err)
	}
	tagged, err := client.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{Filters: []ec2types.Filter{
		{Name: aws.String("tag:Name"), Values: []string{"e2e"}}, {Name: aws.String("status"), Values: []string{"available"}}}})
	if err != nil || len(tagged.Volumes) != 1 || aws.ToString(tagged.Volumes[0].VolumeId) != volID {
		t.Fatalf("DescribeVolumes by tag = %+v, %v", tagged, err)
	}

	run, err := client.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(ami), MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		Placement: &ec2types.Placement{AvailabilityZone: aws.String("us-east-1a")}})
	if err != nil {
		t.Fatal(err)
	}
	inst := aws.ToString(run.Instances[0].InstanceId)
	waitRunning(t, client, inst)
	att, err := client.AttachVolume(ctx, &ec2.AttachVolumeInput{VolumeId: aws.String(volID), InstanceId: aws.String(inst), Device: aws.String("/dev/sdf")})
	if err != nil || att.State != ec2types.VolumeAttachmentStateAttaching || aws.ToString(att.Device) != "/dev/sdf" {
		t.Fatalf("AttachVolume = %+v, %v", att, err)
	}
	if err := ec2.NewVolumeInUseWaiter(client, func(o *ec2.VolumeInUseWaiterOptions) {
		o.MinDelay, o.MaxDelay = 50*time.Millisecond, 200*time.Millisecond
	}).Wait(ctx, &ec2.DescribeVolumesInput{VolumeIds: []string{volID}}, time.Minute); err != nil {
		t.Fatalf("wait in-use: %v", err)
	}
	byInstance, err := client.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{Filters: []ec2types.Filter{
		{Name: aws.String("attachment.instance-id"), Values: []string{inst}}}})
	if err != nil || len(byInstance.Volumes) != 2 { // the root volume and ours
		t.Errorf("volumes of %s = %+v, %v", inst, byInstance, err)
	}
	_, err = client.DeleteVolume(ctx, &ec2.DeleteVolumeInput{VolumeId: aws.String(volID)})
	if code, _ := apiCode(t, err); code != "VolumeInUse" {
		t.Errorf("DeleteVolume while attached: %s", code)
	}
	if d := describeOne(t, client, inst); len(d.BlockDeviceMappings) != 2 || aws.ToString(d.BlockDeviceMappings[1].Ebs.VolumeId) != volID {
		t.Errorf("BlockDeviceMappings = %+v", d.BlockDeviceMappings)
	}

	snap, err := client.CreateSnapshot(ctx, &ec2.CreateSnapshotInput{VolumeId: aws.String(volID), Description: aws.String("e2e")})
	if err != nil {
		t.Fatal(err)
	}
	if err := ec2.NewSnapshotCompletedWaiter(client, func(o *ec2.SnapshotCompletedWaiterOptions) {
		o.MinDelay, o.MaxDelay = 50*time.Millisecond, 200*time.Millisecond
	}).Wait(ctx, &ec2.DescribeSnapshotsInput{SnapshotIds: []string{aws.ToString(snap.SnapshotId)}}, time.Minute); err != nil {
		t.Fatalf("wait snapshot completed: %v", err)
	}
	restored, err := client.CreateVolume(ctx, &ec2.CreateVolumeInput{AvailabilityZone: aws.String("us-east-1a"), SnapshotId: snap.SnapshotId})
	if err != nil || aws.ToInt32(restored.Size) != 1 || aws.ToString(restored.SnapshotId) != aws.ToString(snap.SnapshotId) {
		t.Fatalf("CreateVolume from snapshot = %+v, %v", restored, err)
	}

	if err := ec2.NewVolumeAvailableWaiter(client, fast).Wait(ctx, &ec2.DescribeVolumesInput{VolumeIds: []string{aws.ToString(restored.VolumeId)}}, time.Minute); err != nil {
		t.Fatalf("wait restored available: %v", err)
	}
	mod, err := client.ModifyVolume(ctx, &ec2.ModifyVolumeInput{VolumeId: restored.VolumeId, VolumeType: ec2types.VolumeTypeIo1,
		Iops: aws.Int32(200), Size: aws.Int32(4)})
	if err != nil || mod.VolumeModification.ModificationState != ec2types.VolumeModificationStateOptimizing ||
		mod.VolumeModification.TargetVolumeType != ec2types.VolumeTypeIo1 || aws.ToInt32(mod.VolumeModification.TargetSize) != 4 {
		t.Fatalf("ModifyVolume = %+v, %v", mod, err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		d, err := client.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{VolumeIds: []string{aws.ToString(restored.VolumeId)}})
		if err == nil && aws.ToInt32(d.Volumes[0].Size) == 4 && d.Volumes[0].VolumeType == ec2types.VolumeTypeIo1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("volume not grown: %+v, %v", d, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := client.DetachVolume(ctx, &ec2.DetachVolumeInput{VolumeId: aws.String(volID), Force: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	if err := ec2.NewVolumeAvailableWaiter(client, fast).Wait(ctx, &ec2.DescribeVolumesInput{VolumeIds: []string{volID}}, time.Minute); err != nil {
		t.Fatalf("wait available after detach: %v", err)
	}
	for _, id := range []string{volID, aws.ToString(restored.VolumeId)} {
		if err := ec2.NewVolumeAvailableWaiter(client, fast).Wait(ctx, &ec2.DescribeVolumesInput{VolumeIds: []string{id}}, time.Minute); err != nil {
			t.Fatalf("wait available %s: %v", id, err)
		}
		if _, err := client.DeleteVolume(ctx, &ec2.DeleteVolumeInput{VolumeId: aws.String(id)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := ec2.NewVolumeDeletedWaiter(client, func(o *ec2.VolumeDeletedWaiterOptions) {
		o.MinDelay, o.MaxDelay = 50*time.Millisecond, 200*time.Millisecond
	}).Wait(ctx, &ec2.DescribeVolumesInput{VolumeIds: []string{volID}}, time.Minute); err != nil {
		t.Errorf("wait deleted: %v", err)
	}
	if _, err := client.DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: snap.SnapshotId}); err != nil {
		t.Error(err)
	}
	if _, err := client.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{inst}}); err != nil {
		t.Fatal(err)
	}
	waitTerminated(t, client, inst)

	// The CLI reads the same volumes.
	var cliOut struct {
		Volumes []struct{ VolumeId, State string }
	}
	if _, err := n.cli(t, &cliOut, "ec2", "describe-volumes", "--filters", "Name=status,Values=available,in-use"); err != nil {
		t.Fatal(err)
	}
	if len(cliOut.Volumes) != 0 {
		t.Errorf("volumes left = %+v", cliOut.Volumes)
	}
}
