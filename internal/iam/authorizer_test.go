package iam

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/nimbus-dev/nimbus/internal/awsmodel"
	"github.com/nimbus-dev/nimbus/internal/identity"
)

func model(t *testing.T, key string) *awsmodel.Service {
	t.Helper()
	m, err := awsmodel.Load(key)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func ec2Model(t *testing.T) *awsmodel.Service { return model(t, "ec2") }

func ec2Op(t *testing.T, name string) *awsmodel.Operation {
	t.Helper()
	op, ok := ec2Model(t).Operations[name]
	if !ok {
		t.Fatalf("no EC2 operation %s", name)
	}
	return op
}

func TestAuthorizerDecisions(t *testing.T) {
	h := newHarness(t)
	alice := h.userWithKey("alice", `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"ec2:*","Resource":"*"},
		{"Effect":"Deny","Action":"ec2:TerminateInstances","Resource":"arn:aws:ec2:*:*:instance/i-protected"},
		{"Effect":"Deny","Action":"ec2:RunInstances","Resource":"*","Condition":{"StringNotLike":{"ec2:InstanceType":"t3.*"}}}]}`)
	nobody := h.userWithKey("nobody", "")
	az := h.iam.Authorizer()
	ec2 := ec2Model(t)
	cases := []struct {
		name   string
		cred   context.Context
		op     string
		in     map[string]any
		code   string
		reason string
	}{
		{"allow", as(alice), "DescribeInstances", nil, "", ""},
		{"allow on other instance", as(alice), "TerminateInstances", map[string]any{"InstanceIds": []any{"i-other"}}, "", ""},
		{"explicit deny", as(alice), "TerminateInstances", map[string]any{"InstanceIds": []any{"i-other", "i-protected"}}, "UnauthorizedOperation", "with an explicit deny in a identity-based policy"},
		{"condition allows", as(alice), "RunInstances", map[string]any{"InstanceType": "t3.micro"}, "", ""},
		{"condition denies", as(alice), "RunInstances", map[string]any{"InstanceType": "m5.large"}, "UnauthorizedOperation", "explicit deny"},
		{"implicit deny", as(nobody), "DescribeInstances", nil, "UnauthorizedOperation", "because no identity-based policy allows the ec2:DescribeInstances action"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := az.Authorize(tc.cred, ec2, ec2Op(t, tc.op), tc.in)
			if tc.code == "" {
				if err != nil {
					t.Fatalf("denied: %v", err)
				}
				return
			}
			wantCode(t, err, tc.code, 403)
			if !strings.Contains(err.Error(), tc.reason) || !strings.Contains(err.Error(), "You are not authorized to perform this operation. User: arn:aws:iam::123456789012:user/") {
				t.Errorf("message = %v", err)
			}
		})
	}

	// The encoded message decodes to the request's facts.
	err := az.Authorize(as(nobody), ec2, ec2Op(t, "DescribeInstances"), nil)
	enc := err.Error()[strings.Index(err.Error(), "Encoded authorization failure message: ")+len("Encoded authorization failure message: "):]
	dec, derr := DecodeAuthorizationMessage(enc)
	if derr != nil {
		t.Fatal(derr)
	}
	var msg authorizationMessage
	if err := json.Unmarshal([]byte(dec), &msg); err != nil || msg.Context.Action != "ec2:DescribeInstances" || msg.Allowed ||
		msg.Context.Principal.ARN != "arn:aws:iam::123456789012:user/nobody" {
		t.Errorf("decoded %s (%v)", dec, err)
	}

	// Lambda answers AccessDeniedException; IAM AccessDenied; root is never asked.
	lambda := model(t, "lambda")
	err = az.Authorize(as(nobody), lambda, lambda.Operations["Invoke"], map[string]any{"FunctionName": "f"})
	wantCode(t, err, "AccessDeniedException", 403)
	if !strings.Contains(err.Error(), "lambda:InvokeFunction on resource: arn:aws:lambda:us-east-1:123456789012:function:f") {
		t.Errorf("lambda denial = %v", err)
	}
	iamModel := model(t, "iam")
	err = az.Authorize(as(nobody), iamModel, iamModel.Operations["ListUsers"], nil)
	wantCode(t, err, "AccessDenied", 403)
	if err := az.Authorize(h.root, iamModel, iamModel.Operations["ListUsers"], nil); err != nil {
		t.Errorf("root denied: %v", err)
	}
	sts := model(t, "sts")
	if err := az.Authorize(as(nobody), sts, sts.Operations["GetCallerIdentity"], nil); err != nil {
		t.Errorf("GetCallerIdentity denied: %v", err)
	}
}

