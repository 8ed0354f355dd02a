package ec2

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCreateImageOCI images a runc instance whose user data wrote a file and
// deleted one of its image's, then checks an instance of the new AMI sees
// both changes.
func TestCreateImageOCI(t *testing.T) {
	h := openOCIHarness(t)
	base, err := h.e.lookupImage(h.ctx, testAccount, "us-east-1", h.amiID)
	if err != nil {
		t.Fatal(err)
	}
	baseImg, err := h.host.Images().Get(h.ctx, base.ImageStoreName)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(baseImg.RootDir, "bin", "vi")); err != nil {
		t.Fatalf("the busybox image has no /bin/vi to delete: %v", err)
	}
	script := "#!/bin/sh\necho made-by-user-data > /etc/from-user-data && rm /bin/vi && sync && echo root-written\n"
	src := h.run(&runInstancesInput{UserData: base64.StdEncoding.EncodeToString([]byte(script))}).Instances[0].InstanceId
	h.waitState(src, "running")
	waitFor(t, "user data to write the root", func() bool { return strings.Contains(h.console(src), "root-written") })

	out, err := h.e.createImage(h.ctx, &createImageInput{InstanceId: src, Name: "from-user-data"})
	if err != nil {
		t.Fatal(err)
	}
	h.waitImage(out.ImageId, "available")

	second := h.run(&runInstancesInput{ImageId: out.ImageId}).Instances[0].InstanceId
	h.waitState(second, "running")
	var stdout, stderr bytes.Buffer
	code, err := h.host.Exec(context.Background(), second,
		[]string{"sh", "-c", "cat /etc/from-user-data; test -e /bin/vi && echo vi-present || echo vi-absent"}, nil, &stdout, &stderr)
	if err != nil || code != 0 || stdout.String() != "made-by-user-data\nvi-absent\n" {
		t.Fatalf("in the instance from the new AMI: %q (exit %d, %v, stderr %q)", stdout.String(), code, err, stderr.String())
	}
	// The base image is untouched.
	if _, err := os.Lstat(filepath.Join(baseImg.RootDir, "bin", "vi")); err != nil {
		t.Errorf("base image lost /bin/vi: %v", err)
	}
}
