package ec2

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nimbus-dev/nimbus/internal/image"
)

// waitImage polls DescribeImages until imageID is in state.
func (h *instanceHarness) waitImage(imageID, state string) imageDescription {
	h.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, err := h.e.describeImages(h.ctx, &describeImagesInput{ImageIds: []string{imageID}})
		if err != nil {
			h.t.Fatalf("DescribeImages %s: %v", imageID, err)
		}
		if d := out.Images[0]; d.State == state {
			return d
		} else if time.Now().After(deadline) {
			h.t.Fatalf("image %s is %s (%+v), want %s", imageID, d.State, d.StateReason, state)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestCreateImageErrors(t *testing.T) {
	h := newInstanceHarness(t)
	id := h.run(&runInstancesInput{}).Instances[0].InstanceId
	h.waitState(id, "running")
	for _, c := range []struct {
		name string
		in   createImageInput
		code string
	}{
		{"no instance", createImageInput{Name: "abc"}, "MissingParameter"},
		{"malformed instance", createImageInput{InstanceId: "i-xyz", Name: "abc"}, "InvalidInstanceID.Malformed"},
		{"unknown instance", createImageInput{InstanceId: "i-0123456789abcdef0", Name: "abc"}, "InvalidInstanceID.NotFound"},
		{"no name", createImageInput{InstanceId: id}, "MissingParameter"},
		{"short name", createImageInput{InstanceId: id, Name: "ab"}, "InvalidParameterValue"},
		{"long name", createImageInput{InstanceId: id, Name: string(make([]byte, 129))}, "InvalidParameterValue"},
		{"bad character", createImageInput{InstanceId: id, Name: "web#1"}, "InvalidParameterValue"},
		{"bad tag type", createImageInput{InstanceId: id, Name: "abc",
			TagSpecifications: []TagSpecification{{ResourceType: "instance", Tags: []Tag{{"k", "v"}}}}}, "InvalidParameterValue"},
		{"dry run", createImageInput{InstanceId: id, Name: "abc", DryRun: true}, "DryRunOperation"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := h.e.createImage(h.ctx, &c.in)
			wantErr(t, err, c.code)
		})
	}
	first, err := h.e.createImage(h.ctx, &createImageInput{InstanceId: id, Name: "web (v1) [x] ./-'@_"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = h.e.createImage(h.ctx, &createImageInput{InstanceId: id, Name: "web (v1) [x] ./-'@_"})
	wantErr(t, err, "InvalidAMIName.Duplicate")
	h.waitImage(first.ImageId, "available")

	if _, err := h.e.terminateInstances(h.ctx, &instanceIDsInput{InstanceIds: []string{id}}); err != nil {
		t.Fatal(err)
	}
	h.waitState(id, "terminated")
	_, err = h.e.createImage(h.ctx, &createImageInput{InstanceId: id, Name: "after-terminate"})
	wantErr(t, err, "IncorrectInstanceState")
}

// TestCreateImageCapturesRoot writes into an instance's root volume (its
// overlay upper, as the instance would), images it, and launches the AMI.
func TestCreateImageCapturesRoot(t *testing.T) {
	h := newInstanceHarness(t)
	src := h.run(&runInstancesInput{}).Instances[0].InstanceId
	h.waitState(src, "running")
	upperFile := filepath.Join(h.dataDir, "ec2", "instances", src, "root", "upper", "etc", "captured.txt")
	if err := os.MkdirAll(filepath.Dir(upperFile), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(upperFile, []byte("from the source instance\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	out, err := h.e.createImage(h.ctx, &createImageInput{InstanceId: src, Name: "captured-web", Description: "web server",
		TagSpecifications: []TagSpecification{{ResourceType: "image", Tags: []Tag{{"team", "web"}}},
			{ResourceType: "snapshot", Tags: []Tag{{"team", "web"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	d := h.waitImage(out.ImageId, "available")
	if d.OwnerId != testAccount || d.Name != "captured-web" || d.Description != "web server" || d.RootDeviceName != "/dev/xvda" ||
		d.RootDeviceType != "ebs" || d.VirtualizationType != "hvm" || d.Hypervisor != "xen" || d.ImageType != "machine" ||
		d.Architecture != h.describe(src).Architecture || d.Public || len(d.Tags) != 1 || d.Tags[0] != (Tag{"team", "web"}) {
		t.Errorf("captured AMI = %+v", d)
	}
	for _, f := range []Filter{{"name", []string{"captured-*"}}, {"image-id", []string{out.ImageId}}, {"state", []string{"available"}}} {
		got, err := h.e.describeImages(h.ctx, &describeImagesInput{Owners: []string{"self"}, Filters: []Filter{f}})
		if err != nil || len(got.Images) != 1 || got.Images[0].ImageId != out.ImageId {
			t.Errorf("DescribeImages Owners=self %s=%v: %+v, %v", f.Name, f.Values, got, err)
		}
	}

	rec, err := h.e.lookupImage(h.ctx, testAccount, "us-east-1", out.ImageId)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := h.host.Images().Get(h.ctx, rec.ImageStoreName)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(stored.RootDir, "etc", "captured.txt")); err != nil || string(b) != "from the source instance\n" {
		t.Errorf("captured root etc/captured.txt = %q, %v", b, err)
	}
	if rec.ImageDigest != stored.Digest {
		t.Errorf("AMI digest %s, stored %s", rec.ImageDigest, stored.Digest)
	}

	second := h.run(&runInstancesInput{ImageId: out.ImageId}).Instances[0].InstanceId
	h.waitState(second, "running")
	if got := h.record(second).Image; got != rec.ImageStoreName {
		t.Errorf("instance from the AMI runs %q, want %q", got, rec.ImageStoreName)
	}
	if b, err := os.ReadFile(upperFile); err != nil || string(b) != "from the source instance\n" {
		t.Errorf("source instance's file changed: %q, %v", b, err)
	}

	if _, err := h.e.deregisterImage(h.ctx, &deregisterImageInput{ImageId: out.ImageId}); err != nil {
		t.Fatal(err)
	}
	_, err = h.e.describeImages(h.ctx, &describeImagesInput{ImageIds: []string{out.ImageId}})
	wantErr(t, err, "InvalidAMIID.NotFound")
	if _, err := h.host.Images().Get(h.ctx, rec.ImageStoreName); !errors.Is(err, image.ErrNotFound) {
		t.Errorf("captured image still stored after deregister: %v", err)
	}
}

// TestCreateImageFailedCapture: a capture whose instance is gone fails,
// says why, and RunInstances refuses the AMI.
func TestCreateImageFailedCapture(t *testing.T) {
	h := newInstanceHarness(t)
	a := &amiRecord{ImageId: newID("ami"), Name: "gone-source", OwnerId: testAccount, State: amiPending,
		ImageStoreName: capturedImagePrefix + testAccount + "/x:latest", RootDeviceName: "/dev/xvda", RootDeviceType: "ebs",
		VolumeSizeGiB: 8, CaptureInstanceId: "i-0123456789abcdef0", Tags: []Tag{}}
	// Stored directly: the controller sees a pending AMI whose instance is gone.
	if err := h.e.putImage(h.ctx, testAccount, "us-east-1", a); err != nil {
		t.Fatal(err)
	}
	d := h.waitImage(a.ImageId, "failed")
	if d.StateReason == nil || d.StateReason.Message == "" {
		t.Errorf("failed AMI without a reason: %+v", d)
	}
	_, err := h.e.runInstances(h.ctx, &runInstancesInput{ImageId: a.ImageId, MinCount: 1, MaxCount: 1})
	wantErr(t, err, "InvalidAMIID.Unavailable")
}
