package iam_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscreds "github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/nimbus-dev/nimbus/internal/credentials"
	nimbusec2 "github.com/nimbus-dev/nimbus/internal/ec2"
	"github.com/nimbus-dev/nimbus/internal/edge"
	"github.com/nimbus-dev/nimbus/internal/iam"
	"github.com/nimbus-dev/nimbus/internal/region"
	"github.com/nimbus-dev/nimbus/internal/service"
	"github.com/nimbus-dev/nimbus/internal/store/sqlitestore"
	nimbussts "github.com/nimbus-dev/nimbus/internal/sts"
)

const account = "000000000000"

// The directory plugs into the edge as its credentials source and authorizer.
var (
	_ edge.Authorizer    = (*iam.Authorizer)(nil)
	_ credentials.Source = (*iam.IAM)(nil)
)

// serve runs the edge over IAM, STS and EC2 wired as internal/server
// should wire them: IAM's directory in the credentials chain and as the
// authorizer.
func serve(t *testing.T) string {
	t.Helper()
	st := sqlitestore.OpenTemp(t)
	dir := iam.New(iam.Options{Store: st})
	iamSvc, err := dir.Service()
	if err != nil {
		t.Fatal(err)
	}
	stsSvc, err := nimbussts.New(nimbussts.WithIAM(dir))
	if err != nil {
		t.Fatal(err)
	}
	regions, _ := region.NewCatalog(nil, false)
	ec2Svc, err := nimbusec2.New(nimbusec2.Options{Store: st, Regions: regions})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := edge.New(edge.Options{
		Services:    []*service.Service{iamSvc, stsSvc, ec2Svc},
		Credentials: credentials.Chain{credentials.Root(account, "test", "test"), dir},
		Account:     account,
		Regions:     regions,
		Region:      "us-east-1",
		Authorizer:  dir.Authorizer(),
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	return hs.URL
}

func cfg(endpoint, key, secret, token string) aws.Config {
	return aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(endpoint), RetryMaxAttempts: 1,
		Credentials: awscreds.NewStaticCredentialsProvider(key, secret, token)}
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// TestSDKUserAndRoleAreEnforced drives IAM, STS and EC2 with aws-sdk-go-v2:
// root creates a user and a role, the user's own keys are allowed and
// denied by its policy, and the role's credentials by the role's.
func TestSDKUserAndRoleAreEnforced(t *testing.T) {
	endpoint := serve(t)
	ctx := context.Background()
	root := awsiam.NewFromConfig(cfg(endpoint, "test", "test", ""))

	if _, err := root.CreateUser(ctx, &awsiam.CreateUserInput{UserName: aws.String("alice"),
		Tags: []iamtypes.Tag{{Key: aws.String("team"), Value: aws.String("blue")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := root.CreateUser(ctx, &awsiam.CreateUserInput{UserName: aws.String("alice")}); apiCode(err) != "EntityAlreadyExists" {
		t.Errorf("duplicate CreateUser = %v", err)
	}
	if _, err := root.GetUser(ctx, &awsiam.GetUserInput{UserName: aws.String("nobody")}); apiCode(err) != "NoSuchEntity" {
		t.Errorf("GetUser missing = %v", err)
	}
	if _, err := root.PutUserPolicy(ctx, &awsiam.PutUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String("p"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ec2:DescribeRegions"}}`)}); apiCode(err) != "MalformedPolicyDocument" {
		t.Errorf("malformed PutUserPolicy = %v", err)
	}
	if _, err := root.PutUserPolicy(ctx, &awsiam.PutUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String("p"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ec2:DescribeRegions","sts:AssumeRole"],"Resource":"*"}]}`)}); err != nil {
		t.Fatal(err)
	}
	key, err := root.CreateAccessKey(ctx, &awsiam.CreateAccessKeyInput{UserName: aws.String("alice")})
	if err != nil {
		t.Fatal(err)
	}
	trust := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:user/alice"},"Action":"sts:AssumeRole"}}`
	if _, err := root.CreateRole(ctx, &awsiam.CreateRoleInput{RoleName: aws.String("reader"), AssumeRolePolicyDocument: aws.String(trust)}); err != nil {
		t.Fatal(err)
	}
	role, err := root.GetRole(ctx, &awsiam.GetRoleInput{RoleName: aws.String("reader")})
	if err != nil {
		t.Fatal(err)
	}
	if doc, _ := urlUnescape(aws.ToString(role.Role.AssumeRolePolicyDocument)); doc != trust || role.Role.CreateDate == nil {
		t.Errorf("GetRole = %+v", role.Role)
	}
	if _, err := root.AttachRolePolicy(ctx, &awsiam.AttachRolePolicyInput{RoleName: aws.String("reader"),
		PolicyArn: aws.String("arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess")}); err != nil {
		t.Fatal(err)
	}

	aliceCfg := cfg(endpoint, aws.ToString(key.AccessKey.AccessKeyId), aws.ToString(key.AccessKey.SecretAccessKey), "")
	who, err := sts.NewFromConfig(aliceCfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || aws.ToString(who.Arn) != "arn:aws:iam::000000000000:user/alice" {
		t.Fatalf("alice GetCallerIdentity = %v, %v", who, err)
	}
	aliceEC2 := ec2.NewFromConfig(aliceCfg)
	if _, err := aliceEC2.DescribeRegions(ctx, &ec2.DescribeRegionsInput{}); err != nil {
		t.Errorf("allowed DescribeRegions: %v", err)
	}
	_, err = aliceEC2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
	if apiCode(err) != "UnauthorizedOperation" {
		t.Fatalf("denied DescribeInstances = %v", err)
	}
	// The encoded authorization message decodes through STS.
	var ae smithy.APIError
	errors.As(err, &ae)
	_, encoded, ok := strings.Cut(ae.ErrorMessage(), "Encoded authorization failure message: ")
	if !ok {
		t.Fatalf("no encoded message in %q", ae.ErrorMessage())
	}
	decoded, err := sts.NewFromConfig(cfg(endpoint, "test", "test", "")).DecodeAuthorizationMessage(ctx,
		&sts.DecodeAuthorizationMessageInput{EncodedMessage: aws.String(encoded)})
	if err != nil || !strings.Contains(aws.ToString(decoded.DecodedMessage), `"action":"ec2:DescribeInstances"`) {
		t.Errorf("DecodeAuthorizationMessage = %v, %v", decoded, err)
	}
	if _, err := awsiam.NewFromConfig(aliceCfg).ListUsers(ctx, &awsiam.ListUsersInput{}); apiCode(err) != "AccessDenied" {
		t.Errorf("denied ListUsers = %v", err)
	}

	assumed, err := sts.NewFromConfig(aliceCfg).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: role.Role.Arn,
		RoleSessionName: aws.String("audit"), DurationSeconds: aws.Int32(900)})
	if err != nil {
		t.Fatal(err)
	}
	c := assumed.Credentials
	roleCfg := cfg(endpoint, aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken))
	who, err = sts.NewFromConfig(roleCfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || aws.ToString(who.Arn) != "arn:aws:sts::000000000000:assumed-role/reader/audit" {
		t.Fatalf("role GetCallerIdentity = %v, %v", who, err)
	}
	if _, err := ec2.NewFromConfig(roleCfg).DescribeInstances(ctx, &ec2.DescribeInstancesInput{}); err != nil {
		t.Errorf("role DescribeInstances: %v", err)
	}
	if _, err := ec2.NewFromConfig(roleCfg).CreateKeyPair(ctx, &ec2.CreateKeyPairInput{KeyName: aws.String("k")}); apiCode(err) != "UnauthorizedOperation" {
		t.Errorf("role CreateKeyPair = %v", err)
	}
	// The session token is part of the credentials.
	bad := cfg(endpoint, aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), "wrong")
	if _, err := sts.NewFromConfig(bad).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err == nil {
		t.Error("wrong session token accepted")
	}

	// Pagination through the SDK's own paginator.
	for _, n := range []string{"u1", "u2", "u3"} {
		if _, err := root.CreateUser(ctx, &awsiam.CreateUserInput{UserName: aws.String(n)}); err != nil {
			t.Fatal(err)
		}
	}
	pages, total := 0, 0
	p := awsiam.NewListUsersPaginator(root, &awsiam.ListUsersInput{MaxItems: aws.Int32(2)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		total += len(out.Users)
	}
	if pages != 2 || total != 4 {
		t.Errorf("paginated %d users in %d pages", total, pages)
	}
}

func urlUnescape(s string) (string, error) { return url.QueryUnescape(s) }
