package lambda

import (
	"encoding/json"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

func TestPermissions(t *testing.T) {
	h := newHarness(t, nil)
	h.createFunction(t, "p", func(in *lambda.CreateFunctionInput) { in.Publish = true })
	_, err := h.client.GetPolicy(ctx, &lambda.GetPolicyInput{FunctionName: aws.String("p")})
	wantAPIError(t, err, "ResourceNotFoundException", 404)

	added, err := h.client.AddPermission(ctx, &lambda.AddPermissionInput{FunctionName: aws.String("p"), StatementId: aws.String("s3"),
		Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("s3.amazonaws.com"),
		SourceArn: aws.String("arn:aws:s3:::bucket"), SourceAccount: aws.String("000000000000")})
	if err != nil {
		t.Fatal(err)
	}
	var stmt map[string]any
	if err := json.Unmarshal([]byte(aws.ToString(added.Statement)), &stmt); err != nil {
		t.Fatalf("Statement %q: %v", aws.ToString(added.Statement), err)
	}
	if stmt["Sid"] != "s3" || stmt["Effect"] != "Allow" || stmt["Resource"] != "arn:aws:lambda:us-east-1:000000000000:function:p" ||
		stmt["Principal"].(map[string]any)["Service"] != "s3.amazonaws.com" ||
		stmt["Condition"].(map[string]any)["ArnLike"].(map[string]any)["AWS:SourceArn"] != "arn:aws:s3:::bucket" {
		t.Errorf("statement %v", stmt)
	}
	_, err = h.client.AddPermission(ctx, &lambda.AddPermissionInput{FunctionName: aws.String("p"), StatementId: aws.String("s3"),
		Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("*")})
	wantAPIError(t, err, "ResourceConflictException", 409)
	if _, err := h.client.AddPermission(ctx, &lambda.AddPermissionInput{FunctionName: aws.String("p"), StatementId: aws.String("url"),
		Action: aws.String("lambda:InvokeFunctionUrl"), Principal: aws.String("*"), FunctionUrlAuthType: types.FunctionUrlAuthTypeNone}); err != nil {
		t.Fatal(err)
	}
	// A version has a policy of its own.
	if _, err := h.client.AddPermission(ctx, &lambda.AddPermissionInput{FunctionName: aws.String("p"), Qualifier: aws.String("1"), StatementId: aws.String("acct"),
		Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("111111111111")}); err != nil {
		t.Fatal(err)
	}
	pol, err := h.client.GetPolicy(ctx, &lambda.GetPolicyInput{FunctionName: aws.String("p")})
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Version   string
		Id        string
		Statement []map[string]any
	}
	if err := json.Unmarshal([]byte(aws.ToString(pol.Policy)), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Version != "2012-10-17" || doc.Id != "default" || len(doc.Statement) != 2 || doc.Statement[1]["Sid"] != "url" || aws.ToString(pol.RevisionId) == "" {
		t.Errorf("GetPolicy: %s", aws.ToString(pol.Policy))
	}
	v1, err := h.client.GetPolicy(ctx, &lambda.GetPolicyInput{FunctionName: aws.String("p"), Qualifier: aws.String("1")})
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(aws.ToString(v1.Policy)), &doc); err != nil || len(doc.Statement) != 1 ||
		doc.Statement[0]["Principal"].(map[string]any)["AWS"] != "arn:aws:iam::111111111111:root" ||
		doc.Statement[0]["Resource"] != "arn:aws:lambda:us-east-1:000000000000:function:p:1" {
		t.Errorf("version policy: %s", aws.ToString(v1.Policy))
	}
	if _, err := h.client.RemovePermission(ctx, &lambda.RemovePermissionInput{FunctionName: aws.String("p"), StatementId: aws.String("s3")}); err != nil {
		t.Fatal(err)
	}
	_, err = h.client.RemovePermission(ctx, &lambda.RemovePermissionInput{FunctionName: aws.String("p"), StatementId: aws.String("s3")})
	wantAPIError(t, err, "ResourceNotFoundException", 404)
	_, err = h.client.AddPermission(ctx, &lambda.AddPermissionInput{FunctionName: aws.String("p"), StatementId: aws.String("x"),
		Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("*"), RevisionId: aws.String("stale")})
	wantAPIError(t, err, "PreconditionFailedException", 412)
}

