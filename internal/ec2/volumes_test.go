package ec2

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/nimbus-dev/nimbus/internal/identity"
	"github.com/nimbus-dev/nimbus/internal/region"
	"github.com/nimbus-dev/nimbus/internal/service"
	"github.com/nimbus-dev/nimbus/internal/store/sqlitestore"
)

// needVolumes skips a test that makes volume images (mkfs.ext4) or mounts
// them (root, loop devices).
func needVolumes(t *testing.T, mount bool) {
	t.Helper()
	if _, err := exec.LookPath("mkfs.ext4"); err != nil {
		t.Skip("needs mkfs.ext4 (e2fsprogs)")
	}
	if mount && os.Geteuid() != 0 {
		t.Skip("needs root to mount volumes through loop devices")
	}
}

func (h *instanceHarness) createVolume(in *createVolumeInput) volumeView {
	h.t.Helper()
	if in.AvailabilityZone == "" {
		in.AvailabilityZone = "us-east-1a"
	}
	out, err := h.e.createVolume(h.ctx, in)
	if err != nil {
		h.t.Fatalf("CreateVolume: %v", err)
	}
	return *out
}

func (h *instanceHarness) describeVolume(id string) volumeView {
	h.t.Helper()
	out, err := h.e.describeVolumes(h.ctx, &describeVolumesInput{VolumeIds: []string{id}})
	if err != nil {
		h.t.Fatalf("DescribeVolumes %s: %v", id, err)
	}
	return out.Volumes[0]
}

