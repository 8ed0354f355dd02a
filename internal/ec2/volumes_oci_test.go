package ec2

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-dev/nimbus/internal/identity"
	"github.com/nimbus-dev/nimbus/internal/region"
	"github.com/nimbus-dev/nimbus/internal/service"
	"github.com/nimbus-dev/nimbus/internal/store/sqlitestore"
	"github.com/nimbus-dev/nimbus/internal/substrate"
)

// openOCIHarness is the instance harness over runc without networking: real
// sandboxes with real volume mounts.
func openOCIHarness(t *testing.T) *instanceHarness {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	for _, bin := range []string{"runc", "busybox", "mkfs.ext4"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("needs %s", bin)
		}
	}
	if _, err := os.Stat("/usr/bin/tini-static"); err != nil {
		t.Skip("needs /usr/bin/tini-static")
	}
	h := &instanceHarness{t: t, st: sqlitestore.OpenTemp(t), dataDir: t.TempDir()}
	h.ctx = identity.With(context.Background(), &identity.Call{Region: "us-east-1",
		Principal: &identity.Principal{Type: identity.Root, Account: testAccount}})
	host, err := substrate.Open(context.Background(), substrate.Options{DataDir: h.dataDir, Store: h.st,
		Driver: substrate.DriverOCI, Runtime: "runc", NoNetwork: true})
	if err != nil {
		t.Fatal(err)
	}
	h.host = host
	regions, _ := region.NewCatalog(nil, false)
	svc, err := service.New("ec2")
	if err != nil {
		t.Fatal(err)
	}
	h.e = &EC2{store: h.st, regions: regions, host: host}
	h.e.setCapacity(Capacity{VCPUs: 64, MemoryMiB: 1 << 16}, 0)
	h.e.registerCatalog(svc)
	h.e.registerInstances(svc)
	h.e.registerVolumes(svc)
	h.e.registerSpot(svc)
	h.ctrl, err = NewInstanceController(InstanceControllerOptions{Store: h.st, Regions: regions, Host: host,
		DataDir: h.dataDir, StopGrace: time.Second})
	if err != nil {
		t.Fatal(err)
	}
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
		if err := host.Reset(cctx, nil); err != nil {
			t.Errorf("reset: %v", err)
		}
		host.Close()
	})
	amis, err := h.e.builtinAMIs(h.ctx, "us-east-1")
	if err != nil || len(amis) == 0 {
		t.Fatalf("no busybox AMI: %v", err)
	}
	h.amiID = amis[0].ImageId
	return h
}

// TestVolumeDataOutlivesInstanceOCI writes a file to an EBS volume from
// inside one runc instance's user data, terminates it, attaches the volume
// to a second instance and reads the file there, at /mnt/<device>.
func TestVolumeDataOutlivesInstanceOCI(t *testing.T) {
	h := openOCIHarness(t)
	keep := false
	script := "#!/bin/sh\necho written-by-first > /mnt/sdf/proof.txt && sync && echo volume-written\n"
	res := h.run(&runInstancesInput{UserData: base64.StdEncoding.EncodeToString([]byte(script)),
		BlockDeviceMappings: []blockDeviceMappingRequest{{DeviceName: "/dev/sdf", Ebs: &ebsRequest{VolumeSize: 1, DeleteOnTermination: &keep}}}})
	first := res.Instances[0].InstanceId
	vol := res.Instances[0].BlockDeviceMappings[1].Ebs.VolumeId
	h.waitState(first, "running")
	waitFor(t, "user data to write the volume", func() bool { return strings.Contains(h.console(first), "volume-written") })

	if _, err := h.e.terminateInstances(h.ctx, &instanceIDsInput{InstanceIds: []string{first}}); err != nil {
		t.Fatal(err)
	}
	h.waitState(first, "terminated")
	h.waitVolume(vol, "available", "")
	if info, err := h.host.Volumes().Inspect(context.Background(), vol); err != nil || info.Attached {
		t.Fatalf("volume after terminate = %+v, %v; want detached", info, err)
	}

	second := h.run(&runInstancesInput{}).Instances[0].InstanceId
	h.waitState(second, "running")
	if _, err := h.e.attachVolume(h.ctx, &attachVolumeInput{VolumeId: vol, InstanceId: second, Device: "/dev/xvdg"}); err != nil {
		t.Fatal(err)
	}
	// The volume appears in the running instance, without a reboot.
	h.waitVolume(vol, "in-use", "attached")
	readProof := func(when string) {
		t.Helper()
		var out, errOut bytes.Buffer
		code, err := h.host.Exec(context.Background(), second, []string{"cat", filepath.Join(volumeMountPoint("/dev/xvdg"), "proof.txt")}, nil, &out, &errOut)
		if err != nil || code != 0 || strings.TrimSpace(out.String()) != "written-by-first" {
			t.Fatalf("cat in the second instance %s = %q (exit %d, %v, stderr %q)", when, out.String(), code, err, errOut.String())
		}
	}
	readProof("right after the attach")
	if i := slices.IndexFunc(h.record(second).Volumes, func(v instanceVolume) bool { return v.VolumeId == vol }); i < 0 || !h.record(second).Volumes[i].Mounted {
		t.Errorf("instance volumes after a hot attach = %+v; want %s mounted", h.record(second).Volumes, vol)
	}
	// And stays there across a reboot (a new sandbox mounts it at start).
	boots := h.record(second).Boots
	if _, err := h.e.rebootInstances(h.ctx, &instanceIDsInput{InstanceIds: []string{second}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "reboot", func() bool { return h.record(second).Boots > boots && h.record(second).State == "running" })
	readProof("after a reboot")

	// A plain detach unmounts it from the running instance, no reboot.
	boots = h.record(second).Boots
	if _, err := h.e.detachVolume(h.ctx, &detachVolumeInput{VolumeId: vol}); err != nil {
		t.Fatal(err)
	}
	h.waitVolume(vol, "available", "")
	if r := h.record(second); r.Boots != boots || r.State != "running" || len(r.Volumes) != 0 {
		t.Errorf("instance after a detach: boots %d (was %d), %s, volumes %+v", r.Boots, boots, r.State, r.Volumes)
	}
	var out bytes.Buffer
	if code, err := h.host.Exec(context.Background(), second, []string{"sh", "-c", "grep -c ' /mnt/xvdg ' /proc/mounts"}, nil, &out, &out); err != nil || strings.TrimSpace(out.String()) != "0" {
		t.Errorf("mounts of /mnt/xvdg in the instance after the detach: %q (exit %d, %v)", out.String(), code, err)
	}
	if info, err := h.host.Volumes().Inspect(context.Background(), vol); err != nil || info.Attached {
		t.Errorf("volume image after the detach: %+v, %v; want off the host", info, err)
	}
}