func TestTags(t *testing.T) {
	h := newHarness(t, nil)
	fn := h.createFunction(t, "tagged", func(in *lambda.CreateFunctionInput) { in.Tags = map[string]string{"a": "1"} })
	arn := fn.FunctionArn
	if _, err := h.client.TagResource(ctx, &lambda.TagResourceInput{Resource: arn, Tags: map[string]string{"b": "2", "c": "3"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.client.UntagResource(ctx, &lambda.UntagResourceInput{Resource: arn, TagKeys: []string{"a", "c"}}); err != nil {
		t.Fatal(err)
	}
	got, err := h.client.ListTags(ctx, &lambda.ListTagsInput{Resource: arn})
	if err != nil || len(got.Tags) != 1 || got.Tags["b"] != "2" {
		t.Fatalf("ListTags: %v %v", got.Tags, err)
	}
	_, err = h.client.ListTags(ctx, &lambda.ListTagsInput{Resource: aws.String("arn:aws:lambda:us-east-1:000000000000:function:none")})
	wantAPIError(t, err, "ResourceNotFoundException", 404)
	_, err = h.client.TagResource(ctx, &lambda.TagResourceInput{Resource: aws.String(aws.ToString(arn) + ":1"), Tags: map[string]string{"x": "y"}})
	wantAPIError(t, err, "InvalidParameterValueException", 400)
}

func TestEventInvokeConfigs(t *testing.T) {
	h := newHarness(t, nil)
	h.createFunction(t, "ev", func(in *lambda.CreateFunctionInput) { in.Publish = true })
	_, err := h.client.GetFunctionEventInvokeConfig(ctx, &lambda.GetFunctionEventInvokeConfigInput{FunctionName: aws.String("ev")})
	wantAPIError(t, err, "ResourceNotFoundException", 404)
	_, err = h.client.UpdateFunctionEventInvokeConfig(ctx, &lambda.UpdateFunctionEventInvokeConfigInput{FunctionName: aws.String("ev"), MaximumRetryAttempts: aws.Int32(1)})
	wantAPIError(t, err, "ResourceNotFoundException", 404)
	_, err = h.client.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{FunctionName: aws.String("ev"), MaximumRetryAttempts: aws.Int32(3)})
	wantAPIError(t, err, "ValidationException", 400)
	_, err = h.client.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{FunctionName: aws.String("ev"), MaximumEventAgeInSeconds: aws.Int32(59)})
	wantAPIError(t, err, "ValidationException", 400)

	put, err := h.client.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{FunctionName: aws.String("ev"),
		MaximumRetryAttempts: aws.Int32(0), MaximumEventAgeInSeconds: aws.Int32(120)})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(put.FunctionArn) != "arn:aws:lambda:us-east-1:000000000000:function:ev:$LATEST" || aws.ToInt32(put.MaximumRetryAttempts) != 0 ||
		aws.ToInt32(put.MaximumEventAgeInSeconds) != 120 || put.LastModified == nil {
		t.Errorf("PutFunctionEventInvokeConfig: %+v", put)
	}
	upd, err := h.client.UpdateFunctionEventInvokeConfig(ctx, &lambda.UpdateFunctionEventInvokeConfigInput{FunctionName: aws.String("ev"), MaximumRetryAttempts: aws.Int32(1)})
	if err != nil || aws.ToInt32(upd.MaximumRetryAttempts) != 1 || aws.ToInt32(upd.MaximumEventAgeInSeconds) != 120 {
		t.Fatalf("UpdateFunctionEventInvokeConfig keeps other members: %+v %v", upd, err)
	}
	if _, err := h.client.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{FunctionName: aws.String("ev"), Qualifier: aws.String("1"),
		MaximumRetryAttempts: aws.Int32(2)}); err != nil {
		t.Fatal(err)
	}
	list, err := h.client.ListFunctionEventInvokeConfigs(ctx, &lambda.ListFunctionEventInvokeConfigsInput{FunctionName: aws.String("ev")})
	if err != nil || len(list.FunctionEventInvokeConfigs) != 2 {
		t.Fatalf("ListFunctionEventInvokeConfigs: %+v %v", list, err)
	}
	if _, err := h.client.DeleteFunctionEventInvokeConfig(ctx, &lambda.DeleteFunctionEventInvokeConfigInput{FunctionName: aws.String("ev"), Qualifier: aws.String("1")}); err != nil {
		t.Fatal(err)
	}
	_, err = h.client.GetFunctionEventInvokeConfig(ctx, &lambda.GetFunctionEventInvokeConfigInput{FunctionName: aws.String("ev"), Qualifier: aws.String("1")})
	wantAPIError(t, err, "ResourceNotFoundException", 404)
}