// waitVolume polls DescribeVolumes until the volume, and its attachment
// when attachState is not empty, reach the states asked for.
func (h *instanceHarness) waitVolume(id, state, attachState string) volumeView {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		v := h.describeVolume(id)
		got := ""
		if len(v.Attachments) > 0 {
			got = v.Attachments[0].State
		}
		if v.State == state && got == attachState {
			return v
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("volume %s is %s/%q, want %s/%q", id, v.State, got, state, attachState)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestCreateVolumeValidation(t *testing.T) {
	h := newAPIHarness(t)
	e := h.e
	cases := []struct {
		name string
		in   createVolumeInput
		code string
	}{
		{"no zone", createVolumeInput{Size: 1}, "MissingParameter"},
		{"unknown zone", createVolumeInput{AvailabilityZone: "us-east-1z", Size: 1}, "InvalidParameterValue"},
		{"no size", createVolumeInput{AvailabilityZone: "us-east-1a"}, "MissingParameter"},
		{"gp2 too large", createVolumeInput{AvailabilityZone: "us-east-1a", Size: 16385}, "InvalidParameterValue"},
		{"io1 too small", createVolumeInput{AvailabilityZone: "us-east-1a", Size: 2, VolumeType: "io1", Iops: 100}, "InvalidParameterValue"},
		{"io1 without iops", createVolumeInput{AvailabilityZone: "us-east-1a", Size: 10, VolumeType: "io1"}, "MissingParameter"},
		{"io1 iops ratio", createVolumeInput{AvailabilityZone: "us-east-1a", Size: 10, VolumeType: "io1", Iops: 1000}, "InvalidParameterValue"},
		{"gp2 with iops", createVolumeInput{AvailabilityZone: "us-east-1a", Size: 10, Iops: 300}, "InvalidParameterCombination"},
		{"gp3 throughput", createVolumeInput{AvailabilityZone: "us-east-1a", Size: 10, VolumeType: "gp3", Throughput: 2000}, "InvalidParameterValue"},
		{"st1 too small", createVolumeInput{AvailabilityZone: "us-east-1a", Size: 10, VolumeType: "st1"}, "InvalidParameterValue"},
		{"standard too large", createVolumeInput{AvailabilityZone: "us-east-1a", Size: 2000, VolumeType: "standard"}, "InvalidParameterValue"},
		{"unknown type", createVolumeInput{AvailabilityZone: "us-east-1a", Size: 10, VolumeType: "gp9"}, "InvalidParameterValue"},
		{"malformed snapshot", createVolumeInput{AvailabilityZone: "us-east-1a", SnapshotId: "snap-xyz"}, "InvalidSnapshotID.Malformed"},
		{"missing snapshot", createVolumeInput{AvailabilityZone: "us-east-1a", SnapshotId: "snap-0123456789abcdef0"}, "InvalidSnapshot.NotFound"},
		{"dry run", createVolumeInput{AvailabilityZone: "us-east-1a", Size: 1, DryRun: true}, "DryRunOperation"},
	}
	for _, tc := range cases {
		_, err := e.createVolume(h.ctx, &tc.in)
		if err == nil {
			t.Errorf("%s: accepted", tc.name)
			continue
		}
		wantErr(t, err, tc.code)
	}
	defaults := []struct {
		in                     createVolumeInput
		typ                    string
		iops, throughput, size int
	}{
		{createVolumeInput{Size: 100}, "gp2", 300, 0, 100},
		{createVolumeInput{Size: 10}, "gp2", 100, 0, 10},
		{createVolumeInput{Size: 10000}, "gp2", 16000, 0, 10000},
		{createVolumeInput{Size: 50, VolumeType: "gp3"}, "gp3", 3000, 125, 50},
		{createVolumeInput{Size: 50, VolumeType: "gp3", Iops: 6000, Throughput: 500}, "gp3", 6000, 500, 50},
		{createVolumeInput{Size: 20, VolumeType: "io2", Iops: 10000}, "io2", 10000, 0, 20},
		{createVolumeInput{Size: 500, VolumeType: "sc1"}, "sc1", 0, 0, 500},
	}
	for _, d := range defaults {
		v := h.createVolume(&d.in)
		if v.VolumeType != d.typ || v.Iops != d.iops || v.Throughput != d.throughput || v.Size != d.size ||
			v.State != "creating" || v.AvailabilityZone != "us-east-1a" || v.AvailabilityZoneId != "use1-az1" {
			t.Errorf("CreateVolume %+v = %+v", d.in, v)
		}
	}
	// A client token makes a retry return the first volume.
	first := h.createVolume(&createVolumeInput{Size: 1, ClientToken: "once"})
	again := h.createVolume(&createVolumeInput{Size: 1, ClientToken: "once"})
	if first.VolumeId != again.VolumeId {
		t.Errorf("client token: %s then %s", first.VolumeId, again.VolumeId)
	}
}

func TestDescribeVolumesFiltersAndPages(t *testing.T) {
	h := newAPIHarness(t)
	e := h.e
	var ids []string
	for i := 0; i < 6; i++ {
		in := &createVolumeInput{Size: 1 + i, VolumeType: "gp3"}
		if i%2 == 0 {
			in.AvailabilityZone = "us-east-1b"
			in.VolumeType = "gp2"
			in.TagSpecifications = []TagSpecification{{ResourceType: "volume", Tags: []Tag{{"team", "data"}}}}
		}
		ids = append(ids, h.createVolume(in).VolumeId)
	}
	count := func(filters ...Filter) int {
		t.Helper()
		out, err := e.describeVolumes(h.ctx, &describeVolumesInput{Filters: filters})
		if err != nil {
			t.Fatalf("DescribeVolumes %v: %v", filters, err)
		}
		return len(out.Volumes)
	}
	checks := []struct {
		filters []Filter
		want    int
	}{
		{nil, 6},
		{[]Filter{{"availability-zone", []string{"us-east-1b"}}}, 3},
		{[]Filter{{"volume-type", []string{"gp3"}}}, 3},
		{[]Filter{{"size", []string{"1", "2"}}}, 2},
		{[]Filter{{"status", []string{"creating"}}}, 6},
		{[]Filter{{"status", []string{"available"}}}, 0},
		{[]Filter{{"tag:team", []string{"data"}}}, 3},
		{[]Filter{{"tag-key", []string{"team"}}, {"size", []string{"1"}}}, 1},
		{[]Filter{{"volume-id", []string{ids[4]}}}, 1},
		{[]Filter{{"attachment.instance-id", []string{"i-0123456789abcdef0"}}}, 0},
	}
	for _, c := range checks {
		if got := count(c.filters...); got != c.want {
			t.Errorf("filters %v: %d volumes, want %d", c.filters, got, c.want)
		}
	}
	_, err := e.describeVolumes(h.ctx, &describeVolumesInput{Filters: []Filter{{"bogus", []string{"x"}}}})
	wantErr(t, err, "InvalidParameterValue")
	seen := map[string]bool{}
	token, pages := "", 0
	for {
		out, err := e.describeVolumes(h.ctx, &describeVolumesInput{MaxResults: 5, NextToken: token})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, v := range out.Volumes {
			seen[v.VolumeId] = true
		}
		if token = out.NextToken; token == "" {
			break
		}
	}
	if pages != 2 || len(seen) != 6 {
		t.Errorf("paging: %d pages, %d volumes", pages, len(seen))
	}
	_, err = e.describeVolumes(h.ctx, &describeVolumesInput{VolumeIds: []string{"vol-nope"}})
	wantErr(t, err, "InvalidVolumeID.Malformed")
	_, err = e.describeVolumes(h.ctx, &describeVolumesInput{VolumeIds: []string{"vol-0123456789abcdef0"}})
	wantErr(t, err, "InvalidVolume.NotFound")
	_, err = e.describeVolumes(h.ctx, &describeVolumesInput{MaxResults: 2})
	wantErr(t, err, "InvalidParameterValue")
	// Tags reach volumes through CreateTags too.
	if _, err := e.createTags(h.ctx, &createTagsInput{Resources: []string{ids[1]}, Tags: []Tag{{"team", "data"}}}); err != nil {
		t.Fatal(err)
	}
	if got := count(Filter{"tag:team", []string{"data"}}); got != 4 {
		t.Errorf("after CreateTags: %d tagged volumes, want 4", got)
	}
}

func TestVolumeAttachDetachDelete(t *testing.T) {
	needVolumes(t, true)
	h := newInstanceHarness(t)
	inst := h.run(&runInstancesInput{Placement: &placementRequest{AvailabilityZone: "us-east-1a"}}).Instances[0].InstanceId
	vol := h.createVolume(&createVolumeInput{Size: 1, TagSpecifications: []TagSpecification{{ResourceType: "volume", Tags: []Tag{{"Name", "data"}}}}})
	other := h.createVolume(&createVolumeInput{Size: 1, AvailabilityZone: "us-east-1b"})
	h.waitVolume(vol.VolumeId, "available", "")
	if info, err := h.host.Volumes().Inspect(context.Background(), vol.VolumeId); err != nil || info.SizeBytes != 1<<30 {
		t.Fatalf("volume image = %+v, %v", info, err)
	}
	h.waitState(inst, "running")

	attach := func(vol, dev string) (*volumeAttachmentView, error) {
		return h.e.attachVolume(h.ctx, &attachVolumeInput{VolumeId: vol, InstanceId: inst, Device: dev})
	}
	_, err := attach(other.VolumeId, "/dev/sdf")
	wantErr(t, err, "InvalidVolume.ZoneMismatch")
	_, err = attach(vol.VolumeId, "/dev/hda")
	wantErr(t, err, "InvalidParameterValue")
	_, err = attach(vol.VolumeId, "/dev/xvda")
	wantErr(t, err, "InvalidParameterValue")
	_, err = attach("vol-0123456789abcdef0", "/dev/sdf")
	wantErr(t, err, "InvalidVolume.NotFound")
	_, err = h.e.attachVolume(h.ctx, &attachVolumeInput{VolumeId: vol.VolumeId, InstanceId: "i-0123456789abcdef0", Device: "/dev/sdf"})
	wantErr(t, err, "InvalidInstanceID.NotFound")
	_, err = h.e.attachVolume(h.ctx, &attachVolumeInput{VolumeId: vol.VolumeId, InstanceId: inst, Device: "/dev/sdf", DryRun: true})
	wantErr(t, err, "DryRunOperation")
	att, err := attach(vol.VolumeId, "/dev/sdf")
	if err != nil {
		t.Fatal(err)
	}
	if att.State != "attaching" || att.InstanceId != inst || att.Device != "/dev/sdf" || att.VolumeId != vol.VolumeId {
		t.Errorf("AttachVolume = %+v", att)
	}
	_, err = attach(vol.VolumeId, "/dev/sdg")
	wantErr(t, err, "VolumeInUse")
	third := h.createVolume(&createVolumeInput{Size: 1})
	h.waitVolume(third.VolumeId, "available", "")
	_, err = attach(third.VolumeId, "/dev/xvdf") // the same device as /dev/sdf
	wantErr(t, err, "InvalidParameterValue")

	h.waitVolume(vol.VolumeId, "in-use", "attached")
	out, err := h.e.describeVolumes(h.ctx, &describeVolumesInput{Filters: []Filter{{"attachment.instance-id", []string{inst}}, {"attachment.status", []string{"attached"}}}})
	if err != nil || len(out.Volumes) != 2 { // the root and vol
		t.Errorf("volumes attached to %s: %+v, %v", inst, out, err)
	}
	_, err = h.e.deleteVolume(h.ctx, &volumeIDInput{VolumeId: vol.VolumeId})
	wantErr(t, err, "VolumeInUse")
	bdm := h.describe(inst).BlockDeviceMappings
	if len(bdm) != 2 || bdm[1].DeviceName != "/dev/sdf" || bdm[1].Ebs.VolumeId != vol.VolumeId {
		t.Errorf("BlockDeviceMappings = %+v", bdm)
	}

	// The running sandbox gets the volume at its next boot.
	if info, _ := h.host.Volumes().Inspect(context.Background(), vol.VolumeId); info.Attached {
		t.Error("volume mounted before the instance rebooted")
	}
	boots := h.record(inst).Boots
	if _, err := h.e.rebootInstances(h.ctx, &instanceIDsInput{InstanceIds: []string{inst}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "reboot", func() bool { return h.record(inst).Boots > boots })
	if info, err := h.host.Volumes().Inspect(context.Background(), vol.VolumeId); err != nil || !info.Attached {
		t.Errorf("volume after reboot = %+v, %v; want mounted", info, err)
	}
	md, err := h.ctrl.InstanceForSandbox(context.Background(), inst)
	if err != nil || md.EBSDevices["ebs1"] != "sdf" {
		t.Errorf("metadata EBS devices = %+v, %v", md, err)
	}

	// Detaching a mounted volume waits for the sandbox to let go of it; a
	// forced detach reboots the instance to do so.
	_, err = h.e.detachVolume(h.ctx, &detachVolumeInput{VolumeId: vol.VolumeId, InstanceId: "i-0123456789abcdef0"})
	wantErr(t, err, "InvalidAttachment.NotFound")
	det, err := h.e.detachVolume(h.ctx, &detachVolumeInput{VolumeId: vol.VolumeId})
	if err != nil || det.State != "detaching" {
		t.Fatalf("DetachVolume = %+v, %v", det, err)
	}
	h.waitVolume(vol.VolumeId, "in-use", "detaching")
	if _, err := h.e.detachVolume(h.ctx, &detachVolumeInput{VolumeId: vol.VolumeId, Force: true}); err != nil {
		t.Fatal(err)
	}
	h.waitVolume(vol.VolumeId, "available", "")
	waitFor(t, "unmount", func() bool {
		info, _ := h.host.Volumes().Inspect(context.Background(), vol.VolumeId)
		return !info.Attached
	})
	if bdm := h.describe(inst).BlockDeviceMappings; len(bdm) != 1 {
		t.Errorf("BlockDeviceMappings after detach = %+v", bdm)
	}
	_, err = h.e.detachVolume(h.ctx, &detachVolumeInput{VolumeId: vol.VolumeId})
	wantErr(t, err, "IncorrectState")

	// A stopped instance takes and gives back volumes at once.
	if _, err := h.e.stopInstances(h.ctx, &instanceIDsInput{InstanceIds: []string{inst}}); err != nil {
		t.Fatal(err)
	}
	h.waitState(inst, "stopped")
	if _, err := attach(vol.VolumeId, "/dev/sdh"); err != nil {
		t.Fatal(err)
	}
	h.waitVolume(vol.VolumeId, "in-use", "attached")
	if _, err := h.e.detachVolume(h.ctx, &detachVolumeInput{VolumeId: vol.VolumeId, Device: "/dev/sdh"}); err != nil {
		t.Fatal(err)
	}
	h.waitVolume(vol.VolumeId, "available", "")

	if _, err := h.e.deleteVolume(h.ctx, &volumeIDInput{VolumeId: vol.VolumeId}); err != nil {
		t.Fatal(err)
	}
	_, err = h.e.describeVolumes(h.ctx, &describeVolumesInput{VolumeIds: []string{vol.VolumeId}})
	wantErr(t, err, "InvalidVolume.NotFound")
	_, err = h.e.deleteVolume(h.ctx, &volumeIDInput{VolumeId: vol.VolumeId})
	wantErr(t, err, "InvalidVolume.NotFound")
	waitFor(t, "image deleted", func() bool {
		_, err := os.Stat(h.host.Volumes().ImagePath(vol.VolumeId))
		return os.IsNotExist(err)
	})
}

func TestRootVolumeIsDescribedAndProtected(t *testing.T) {
	h := newInstanceHarness(t)
	f := false
	res := h.run(&runInstancesInput{BlockDeviceMappings: []blockDeviceMappingRequest{
		{DeviceName: "/dev/xvda", Ebs: &ebsRequest{VolumeSize: 20, VolumeType: "gp3", DeleteOnTermination: &f}}}})
	inst := res.Instances[0]
	root := inst.BlockDeviceMappings[0].Ebs.VolumeId
	v := h.describeVolume(root)
	if v.Size != 20 || v.VolumeType != "gp3" || v.State != "in-use" || v.Attachments[0].InstanceId != inst.InstanceId ||
		v.Attachments[0].Device != "/dev/xvda" || v.Attachments[0].DeleteOnTermination {
		t.Errorf("root volume = %+v", v)
	}
	_, err := h.e.deleteVolume(h.ctx, &volumeIDInput{VolumeId: root})
	wantErr(t, err, "VolumeInUse")
	_, err = h.e.detachVolume(h.ctx, &detachVolumeInput{VolumeId: root})
	wantErr(t, err, "IncorrectState")
	_, err = h.e.runInstances(h.ctx, &runInstancesInput{ImageId: h.amiID, MinCount: 1, MaxCount: 1,
		BlockDeviceMappings: []blockDeviceMappingRequest{{DeviceName: "/dev/sdf", Ebs: &ebsRequest{VolumeSize: 10, VolumeType: "io1"}}}})
	wantErr(t, err, "MissingParameter")
	_, err = h.e.runInstances(h.ctx, &runInstancesInput{ImageId: h.amiID, MinCount: 1, MaxCount: 1,
		BlockDeviceMappings: []blockDeviceMappingRequest{{DeviceName: "/dev/hdz", Ebs: &ebsRequest{VolumeSize: 1}}}})
	wantErr(t, err, "InvalidParameterValue")
}

func TestTerminateDeletesOrDetachesVolumes(t *testing.T) {
	needVolumes(t, true)
	h := newInstanceHarness(t)
	keep := false
	res := h.run(&runInstancesInput{
		BlockDeviceMappings: []blockDeviceMappingRequest{
			{DeviceName: "/dev/sdf", Ebs: &ebsRequest{VolumeSize: 1}},
			{DeviceName: "/dev/sdg", Ebs: &ebsRequest{VolumeSize: 2, VolumeType: "gp3", DeleteOnTermination: &keep}},
			{DeviceName: "/dev/sdh", NoDevice: ""},
		},
		TagSpecifications: []TagSpecification{{ResourceType: "volume", Tags: []Tag{{"made-by", "launch"}}}},
	})
	id := res.Instances[0].InstanceId
	bdm := res.Instances[0].BlockDeviceMappings
	if len(bdm) != 3 || bdm[1].DeviceName != "/dev/sdf" || !bdm[1].Ebs.DeleteOnTermination || bdm[2].Ebs.DeleteOnTermination {
		t.Fatalf("BlockDeviceMappings = %+v", bdm)
	}
	gone, kept := bdm[1].Ebs.VolumeId, bdm[2].Ebs.VolumeId
	h.waitState(id, "running")
	v := h.waitVolume(kept, "in-use", "attached")
	if v.Size != 2 || v.VolumeType != "gp3" || len(v.Tags) != 1 || v.Tags[0].Key != "made-by" {
		t.Errorf("launched volume = %+v", v)
	}
	for _, vid := range []string{gone, kept} {
		if info, err := h.host.Volumes().Inspect(context.Background(), vid); err != nil || !info.Attached {
			t.Errorf("volume %s at launch = %+v, %v; want mounted", vid, info, err)
		}
	}
	if _, err := h.e.terminateInstances(h.ctx, &instanceIDsInput{InstanceIds: []string{id}}); err != nil {
		t.Fatal(err)
	}
	h.waitState(id, "terminated")
	h.waitVolume(kept, "available", "")
	_, err := h.e.describeVolumes(h.ctx, &describeVolumesInput{VolumeIds: []string{gone}})
	wantErr(t, err, "InvalidVolume.NotFound")
	waitFor(t, "image of the deleted volume removed", func() bool {
		_, err := os.Stat(h.host.Volumes().ImagePath(gone))
		return os.IsNotExist(err)
	})
	if _, err := os.Stat(h.host.Volumes().ImagePath(kept)); err != nil {
		t.Errorf("kept volume's image: %v", err)
	}
}

func TestSnapshots(t *testing.T) {
	needVolumes(t, false)
	h := newInstanceHarness(t)
	vol := h.createVolume(&createVolumeInput{Size: 1})
	_, err := h.e.createSnapshot(h.ctx, &createSnapshotInput{VolumeId: vol.VolumeId})
	wantErr(t, err, "IncorrectState") // still creating
	h.waitVolume(vol.VolumeId, "available", "")
	snap, err := h.e.createSnapshot(h.ctx, &createSnapshotInput{VolumeId: vol.VolumeId, Description: "nightly",
		TagSpecifications: []TagSpecification{{ResourceType: "snapshot", Tags: []Tag{{"k", "v"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	if snap.State != "pending" || snap.VolumeSize != 1 || snap.OwnerId != testAccount || snap.Description != "nightly" {
		t.Errorf("CreateSnapshot = %+v", snap)
	}
	waitFor(t, "snapshot completed", func() bool {
		out, err := h.e.describeSnapshots(h.ctx, &describeSnapshotsInput{SnapshotIds: []string{snap.SnapshotId}})
		return err == nil && out.Snapshots[0].State == "completed" && out.Snapshots[0].Progress == "100%"
	})
	out, err := h.e.describeSnapshots(h.ctx, &describeSnapshotsInput{OwnerIds: []string{"self"}, Filters: []Filter{{"volume-id", []string{vol.VolumeId}}, {"tag:k", []string{"v"}}}})
	if err != nil || len(out.Snapshots) != 1 {
		t.Errorf("DescribeSnapshots by volume = %+v, %v", out, err)
	}
	_, err = h.e.createVolume(h.ctx, &createVolumeInput{AvailabilityZone: "us-east-1a", SnapshotId: snap.SnapshotId, Size: 0, VolumeType: "st1"})
	wantErr(t, err, "InvalidParameterValue") // st1's minimum is 125 GiB, above the snapshot's 1
	restored := h.createVolume(&createVolumeInput{SnapshotId: snap.SnapshotId, Size: 2})
	if restored.SnapshotId != snap.SnapshotId || restored.Size != 2 {
		t.Errorf("volume from snapshot = %+v", restored)
	}
	h.waitVolume(restored.VolumeId, "available", "")
	if info, err := h.host.Volumes().Inspect(context.Background(), restored.VolumeId); err != nil || info.SizeBytes != 2<<30 {
		t.Errorf("restored image = %+v, %v", info, err)
	}
	// A launch makes volumes from snapshots too.
	_, err = h.e.runInstances(h.ctx, &runInstancesInput{ImageId: h.amiID, MinCount: 1, MaxCount: 1,
		BlockDeviceMappings: []blockDeviceMappingRequest{{DeviceName: "/dev/sdf", Ebs: &ebsRequest{SnapshotId: "snap-0123456789abcdef0"}}}})
	wantErr(t, err, "InvalidSnapshot.NotFound")
	launched := h.run(&runInstancesInput{BlockDeviceMappings: []blockDeviceMappingRequest{
		{DeviceName: "/dev/sdf", Ebs: &ebsRequest{SnapshotId: snap.SnapshotId}}}}).Instances[0]
	fromSnap := h.describeVolume(launched.BlockDeviceMappings[1].Ebs.VolumeId)
	if fromSnap.Size != 1 || fromSnap.SnapshotId != snap.SnapshotId || fromSnap.Attachments[0].InstanceId != launched.InstanceId {
		t.Errorf("volume launched from a snapshot = %+v", fromSnap)
	}
	if _, err := h.e.deleteSnapshot(h.ctx, &deleteSnapshotInput{SnapshotId: snap.SnapshotId}); err != nil {
		t.Fatal(err)
	}
	_, err = h.e.deleteSnapshot(h.ctx, &deleteSnapshotInput{SnapshotId: snap.SnapshotId})
	wantErr(t, err, "InvalidSnapshot.NotFound")
	_, err = h.e.describeSnapshots(h.ctx, &describeSnapshotsInput{SnapshotIds: []string{"snap-zz"}})
	wantErr(t, err, "InvalidSnapshotID.Malformed")
}

func TestModifyVolume(t *testing.T) {
	needVolumes(t, false)
	h := newInstanceHarness(t)
	vol := h.createVolume(&createVolumeInput{Size: 1, VolumeType: "gp2"})
	h.waitVolume(vol.VolumeId, "available", "")
	_, err := h.e.modifyVolume(h.ctx, &modifyVolumeInput{VolumeId: vol.VolumeId, Size: 0, VolumeType: "io1"})
	wantErr(t, err, "InvalidParameterValue") // io1 needs 4 GiB
	out, err := h.e.modifyVolume(h.ctx, &modifyVolumeInput{VolumeId: vol.VolumeId, Size: 3, VolumeType: "gp3"})
	if err != nil {
		t.Fatal(err)
	}
	m := out.VolumeModification
	if m.ModificationState != "optimizing" || m.TargetSize != 3 || m.OriginalSize != 1 || m.TargetVolumeType != "gp3" ||
		m.OriginalVolumeType != "gp2" || m.TargetIops != 3000 {
		t.Errorf("ModifyVolume = %+v", m)
	}
	waitFor(t, "grown", func() bool { return h.describeVolume(vol.VolumeId).Size == 3 })
	if info, err := h.host.Volumes().Inspect(context.Background(), vol.VolumeId); err != nil || info.SizeBytes != 3<<30 {
		t.Errorf("grown image = %+v, %v", info, err)
	}
	_, err = h.e.modifyVolume(h.ctx, &modifyVolumeInput{VolumeId: vol.VolumeId, Size: 2})
	wantErr(t, err, "InvalidParameterValue")
}

// newAPIHarness is EC2's API over a store alone: no host, no controller,
// so volumes stay creating.
func newAPIHarness(t *testing.T) *instanceHarness {
	regions, _ := region.NewCatalog(nil, false)
	svc, err := service.New("ec2")
	if err != nil {
		t.Fatal(err)
	}
	h := &instanceHarness{t: t, st: sqlitestore.OpenTemp(t)}
	h.e = &EC2{store: h.st, regions: regions}
	h.e.setCapacity(Capacity{VCPUs: 8, MemoryMiB: 16384}, 0)
	h.e.registerCatalog(svc)
	h.e.registerInstances(svc)
	h.e.registerVolumes(svc)
	h.e.registerSpot(svc)
	h.ctx = identity.With(context.Background(), &identity.Call{Region: "us-east-1",
		Principal: &identity.Principal{Type: identity.Root, Account: testAccount}})
	return h
}

// waitFor polls cond for up to ten seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestOrphanVolumeImagesRemovedAtStart(t *testing.T) {
	needVolumes(t, false)
	h := newInstanceHarness(t)
	vol := h.createVolume(&createVolumeInput{Size: 1})
	h.waitVolume(vol.VolumeId, "available", "")
	h.stop()
	orphan := "vol-0123456789abcdef0"
	if err := h.host.Volumes().Create(context.Background(), orphan, 8<<20); err != nil {
		t.Fatal(err)
	}
	h.open()
	waitFor(t, "the orphan image to go", func() bool {
		_, err := os.Stat(h.host.Volumes().ImagePath(orphan))
		return os.IsNotExist(err)
	})
	if _, err := os.Stat(h.host.Volumes().ImagePath(vol.VolumeId)); err != nil {
		t.Errorf("the image of a live volume went too: %v", err)
	}
}
