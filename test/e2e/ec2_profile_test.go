package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

const ec2AssumeRolePolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`

// TestEC2InstanceProfileReal launches an instance with an IAM instance
// profile through the real binary: the instance reads its role's
// credentials from IMDS, and those credentials carry exactly the role's
// permissions.
func TestEC2InstanceProfileReal(t *testing.T) {
	requireRealSandboxes(t)
	n := startRealNimbus(t, "")
	ctx := context.Background()
	client := instancesClient(n)
	admin := iam.NewFromConfig(n.cfg())
	ami := busyboxAMI(t, client)
	if _, err := admin.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("app-role"),
		AssumeRolePolicyDocument: aws.String(ec2AssumeRolePolicy)}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("app-role"),
		PolicyArn: aws.String("arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess")}); err != nil {
		t.Fatal(err)
	}
	profile, err := admin.CreateInstanceProfile(ctx, &iam.CreateInstanceProfileInput{InstanceProfileName: aws.String("app-profile")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.AddRoleToInstanceProfile(ctx, &iam.AddRoleToInstanceProfileInput{InstanceProfileName: aws.String("app-profile"),
		RoleName: aws.String("app-role")}); err != nil {
		t.Fatal(err)
	}

	userData := `#!/bin/sh
M=http://169.254.169.254/latest/meta-data/iam
i=0
while [ $i -lt 10 ]; do
	role=$(wget -q -O - $M/security-credentials/ 2>/dev/null) && break
	i=$((i+1)); sleep 1
done
if [ -z "$role" ]; then echo "no-iam-in-imds"; exit 0; fi
echo "role: $role"
echo "BEGIN-CREDENTIALS"; wget -q -O - $M/security-credentials/$role; echo; echo "END-CREDENTIALS"
`
	run, err := client.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(ami), MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		IamInstanceProfile: &ec2types.IamInstanceProfileSpecification{Name: aws.String("app-profile")},
		UserData:           aws.String(base64.StdEncoding.EncodeToString([]byte(userData)))})
	if err != nil {
		if code, msg := apiCode(t, err); code == "Unsupported" {
			t.Skipf("the binary does not hand IAM to EC2 yet (ec2.Options.InstanceProfiles): %s", msg)
		}
		t.Fatal(err)
	}
	id := aws.ToString(run.Instances[0].InstanceId)
	if p := run.Instances[0].IamInstanceProfile; p == nil || aws.ToString(p.Arn) != aws.ToString(profile.InstanceProfile.Arn) {
		t.Errorf("RunInstances IamInstanceProfile = %+v, want %s", p, aws.ToString(profile.InstanceProfile.Arn))
	}
	waitRunning(t, client, id)
	assocs, err := client.DescribeIamInstanceProfileAssociations(ctx, &ec2.DescribeIamInstanceProfileAssociationsInput{
		Filters: []ec2types.Filter{filter("instance-id", id)}})
	if err != nil || len(assocs.IamInstanceProfileAssociations) != 1 ||
		assocs.IamInstanceProfileAssociations[0].State != ec2types.IamInstanceProfileAssociationStateAssociated {
		t.Errorf("associations of %s = %+v, %v", id, assocs, err)
	}

	var console string
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		console = consoleText(t, client, id)
		if strings.Contains(console, "END-CREDENTIALS") || strings.Contains(console, "no-iam-in-imds") {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if strings.Contains(console, "no-iam-in-imds") {
		t.Skip("the binary's instance controller has no IAM (InstanceControllerOptions.InstanceProfiles): IMDS serves no iam/")
	}
	if !strings.Contains(console, "role: app-role") {
		t.Fatalf("IMDS did not name the role; console:\n%s", console)
	}
	start := strings.Index(console, "BEGIN-CREDENTIALS")
	end := strings.Index(console, "END-CREDENTIALS")
	if start < 0 || end < start {
		t.Fatalf("no credentials on the console:\n%s", console)
	}
	var creds struct {
		Code, Type, AccessKeyId, SecretAccessKey, Token, Expiration string
	}
	if err := json.Unmarshal([]byte(console[start+len("BEGIN-CREDENTIALS"):end]), &creds); err != nil {
		t.Fatalf("credentials document: %v\n%s", err, console)
	}
	if creds.Code != "Success" || creds.Type != "AWS-HMAC" || !strings.HasPrefix(creds.AccessKeyId, "ASIA") {
		t.Errorf("credentials = %+v", creds)
	}

	// What an SDK inside the instance does with them: it is the role.
	cfg := n.awsConfig("us-east-1", creds.AccessKeyId, creds.SecretAccessKey)
	cfg.Credentials = staticSession(creds.AccessKeyId, creds.SecretAccessKey, creds.Token)
	who, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || aws.ToString(who.Arn) != "arn:aws:sts::000000000000:assumed-role/app-role/"+id {
		t.Errorf("the instance's identity = %v, %v", who, err)
	}
	asRole := ec2.NewFromConfig(cfg)
	if _, err := asRole.DescribeInstances(ctx, &ec2.DescribeInstancesInput{}); err != nil {
		t.Errorf("the role's read-only EC2 access: %v", err)
	}
	_, err = asRole.CreateKeyPair(ctx, &ec2.CreateKeyPairInput{KeyName: aws.String("not-allowed")})
	if code, _ := apiCode(t, err); code != "UnauthorizedOperation" {
		t.Errorf("the role creating a key pair: %v", err)
	}

	// Disassociated, the instance's description drops the profile.
	if _, err := client.DisassociateIamInstanceProfile(ctx, &ec2.DisassociateIamInstanceProfileInput{
		AssociationId: assocs.IamInstanceProfileAssociations[0].AssociationId}); err != nil {
		t.Fatal(err)
	}
	if p := describeOne(t, client, id).IamInstanceProfile; p != nil {
		t.Errorf("profile after disassociation = %+v", p)
	}
}