func TestAuthorizerGroupsBoundariesAndPrincipalTags(t *testing.T) {
	h := newHarness(t)
	h.must("CreateGroup", map[string]any{"GroupName": "ops"})
	h.must("AttachGroupPolicy", map[string]any{"GroupName": "ops", "PolicyArn": "arn:aws:iam::aws:policy/AdministratorAccess"})
	alice := h.userWithKey("alice", "")
	h.must("AddUserToGroup", map[string]any{"GroupName": "ops", "UserName": "alice"})
	h.must("TagUser", map[string]any{"UserName": "alice", "Tags": tagList("team", "blue")})
	az := h.iam.Authorizer()
	iamModel := model(t, "iam")
	if err := az.Authorize(as(alice), iamModel, iamModel.Operations["ListUsers"], nil); err != nil {
		t.Fatalf("group admin denied: %v", err)
	}
	h.must("PutUserPermissionsBoundary", map[string]any{"UserName": "alice", "PermissionsBoundary": "arn:aws:iam::aws:policy/AmazonEC2FullAccess"})
	err := az.Authorize(as(alice), iamModel, iamModel.Operations["ListUsers"], nil)
	wantCode(t, err, "AccessDenied", 403)
	if !strings.Contains(err.Error(), "because no permissions boundary allows the iam:ListUsers action") {
		t.Errorf("boundary denial = %v", err)
	}
	h.must("DeleteUserPermissionsBoundary", map[string]any{"UserName": "alice"})
	h.must("PutGroupPolicy", map[string]any{"GroupName": "ops", "PolicyName": "teams", "PolicyDocument": `{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"ec2:*","Resource":"*","Condition":{"StringNotEquals":{"aws:PrincipalTag/team":"red"}}}}`})
	ec2 := ec2Model(t)
	err = az.Authorize(as(alice), ec2, ec2Op(t, "DescribeInstances"), nil)
	wantCode(t, err, "UnauthorizedOperation", 403)
	h.must("TagUser", map[string]any{"UserName": "alice", "Tags": tagList("team", "red")})
	if err := az.Authorize(as(alice), ec2, ec2Op(t, "DescribeInstances"), nil); err != nil {
		t.Errorf("tagged red, still denied: %v", err)
	}
}

// fakeFunctionPolicies serves one Lambda function's resource policy.
type fakeFunctionPolicies map[string]string

func (f fakeFunctionPolicies) ResourcePolicy(_ context.Context, _ string, arn string) (string, error) {
	return f[arn], nil
}

func TestAuthorizerResourcePoliciesAndTrust(t *testing.T) {
	h := newHarness(t)
	bob := h.userWithKey("bob", "")
	fn := "arn:aws:lambda:us-east-1:123456789012:function:f"
	az := h.iam.Authorizer().WithResourcePolicies("lambda", fakeFunctionPolicies{fn: `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/bob"},"Action":"lambda:InvokeFunction","Resource":"` + fn + `"}}`})
	lambda := model(t, "lambda")
	if err := az.Authorize(as(bob), lambda, lambda.Operations["Invoke"], map[string]any{"FunctionName": "f"}); err != nil {
		t.Errorf("function policy naming bob: %v", err)
	}
	err := az.Authorize(as(bob), lambda, lambda.Operations["Invoke"], map[string]any{"FunctionName": "g"})
	wantCode(t, err, "AccessDeniedException", 403)

	// sts:AssumeRole is authorized by the role's trust policy alone when it names the caller.
	h.must("CreateRole", map[string]any{"RoleName": "r", "AssumeRolePolicyDocument": strings.ReplaceAll(trustUser, "alice", "bob")})
	sts := model(t, "sts")
	if err := az.Authorize(as(bob), sts, sts.Operations["AssumeRole"], map[string]any{"RoleArn": "arn:aws:iam::123456789012:role/r"}); err != nil {
		t.Errorf("trusted AssumeRole denied at the edge: %v", err)
	}
	h.must("CreateRole", map[string]any{"RoleName": "other", "AssumeRolePolicyDocument": trustUser})
	err = az.Authorize(as(bob), sts, sts.Operations["AssumeRole"], map[string]any{"RoleArn": "arn:aws:iam::123456789012:role/other"})
	wantCode(t, err, "AccessDenied", 403)
}

func TestSimulatePrincipalPolicy(t *testing.T) {
	h := newHarness(t)
	h.userWithKey("alice", allowEC2)
	out := h.must("SimulatePrincipalPolicy", map[string]any{"PolicySourceArn": "arn:aws:iam::123456789012:user/alice",
		"ActionNames":     []any{"ec2:RunInstances", "s3:GetObject"},
		"PolicyInputList": []any{`{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"ec2:RunInstances","Resource":"*","Condition":{"StringEquals":{"aws:RequestedRegion":"eu-west-1"}}}}`},
		"ContextEntries":  []any{map[string]any{"ContextKeyName": "aws:RequestedRegion", "ContextKeyValues": []any{"eu-west-1"}, "ContextKeyType": "string"}}})
	results := items(out, "EvaluationResults")
	if len(results) != 2 {
		t.Fatalf("results = %v", out)
	}
	want := map[string]string{"ec2:RunInstances": "explicitDeny", "s3:GetObject": "implicitDeny"}
	for _, r := range results {
		m := r.(map[string]any)
		if want[str(m, "EvalActionName")] != str(m, "EvalDecision") {
			t.Errorf("result %v", m)
		}
	}
	_, err := h.do(h.root, "SimulatePrincipalPolicy", map[string]any{"PolicySourceArn": "arn:aws:iam::123456789012:user/none", "ActionNames": []any{"ec2:RunInstances"}})
	wantCode(t, err, "NoSuchEntity", 404)
	_ = identity.Root
}
