// Package identity carries who is calling, and in which account and region,
// through a request's context. The edge puts a Call there after SigV4
// verification; services and IAM read it. Account and region are the tenant:
// every resource is partitioned by them.
package identity

import "context"

// PrincipalType is the kind of IAM principal behind a request.
type PrincipalType string

const (
	Root        PrincipalType = "Root"
	User        PrincipalType = "IAMUser"
	RoleSession PrincipalType = "AssumedRole"
	Anonymous   PrincipalType = "Anonymous"
)

// Principal is an authenticated caller.
type Principal struct {
	Type      PrincipalType
	Account   string // 12-digit account ID
	ARN       string // arn:aws:iam::ACCOUNT:root, :user/NAME, arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION
	UserID    string // AIDA..., AROA...:session, or the account ID for root
	Name      string // user name, role name, or "root"
	AccessKey string
}

// IsRoot reports whether the principal bypasses IAM policy evaluation.
func (p *Principal) IsRoot() bool { return p != nil && p.Type == Root }

// Call is what the edge knows about a request once it is authenticated.
type Call struct {
	RequestID string
	Service   string // signing name: ec2, sts, iam, lambda, batch, s3, logs, ce
	Operation string // model operation name, e.g. DescribeRegions
	Region    string
	Principal *Principal
	SourceIP  string
	Secure    bool // the request came over TLS
}

type callKey struct{}

// With returns ctx carrying c.
func With(ctx context.Context, c *Call) context.Context { return context.WithValue(ctx, callKey{}, c) }

// From returns the Call in ctx, or an empty one (never nil) for background work.
func From(ctx context.Context) *Call {
	if c, ok := ctx.Value(callKey{}).(*Call); ok {
		return c
	}
	return &Call{}
}

// Account is the calling principal's account ID, or "" outside a request.
func Account(ctx context.Context) string {
	if p := From(ctx).Principal; p != nil {
		return p.Account
	}
	return ""
}

// Region is the request's region (from its SigV4 credential scope).
func Region(ctx context.Context) string { return From(ctx).Region }

// RootARN is the ARN of an account's root user.
func RootARN(account string) string { return "arn:aws:iam::" + account + ":root" }
