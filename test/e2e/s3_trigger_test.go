package e2e

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// The function reads the uploaded object back through nimbus's S3 with
// its execution role's credentials (botocore from the host's python3, as
// boto3 is in Lambda's Python runtime) and writes a result object.
const uppercaseHandler = `import os, urllib.parse
import botocore.exceptions
import botocore.session

def handler(event, context):
    rec = event["Records"][0]
    bucket = rec["s3"]["bucket"]["name"]
    key = urllib.parse.unquote_plus(rec["s3"]["object"]["key"])
    s3 = botocore.session.get_session().create_client("s3", region_name=os.environ["AWS_REGION"],
                                                      endpoint_url=os.environ["AWS_ENDPOINT_URL"])
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    s3.put_object(Bucket=bucket, Key="out/" + key + ".upper", Body=body.upper())
    print("processed", key, rec["eventName"], rec["s3"]["object"]["size"])
    # The role allows S3 only: IAM refuses the rest.
    iam = botocore.session.get_session().create_client("iam", region_name=os.environ["AWS_REGION"],
                                                       endpoint_url=os.environ["AWS_ENDPOINT_URL"])
    try:
        iam.list_users()
        print("iam allowed")
    except botocore.exceptions.ClientError as e:
        print("iam denied", e.response["Error"]["Code"])
`

// The seed's example trigger: an object uploaded with the AWS CLI starts a
// Python function that preprocesses it, with its role's permissions.
func TestS3UploadTriggersLambda(t *testing.T) {
	requireLambdaRuntimes(t, "/usr/bin/python3", "/usr/lib/python3/dist-packages/botocore")
	n := startRealNimbus(t, "")
	ctx := context.Background()
	admin := iam.NewFromConfig(n.cfg())
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
	role, err := admin.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("uppercaser"), AssumeRolePolicyDocument: aws.String(trust)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("uppercaser"),
		PolicyArn: aws.String("arn:aws:iam::aws:policy/AmazonS3FullAccess")}); err != nil {
		t.Fatal(err)
	}
	s3c := s3.NewFromConfig(n.cfg(), func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("uploads")}); err != nil {
		t.Fatal(err)
	}
	lc := lambdaClient(n)
	fn := createFunction(t, lc, &lambda.CreateFunctionInput{FunctionName: aws.String("uppercase"),
		Runtime: lambdatypes.RuntimePython311, Handler: aws.String("app.handler"), Role: role.Role.Arn, Timeout: aws.Int32(30),
		Code: &lambdatypes.FunctionCode{ZipFile: zipOf(t, map[string][]byte{"app.py": []byte(uppercaseHandler)})}})
	notify := &s3.PutBucketNotificationConfigurationInput{Bucket: aws.String("uploads"),
		NotificationConfiguration: &s3types.NotificationConfiguration{LambdaFunctionConfigurations: []s3types.LambdaFunctionConfiguration{{
			LambdaFunctionArn: fn.FunctionArn, Events: []s3types.Event{"s3:ObjectCreated:*"},
			Filter: &s3types.NotificationConfigurationFilter{Key: &s3types.S3KeyFilter{FilterRules: []s3types.FilterRule{
				{Name: s3types.FilterRuleNamePrefix, Value: aws.String("in/")}}}},
		}}}}
	// As on AWS, S3 refuses a function that has not allowed it.
	if _, err := s3c.PutBucketNotificationConfiguration(ctx, notify); apiErrorCode(err) != "InvalidArgument" {
		t.Errorf("notification to a function that does not allow S3: %v", err)
	}
	if _, err := lc.AddPermission(ctx, &lambda.AddPermissionInput{FunctionName: aws.String("uppercase"),
		StatementId: aws.String("s3"), Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("s3.amazonaws.com"),
		SourceArn: aws.String("arn:aws:s3:::uploads")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s3c.PutBucketNotificationConfiguration(ctx, notify); err != nil {
		t.Fatal(err)
	}

	local := filepath.Join(t.TempDir(), "hello.txt")
	os.WriteFile(local, []byte("hello from the cli\n"), 0o644)
	if _, err := n.cli(t, nil, "s3", "cp", local, "s3://uploads/in/hello world.txt"); err != nil {
		t.Fatal(err)
	}
	var got string
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		out, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("uploads"), Key: aws.String("out/in/hello world.txt.upper")})
		if err == nil {
			b, _ := io.ReadAll(out.Body)
			out.Body.Close()
			got = string(b)
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if got != "HELLO FROM THE CLI\n" {
		t.Fatalf("result object = %q; nimbus log:\n%s", got, n.Log())
	}
	// The result object is outside the prefix: it triggered nothing, and
	// the function's log is in CloudWatch Logs.
	var listing struct{ Contents []struct{ Key string } }
	if _, err := n.cli(t, &listing, "s3api", "list-objects-v2", "--bucket", "uploads"); err != nil {
		t.Fatal(err)
	}
	if len(listing.Contents) != 2 {
		t.Errorf("objects: %+v", listing.Contents)
	}
	waitForLog(t, n, "/aws/lambda/uppercase", "processed in/hello world.txt ObjectCreated:Put 19")
	waitForLog(t, n, "/aws/lambda/uppercase", "iam denied AccessDenied")
}

