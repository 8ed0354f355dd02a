package lambda

import (
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
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
