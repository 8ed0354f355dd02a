package lambda

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/nimbus-dev/nimbus/internal/awserr"
)

func TestS3SourcePermissionAndEvents(t *testing.T) {
	h := newHarness(t, nil)
	h.createFunction(t, "on-upload", nil)
	arn := "arn:aws:lambda:us-east-1:000000000000:function:on-upload"
	bucket := "arn:aws:s3:::photos"

	ok, err := h.api.AllowsS3Invoke(ctx, arn, bucket, testAccount)
	if err != nil || ok {
		t.Fatalf("without a permission: %v %v", ok, err)
	}
	if _, err := h.client.AddPermission(ctx, &lambda.AddPermissionInput{FunctionName: aws.String("on-upload"),
		StatementId: aws.String("s3"), Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("s3.amazonaws.com"),
		SourceArn: aws.String(bucket), SourceAccount: aws.String(testAccount)}); err != nil {
		t.Fatal(err)
	}
	if ok, err := h.api.AllowsS3Invoke(ctx, arn, bucket, testAccount); err != nil || !ok {
		t.Errorf("with a permission for the bucket: %v %v", ok, err)
	}
	if ok, _ := h.api.AllowsS3Invoke(ctx, arn, "arn:aws:s3:::other", testAccount); ok {
		t.Error("a permission for one bucket allowed another")
	}
	if ok, _ := h.api.AllowsS3Invoke(ctx, arn+"-gone", bucket, testAccount); ok {
		t.Error("a missing function was allowed")
	}
	doc, err := h.api.ResourcePolicy(ctx, testAccount, arn)
	if err != nil || doc == "" {
		t.Errorf("ResourcePolicy = %q, %v", doc, err)
	}

	h.runDispatcher(t)
	if err := h.api.EnqueueEvent(ctx, arn, []byte(`{"Records":[]}`)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the S3 event to be delivered", func() bool { return len(h.invoker.invocations()) == 1 })
	if got := h.invoker.invocations()[0].req; string(got.Payload) != `{"Records":[]}` || got.InvokedARN != arn {
		t.Errorf("delivered %+v", got)
	}
	if err := h.api.EnqueueEvent(ctx, arn+"-gone", []byte(`{}`)); !errors.Is(err, ErrNoSuchFunction) {
		t.Errorf("event for a missing function: %v", err)
	}
}

func TestCodeFromS3(t *testing.T) {
	pkg := zipOf(t, map[string]string{"app.py": "def handler(e, c):\n    return 1\n"})
	h := newHarness(t, func(o *Options) {
		o.S3Objects = func(ctx context.Context, account, bucket, key string) (io.ReadCloser, int64, error) {
			switch {
			case bucket != "code":
				return nil, 0, &awserr.Error{Kind: awserr.NotFound, Code: "NoSuchBucket", Message: "The specified bucket does not exist"}
			case key != "fn.zip":
				return nil, 0, &awserr.Error{Kind: awserr.NotFound, Code: "NoSuchKey", Message: "The specified key does not exist."}
			}
			return io.NopCloser(bytes.NewReader(pkg)), int64(len(pkg)), nil
		}
	})
	create := func(bucket, key string) (*lambda.CreateFunctionOutput, error) {
		return h.client.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String("from-s3"),
			Runtime: "python3.11", Handler: aws.String("app.handler"), Role: aws.String("arn:aws:iam::000000000000:role/r"),
			Code: &types.FunctionCode{S3Bucket: aws.String(bucket), S3Key: aws.String(key)}})
	}
	_, err := create("nope", "fn.zip")
	wantAPIError(t, err, "InvalidParameterValueException", 400)
	if err == nil || !strings.Contains(err.Error(), "S3 Error Code: NoSuchBucket") {
		t.Errorf("missing bucket: %v", err)
	}
	_, err = create("code", "other.zip")
	if err == nil || !strings.Contains(err.Error(), "S3 Error Code: NoSuchKey") {
		t.Errorf("missing key: %v", err)
	}
	out, err := create("code", "fn.zip")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(pkg)
	if aws.ToString(out.CodeSha256) != base64.StdEncoding.EncodeToString(sum[:]) || out.CodeSize != int64(len(pkg)) {
		t.Errorf("package from S3: sha %s size %d", aws.ToString(out.CodeSha256), out.CodeSize)
	}
}