// waitForLog waits until a line containing want is in the log group.
func waitForLog(t *testing.T, n *Nimbus, group, want string) {
	t.Helper()
	logs := logsClient(n)
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := logs.FilterLogEvents(context.Background(), &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String(group)})
		if err == nil {
			for _, e := range out.Events {
				if strings.Contains(aws.ToString(e.Message), want) {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q in %s (last error %v)", want, group, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// An upload's event is durable from the moment the upload is acknowledged:
// a kill -9 right after it loses nothing, and the restarted nimbus invokes
// the function.
func TestS3EventSurvivesKill(t *testing.T) {
	requireLambdaRuntimes(t, "/usr/bin/python3")
	dataDir := t.TempDir()
	n := startRealNimbus(t, dataDir)
	ctx := context.Background()
	s3c := s3.NewFromConfig(n.cfg(), func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("inbox")}); err != nil {
		t.Fatal(err)
	}
	lc := lambdaClient(n)
	fn := createFunction(t, lc, &lambda.CreateFunctionInput{FunctionName: aws.String("on-inbox"),
		Runtime: lambdatypes.RuntimePython311, Handler: aws.String("app.handler"),
		Code: &lambdatypes.FunctionCode{ZipFile: zipOf(t, map[string][]byte{"app.py": []byte(
			"def handler(event, context):\n    print('got', event['Records'][0]['s3']['object']['key'])\n")})}})
	if _, err := lc.AddPermission(ctx, &lambda.AddPermissionInput{FunctionName: aws.String("on-inbox"),
		StatementId: aws.String("s3"), Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("s3.amazonaws.com"),
		SourceArn: aws.String("arn:aws:s3:::inbox")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s3c.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{Bucket: aws.String("inbox"),
		NotificationConfiguration: &s3types.NotificationConfiguration{LambdaFunctionConfigurations: []s3types.LambdaFunctionConfiguration{{
			LambdaFunctionArn: fn.FunctionArn, Events: []s3types.Event{"s3:ObjectCreated:*"}}}}}); err != nil {
		t.Fatal(err)
	}
	keys := []string{"a.txt", "b.txt", "c.txt"}
	for _, k := range keys {
		if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("inbox"), Key: aws.String(k),
			Body: strings.NewReader("x")}); err != nil {
			t.Fatal(err)
		}
	}
	n.Kill()
	n = startRealNimbus(t, dataDir)
	for _, k := range keys {
		waitForLog(t, n, "/aws/lambda/on-inbox", "got "+k)
	}
}
