package iam

import (
	"fmt"
	"strings"
	"testing"

	"github.com/nimbus-dev/nimbus/internal/awsmodel"
)

// BenchmarkAuthorize10x20 is the authorization cost of one EC2 request by a
// user holding 10 managed policies of 20 statements each: reading the
// user and policies from the store, building the context, evaluating.
func BenchmarkAuthorize10x20(b *testing.B) {
	t := &testing.T{}
	h := newHarness(t)
	h.t = t
	h.must("CreateUser", map[string]any{"UserName": "alice"})
	for p := 0; p < 10; p++ {
		var stmts []string
		for s := 0; s < 20; s++ {
			stmts = append(stmts, fmt.Sprintf(`{"Effect":"Allow","Action":"ec2:Describe%dx%d","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}`, p, s))
		}
		out := h.must("CreatePolicy", map[string]any{"PolicyName": fmt.Sprintf("p%d", p), "PolicyDocument": `{"Version":"2012-10-17","Statement":[` + strings.Join(stmts, ",") + `]}`})
		h.must("AttachUserPolicy", map[string]any{"UserName": "alice", "PolicyArn": str(out, "Policy", "Arn")})
	}
	h.must("PutUserPolicy", map[string]any{"UserName": "alice", "PolicyName": "allow", "PolicyDocument": allowEC2})
	k := h.must("CreateAccessKey", map[string]any{"UserName": "alice"})
	cred, err := h.iam.Lookup(h.root, str(k, "AccessKey", "AccessKeyId"))
	if err != nil {
		b.Fatal(err)
	}
	ec2, err := awsmodel.Load("ec2")
	if err != nil {
		b.Fatal(err)
	}
	op := ec2.Operations["TerminateInstances"]
	in := map[string]any{"InstanceIds": []any{"i-0123456789abcdef0"}}
	az := h.iam.Authorizer()
	ctx := as(cred)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := az.Authorize(ctx, ec2, op, in); err != nil {
			b.Fatal(err)
		}
	}
}
