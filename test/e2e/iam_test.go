package e2e

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

// IAM is enforced by the running binary: a new user can do nothing, a
// managed policy grants exactly its actions, an explicit deny wins, and a
// role's temporary credentials carry the role's permissions.
func TestIAMEnforced(t *testing.T) {
	n := startNimbus(t, "")
	ctx := context.Background()
	admin := iam.NewFromConfig(n.cfg())
	if _, err := admin.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("alice")}); err != nil {
		t.Fatal(err)
	}
	key, err := admin.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("alice")})
	if err != nil {
		t.Fatal(err)
	}
	alice := n.awsConfig("us-east-1", aws.ToString(key.AccessKey.AccessKeyId), aws.ToString(key.AccessKey.SecretAccessKey))
	who, err := sts.NewFromConfig(alice).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || aws.ToString(who.Arn) != "arn:aws:iam::000000000000:user/alice" {
		t.Fatalf("alice's identity: %v %v", who, err)
	}
	aliceEC2 := ec2.NewFromConfig(alice)
	_, err = aliceEC2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
	if code := apiErrorCode(err); code != "UnauthorizedOperation" {
		t.Fatalf("a user without policies: %v", err)
	}
	if _, err := admin.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("alice"),
		PolicyArn: aws.String("arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess")}); err != nil {
		t.Fatal(err)
	}
	if _, err := aliceEC2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{}); err != nil {
		t.Errorf("read-only EC2 user describing instances: %v", err)
	}
	_, err = aliceEC2.CreateKeyPair(ctx, &ec2.CreateKeyPairInput{KeyName: aws.String("k")})
	if code := apiErrorCode(err); code != "UnauthorizedOperation" {
		t.Errorf("read-only EC2 user creating a key pair: %v", err)
	}
	deny := `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"ec2:DescribeInstances","Resource":"*"}]}`
	if _, err := admin.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("alice"),
		PolicyName: aws.String("no-describe"), PolicyDocument: aws.String(deny)}); err != nil {
		t.Fatal(err)
	}
	_, err = aliceEC2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "UnauthorizedOperation" || !strings.Contains(ae.ErrorMessage(), "ec2:DescribeInstances") {
		t.Errorf("explicit deny: %v", err)
	}
	if _, err := aliceEC2.DescribeRegions(ctx, &ec2.DescribeRegionsInput{}); err != nil {
		t.Errorf("an action the deny does not name: %v", err)
	}

	// A role alice may assume, with EC2 full access.
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:user/alice"},"Action":"sts:AssumeRole"}]}`
	if _, err := admin.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("ops"), AssumeRolePolicyDocument: aws.String(trust)}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("ops"),
		PolicyArn: aws.String("arn:aws:iam::aws:policy/AmazonEC2FullAccess")}); err != nil {
		t.Fatal(err)
	}
	allowAssume := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"arn:aws:iam::000000000000:role/ops"}]}`
	if _, err := admin.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("alice"),
		PolicyName: aws.String("assume-ops"), PolicyDocument: aws.String(allowAssume)}); err != nil {
		t.Fatal(err)
	}
	assumed, err := sts.NewFromConfig(alice).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::000000000000:role/ops"),
		RoleSessionName: aws.String("shift"), DurationSeconds: aws.Int32(900)})
	if err != nil {
		t.Fatal(err)
	}
	c := assumed.Credentials
	if !strings.HasPrefix(aws.ToString(c.AccessKeyId), "ASIA") || time.Until(aws.ToTime(c.Expiration)) > 15*time.Minute {
		t.Errorf("role credentials: %+v", c)
	}
	role := n.awsConfig("us-east-1", aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey))
	role.Credentials = staticSession(aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken))
	if _, err := ec2.NewFromConfig(role).CreateKeyPair(ctx, &ec2.CreateKeyPairInput{KeyName: aws.String("from-role")}); err != nil {
		t.Errorf("the role's EC2 full access: %v", err)
	}
	_, err = iam.NewFromConfig(role).ListUsers(ctx, &iam.ListUsersInput{})
	if code := apiErrorCode(err); code != "AccessDenied" {
		t.Errorf("the role listing IAM users: %v", err)
	}
	// Without its session token the role's key is refused.
	_, err = ec2.NewFromConfig(n.awsConfig("us-east-1", aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey))).
		DescribeRegions(ctx, &ec2.DescribeRegionsInput{})
	if err == nil {
		t.Error("a session key without its token was accepted")
	}
}

// A bucket policy grants a user what no identity policy of theirs does,
// and only that.
func TestS3BucketPolicyEnforced(t *testing.T) {
	n := startNimbus(t, "")
	ctx := context.Background()
	admin := iam.NewFromConfig(n.cfg())
	if _, err := admin.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("reader")}); err != nil {
		t.Fatal(err)
	}
	key, err := admin.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("reader")})
	if err != nil {
		t.Fatal(err)
	}
	root := s3.NewFromConfig(n.cfg(), func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := root.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("shared")}); err != nil {
		t.Fatal(err)
	}
	if _, err := root.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("shared"), Key: aws.String("doc.txt"),
		Body: strings.NewReader("hello")}); err != nil {
		t.Fatal(err)
	}
	reader := s3.NewFromConfig(n.awsConfig("us-east-1", aws.ToString(key.AccessKey.AccessKeyId), aws.ToString(key.AccessKey.SecretAccessKey)),
		func(o *s3.Options) { o.UsePathStyle = true })
	get := func() error {
		out, err := reader.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("shared"), Key: aws.String("doc.txt")})
		if err == nil {
			out.Body.Close()
		}
		return err
	}
	if code := apiErrorCode(get()); code != "AccessDenied" {
		t.Fatalf("a user without policies reading: %q", code)
	}
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:user/reader"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::shared/*"}]}`
	if _, err := root.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("shared"), Policy: aws.String(doc)}); err != nil {
		t.Fatal(err)
	}
	if err := get(); err != nil {
		t.Errorf("reading with the bucket policy's grant: %v", err)
	}
	_, err = reader.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("shared"), Key: aws.String("x"), Body: strings.NewReader("x")})
	if code := apiErrorCode(err); code != "AccessDenied" {
		t.Errorf("writing, which the bucket policy does not grant: %v", err)
	}
}
