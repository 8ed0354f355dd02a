package iam

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/nimbus-dev/nimbus/internal/awsmodel"
)

// authorizeBench is one EC2 request by a user holding 10 managed policies
// of 20 statements each, plus an inline policy that allows it.
type authorizeBench struct {
	iam *IAM
	az  *Authorizer
	ctx context.Context
	ec2 *awsmodel.Service
	op  *awsmodel.Operation
	in  map[string]any
}

func newAuthorizeBench(b *testing.B) *authorizeBench {
	b.Helper()
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
	return &authorizeBench{iam: h.iam, az: h.iam.Authorizer(), ctx: as(cred), ec2: ec2,
		op: ec2.Operations["TerminateInstances"], in: map[string]any{"InstanceIds": []any{"i-0123456789abcdef0"}}}
}

func (a *authorizeBench) authorize(b *testing.B) {
	if err := a.az.Authorize(a.ctx, a.ec2, a.op, a.in); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkAuthorize10x20 is the authorization cost of the request with
// the principal cache warm, as it is for every request but the first
// after an IAM change: building the context and evaluating.
func BenchmarkAuthorize10x20(b *testing.B) {
	a := newAuthorizeBench(b)
	b.ReportAllocs()
	for b.Loop() {
		a.authorize(b)
	}
}

// BenchmarkAuthorize10x20Parallel is the same from every core at once:
// the cache's lock is shared by all requests.
func BenchmarkAuthorize10x20Parallel(b *testing.B) {
	a := newAuthorizeBench(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			a.authorize(b)
		}
	})
}

// BenchmarkAuthorize10x20AfterChange is the cost of the first request
// after an IAM change: reading the user and its policies from the store.
func BenchmarkAuthorize10x20AfterChange(b *testing.B) {
	a := newAuthorizeBench(b)
	b.ReportAllocs()
	for b.Loop() {
		a.iam.changes.bump()
		a.authorize(b)
	}
}

// BenchmarkLookupAccessKey is resolving a user's access key to its
// principal, which the edge does for every signed request before it
// authorizes it.
func BenchmarkLookupAccessKey(b *testing.B) {
	t := &testing.T{}
	h := newHarness(t)
	h.t = t
	for i := range 100 {
		h.must("CreateUser", map[string]any{"UserName": fmt.Sprintf("user%d", i)})
		h.must("CreateAccessKey", map[string]any{"UserName": fmt.Sprintf("user%d", i)})
	}
	k := h.must("CreateAccessKey", map[string]any{"UserName": "user50"})
	id := str(k, "AccessKey", "AccessKeyId")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.iam.Lookup(h.root, id); err != nil {
			b.Fatal(err)
		}
	}
}
