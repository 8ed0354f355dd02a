package e2e

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// TestEC2CreateImageReal images a real instance whose user data wrote a
// file into its root, waits for the AMI with the SDK's waiter, launches an
// instance of it that prints the file, and deregisters the AMI.
func TestEC2CreateImageReal(t *testing.T) {
	requireRealSandboxes(t)
	n := startRealNimbus(t, "")
	ctx := context.Background()
	client := instancesClient(n)
	ami := busyboxAMI(t, client)

	var tok [6]byte
	rand.Read(tok[:])
	marker := "CAPTURED-" + hex.EncodeToString(tok[:])
	first := runWithUserData(t, client, ami, fmt.Sprintf("#!/bin/sh\necho %s > /etc/captured && sync && echo wrote-root\n", marker))
	waitConsole(t, client, first, "wrote-root")

	_, err := client.CreateImage(ctx, &ec2.CreateImageInput{InstanceId: aws.String("i-0123456789abcdef0"), Name: aws.String("e2e-capture")})
	if code, _ := apiCode(t, err); code != "InvalidInstanceID.NotFound" {
		t.Errorf("CreateImage of an unknown instance: %s", code)
	}
	out, err := client.CreateImage(ctx, &ec2.CreateImageInput{InstanceId: aws.String(first), Name: aws.String("e2e-capture"),
		Description: aws.String("captured by e2e"), TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeImage,
			Tags: []ec2types.Tag{{Key: aws.String("Name"), Value: aws.String("e2e")}}}}})
	if err != nil {
		t.Fatal(err)
	}
	imageID := aws.ToString(out.ImageId)
	_, err = client.CreateImage(ctx, &ec2.CreateImageInput{InstanceId: aws.String(first), Name: aws.String("e2e-capture")})
	if code, _ := apiCode(t, err); code != "InvalidAMIName.Duplicate" {
		t.Errorf("CreateImage with a used name: %s", code)
	}
	err = ec2.NewImageAvailableWaiter(client, func(o *ec2.ImageAvailableWaiterOptions) {
		o.MinDelay, o.MaxDelay = 50*time.Millisecond, 500*time.Millisecond
	}).Wait(ctx, &ec2.DescribeImagesInput{ImageIds: []string{imageID}}, 2*time.Minute)
	if err != nil {
		t.Fatalf("wait image available: %v", err)
	}
	mine, err := client.DescribeImages(ctx, &ec2.DescribeImagesInput{Owners: []string{"self"},
		Filters: []ec2types.Filter{{Name: aws.String("name"), Values: []string{"e2e-*"}}}})
	if err != nil || len(mine.Images) != 1 {
		t.Fatalf("DescribeImages Owners=self = %+v, %v", mine, err)
	}
	img := mine.Images[0]
	if aws.ToString(img.ImageId) != imageID || img.State != ec2types.ImageStateAvailable || aws.ToString(img.RootDeviceName) != "/dev/xvda" ||
		img.VirtualizationType != ec2types.VirtualizationTypeHvm || img.ImageType != ec2types.ImageTypeValuesMachine ||
		aws.ToString(img.Description) != "captured by e2e" || len(img.Tags) != 1 {
		t.Errorf("captured image = %+v", img)
	}

	second := runWithUserData(t, client, imageID, "#!/bin/sh\necho \"read: $(cat /etc/captured)\"\n")
	waitConsole(t, client, second, "read: "+marker)

	if _, err := client.DeregisterImage(ctx, &ec2.DeregisterImageInput{ImageId: aws.String(imageID)}); err != nil {
		t.Fatal(err)
	}
	_, err = client.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{imageID}})
	if code, _ := apiCode(t, err); code != "InvalidAMIID.NotFound" {
		t.Errorf("DescribeImages after deregister: %s", code)
	}
	if _, err := client.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{first, second}}); err != nil {
		t.Fatal(err)
	}
	waitTerminated(t, client, first, second)
}

func runWithUserData(t *testing.T, client *ec2.Client, ami, userData string) string {
	t.Helper()
	run, err := client.RunInstances(context.Background(), &ec2.RunInstancesInput{ImageId: aws.String(ami), MinCount: aws.Int32(1),
		MaxCount: aws.Int32(1), UserData: aws.String(base64.StdEncoding.EncodeToString([]byte(userData)))})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(run.Instances[0].InstanceId)
	waitRunning(t, client, id)
	return id
}

// waitConsole waits until the instance's console shows want.
func waitConsole(t *testing.T, client *ec2.Client, id, want string) {
	t.Helper()
	var console string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if console = consoleText(t, client, id); strings.Contains(console, want) {
			return
		}
	}
	t.Fatalf("console of %s never showed %q:\n%s", id, want, console)
}
