package ec2

import (
	"os"
	"regexp"
	"slices"
	"testing"

	"github.com/nimbus-dev/nimbus/internal/image"
)

// imagesEC2 is catalogEC2 with a real image store holding busybox (from the
// host's busybox-static, as nimbus makes it).
func imagesEC2(t *testing.T) *EC2 {
	t.Helper()
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("needs /bin/busybox (Debian's busybox-static) for the busybox image")
	}
	e := catalogEC2(t)
	st, err := image.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e.amis.images = st
	return e
}

func imageNames(ds []imageDescription) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Name)
	}
	slices.Sort(out)
	return out
}

func TestBuiltinImages(t *testing.T) {
	e := imagesEC2(t)
	ctx := callIn("us-east-1")
	out, err := e.describeImages(ctx, &describeImagesInput{Owners: []string{"amazon"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Images) != 1 {
		t.Fatalf("built-in images = %+v, want busybox alone (no debian-12 in this store)", out.Images)
	}
	bb := out.Images[0]
	if !regexp.MustCompile(`^ami-[0-9a-f]{17}$`).MatchString(bb.ImageId) || bb.Name != "nimbus-busybox-x86_64" && bb.Name != "nimbus-busybox-arm64" ||
		!bb.Public || bb.ImageOwnerAlias != "amazon" || bb.RootDeviceName != "/dev/xvda" || bb.RootDeviceType != "ebs" || bb.State != "available" ||
		len(bb.BlockDeviceMappings) != 1 || bb.BlockDeviceMappings[0].Ebs.VolumeSize != 8 {
		t.Errorf("busybox AMI = %+v", bb)
	}
	// Stable: another EC2 over the same image store (a restart) gives the same ID;
	// another region gives another.
	again := catalogEC2(t)
	again.amis.images = e.amis.images
	a2, err := again.describeImages(ctx, &describeImagesInput{Filters: []Filter{{"name", []string{"nimbus-busybox-*"}}}})
	if err != nil || len(a2.Images) != 1 || a2.Images[0].ImageId != bb.ImageId {
		t.Errorf("after restart: %+v %v, want %s", a2, err, bb.ImageId)
	}
	eu, err := e.describeImages(callIn("eu-west-1"), &describeImagesInput{Owners: []string{"amazon"}})
	if err != nil || len(eu.Images) != 1 || eu.Images[0].ImageId == bb.ImageId || eu.Images[0].Name != bb.Name {
		t.Errorf("eu-west-1 built-ins: %+v %v", eu, err)
	}
	rec, err := e.lookupImage(ctx, catalogTestAccount, "us-east-1", bb.ImageId)
	if err != nil || rec.ImageStoreName != "busybox:latest" || !rec.BuiltIn {
		t.Errorf("lookupImage = %+v %v", rec, err)
	}
	_, err = e.lookupImage(ctx, catalogTestAccount, "us-east-1", eu.Images[0].ImageId)
	wantCode(t, "another region's AMI", err, "InvalidAMIID.NotFound")
	_, err = e.lookupImage(ctx, catalogTestAccount, "us-east-1", "ami-xyz")
	wantCode(t, "malformed", err, "InvalidAMIID.Malformed")
	_, err = e.deregisterImage(ctx, &deregisterImageInput{ImageId: bb.ImageId})
	wantCode(t, "deregister built-in", err, "UnauthorizedOperation")
	// debian-12 appears once the store has it.
	if _, err := e.amis.images.Tag(ctx, "busybox:latest", "debian-12:latest"); err != nil {
		t.Fatal(err)
	}
	all, err := e.describeImages(ctx, &describeImagesInput{Owners: []string{"amazon"}})
	if err != nil || len(all.Images) != 2 || all.Images[0].Name[:6] != "debian" && all.Images[1].Name[:6] != "debian" {
		t.Errorf("with debian-12:latest: %+v %v", all, err)
	}
}

func TestImageLifecycle(t *testing.T) {
	e := imagesEC2(t)
	ctx := callIn("us-east-1")
	reg, err := e.registerImage(ctx, &registerImageInput{Name: "my-app v1", Description: "app", ImageLocation: "nimbus:busybox:latest",
		TagSpecifications: []TagSpecification{{ResourceType: "image", Tags: []Tag{{"app", "web"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := e.lookupImage(ctx, catalogTestAccount, "us-east-1", reg.ImageId)
	if err != nil || rec.ImageStoreName != "busybox:latest" || rec.OwnerId != catalogTestAccount || rec.RootDeviceName != "/dev/xvda" || rec.BuiltIn {
		t.Errorf("registered = %+v %v", rec, err)
	}
	regErrs := []struct {
		name string
		in   registerImageInput
		code string
	}{
		{"duplicate name", registerImageInput{Name: "my-app v1", ImageLocation: "nimbus:busybox:latest"}, "InvalidAMIName.Duplicate"},
		{"no name", registerImageInput{ImageLocation: "nimbus:busybox:latest"}, "MissingParameter"},
		{"bad name", registerImageInput{Name: "a*b", ImageLocation: "nimbus:busybox:latest"}, "InvalidParameterValue"},
		{"no location", registerImageInput{Name: "abc"}, "MissingParameter"},
		{"s3 location", registerImageInput{Name: "abc", ImageLocation: "bucket/image.manifest.xml"}, "InvalidParameterValue"},
		{"unknown image", registerImageInput{Name: "abc", ImageLocation: "nimbus:nothing:here"}, "InvalidParameterValue"},
		{"wrong arch", registerImageInput{Name: "abc", ImageLocation: "nimbus:busybox:latest", Architecture: "mips"}, "InvalidParameterValue"},
		{"dry run", registerImageInput{Name: "abc", ImageLocation: "nimbus:busybox:latest", DryRun: true}, "DryRunOperation"},
	}
	for _, tc := range regErrs {
		_, err := e.registerImage(ctx, &tc.in)
		wantCode(t, tc.name, err, tc.code)
	}

	cp, err := e.copyImage(callIn("eu-west-1"), &copyImageInput{SourceRegion: "us-east-1", SourceImageId: reg.ImageId, Name: "my-app copy", CopyImageTags: true})
	if err != nil {
		t.Fatal(err)
	}
	crec, err := e.lookupImage(ctx, catalogTestAccount, "eu-west-1", cp.ImageId)
	if err != nil || crec.ImageStoreName != "busybox:latest" || crec.Description != "app" || len(crec.Tags) != 1 || crec.SourceImageId != reg.ImageId {
		t.Errorf("copy = %+v %v", crec, err)
	}
	_, err = e.copyImage(callIn("eu-west-1"), &copyImageInput{SourceRegion: "us-east-1", SourceImageId: "ami-0123456789abcdef0", Name: "x-copy"})
	wantCode(t, "copy missing", err, "InvalidAMIID.NotFound")
	_, err = e.copyImage(callIn("eu-west-1"), &copyImageInput{SourceRegion: "mars-1", SourceImageId: reg.ImageId, Name: "x-copy"})
	wantCode(t, "copy from bad region", err, "InvalidParameterValue")

	cases := []struct {
		name string
		in   describeImagesInput
		want []string
	}{
		{"self", describeImagesInput{Owners: []string{"self"}}, []string{"my-app v1"}},
		{"own account", describeImagesInput{Owners: []string{catalogTestAccount}}, []string{"my-app v1"}},
		{"default", describeImagesInput{}, []string{"my-app v1", "nimbus-busybox-x86_64"}},
		{"by id", describeImagesInput{ImageIds: []string{reg.ImageId}}, []string{"my-app v1"}},
		{"by tag", describeImagesInput{Filters: []Filter{{"tag:app", []string{"web"}}}}, []string{"my-app v1"}},
		{"public", describeImagesInput{Filters: []Filter{{"is-public", []string{"true"}}}}, []string{"nimbus-busybox-x86_64"}},
		{"executable by all", describeImagesInput{ExecutableUsers: []string{"all"}}, []string{"nimbus-busybox-x86_64"}},
		{"executable by self", describeImagesInput{ExecutableUsers: []string{"self"}}, []string{"my-app v1", "nimbus-busybox-x86_64"}},
		{"name wildcard", describeImagesInput{Filters: []Filter{{"name", []string{"my-*"}}, {"state", []string{"available"}}}}, []string{"my-app v1"}},
		{"owner-id", describeImagesInput{Filters: []Filter{{"owner-id", []string{builtinImageOwnerID}}}}, []string{"nimbus-busybox-x86_64"}},
	}
	for _, tc := range cases {
		out, err := e.describeImages(ctx, &tc.in)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		got := imageNames(out.Images)
		want := tc.want
		for i, w := range want {
			if w == "nimbus-busybox-x86_64" {
				want = slices.Clone(want)
				want[i] = "nimbus-busybox-" + awsArchitecture(mustBusyboxArch(t, e))
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, want)
		}
	}
	_, err = e.describeImages(ctx, &describeImagesInput{ImageIds: []string{"ami-0123456789abcdef0"}})
	wantCode(t, "describe missing", err, "InvalidAMIID.NotFound")
	_, err = e.describeImages(ctx, &describeImagesInput{ImageIds: []string{"ami-12"}})
	wantCode(t, "describe malformed", err, "InvalidAMIID.Malformed")
	_, err = e.describeImages(ctx, &describeImagesInput{Owners: []string{"someone"}})
	wantCode(t, "bad owner", err, "InvalidUserID.Malformed")

	if _, err := e.deregisterImage(ctx, &deregisterImageInput{ImageId: reg.ImageId}); err != nil {
		t.Fatal(err)
	}
	_, err = e.deregisterImage(ctx, &deregisterImageInput{ImageId: reg.ImageId})
	wantCode(t, "deregister twice", err, "InvalidAMIID.NotFound")
	// The name is free again.
	if _, err := e.registerImage(ctx, &registerImageInput{Name: "my-app v1", ImageLocation: "nimbus:busybox:latest"}); err != nil {
		t.Errorf("reuse a deregistered name: %v", err)
	}
}

func mustBusyboxArch(t *testing.T, e *EC2) string {
	img, err := e.amis.images.Get(callIn("us-east-1"), "busybox:latest")
	if err != nil {
		t.Fatal(err)
	}
	return img.Architecture
}

func TestImagesWithoutImageStore(t *testing.T) {
	e := catalogEC2(t)
	ctx := callIn("us-east-1")
	out, err := e.describeImages(ctx, &describeImagesInput{})
	if err != nil || len(out.Images) != 0 {
		t.Errorf("describe without a store: %+v %v", out, err)
	}
	_, err = e.registerImage(ctx, &registerImageInput{Name: "abc", ImageLocation: "nimbus:busybox:latest"})
	wantCode(t, "register without a store", err, "Unsupported")
}
