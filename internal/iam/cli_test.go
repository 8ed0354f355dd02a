package iam_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"
)

// TestAWSCLI drives IAM and STS with Debian's AWS CLI v2: a user's own
// access keys, denial wording, and the URL-encoded documents the CLI
// decodes back into JSON.
func TestAWSCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("the AWS CLI takes seconds to start")
	}
	cli, err := exec.LookPath("aws")
	if err != nil {
		t.Skip("the AWS CLI (aws) is not installed")
	}
	endpoint := serve(t)
	run := func(key, secret string, args ...string) (string, error) {
		t.Helper()
		cmd := exec.Command(cli, append([]string{"--endpoint-url", endpoint, "--region", "us-east-1", "--output", "json"}, args...)...)
		cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID="+key, "AWS_SECRET_ACCESS_KEY="+secret, "AWS_PAGER=",
			"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	// Root sets up through the SDK (the CLI takes seconds per call).
	ctx := context.Background()
	root := awsiam.NewFromConfig(cfg(endpoint, "test", "test", ""))
	if _, err := root.CreateUser(ctx, &awsiam.CreateUserInput{UserName: aws.String("cli")}); err != nil {
		t.Fatal(err)
	}
	if _, err := root.AttachUserPolicy(ctx, &awsiam.AttachUserPolicyInput{UserName: aws.String("cli"),
		PolicyArn: aws.String("arn:aws:iam::aws:policy/IAMReadOnlyAccess")}); err != nil {
		t.Fatal(err)
	}
	if _, err := root.CreateRole(ctx, &awsiam.CreateRoleInput{RoleName: aws.String("r"), AssumeRolePolicyDocument: aws.String(
		`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}}`)}); err != nil {
		t.Fatal(err)
	}
	key, err := root.CreateAccessKey(ctx, &awsiam.CreateAccessKeyInput{UserName: aws.String("cli")})
	if err != nil {
		t.Fatal(err)
	}
	id, secret := aws.ToString(key.AccessKey.AccessKeyId), aws.ToString(key.AccessKey.SecretAccessKey)

	out, err := run(id, secret, "iam", "get-role", "--role-name", "r")
	if err != nil {
		t.Fatalf("user get-role: %v\n%s", err, out)
	}
	var role struct {
		Role struct{ AssumeRolePolicyDocument map[string]any }
	}
	if err := json.Unmarshal([]byte(out), &role); err != nil || role.Role.AssumeRolePolicyDocument["Version"] != "2012-10-17" {
		t.Errorf("the CLI did not decode the trust policy: %v\n%s", err, out)
	}
	out, err = run(id, secret, "sts", "get-caller-identity")
	if err != nil || !strings.Contains(out, `"arn:aws:iam::000000000000:user/cli"`) {
		t.Errorf("get-caller-identity: %v\n%s", err, out)
	}
	out, err = run(id, secret, "iam", "create-user", "--user-name", "intruder")
	if err == nil || !strings.Contains(out, "AccessDenied") ||
		!strings.Contains(out, "User: arn:aws:iam::000000000000:user/cli is not authorized to perform: iam:CreateUser on resource: arn:aws:iam::000000000000:user/intruder") {
		t.Errorf("denied create-user: %v\n%s", err, out)
	}
}
