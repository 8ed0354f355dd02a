package iam

import (
	"strconv"
	"strings"

	"github.com/nimbus-dev/nimbus/internal/identity"
	"github.com/nimbus-dev/nimbus/internal/policy"
)

// requestContext builds the global condition keys of a request.
func (m *IAM) requestContext(pp *principalPolicies, p *identity.Principal, call *identity.Call) policy.Context {
	now := m.now().UTC()
	ctx := policy.Context{}
	ctx.Set("aws:CurrentTime", now.Format("2006-01-02T15:04:05Z"))
	ctx.Set("aws:EpochTime", strconv.FormatInt(now.Unix(), 10))
	ctx.Set("aws:SecureTransport", strconv.FormatBool(call.Secure))
	if call.SourceIP != "" {
		ctx.Set("aws:SourceIp", call.SourceIP)
	}
	if call.Region != "" {
		ctx.Set("aws:RequestedRegion", call.Region)
	}
	ctx.Set("aws:PrincipalAccount", p.Account)
	ctx.Set("aws:PrincipalArn", pp.principalARN)
	ctx.Set("aws:userid", p.UserID)
	switch p.Type {
	case identity.User:
		ctx.Set("aws:PrincipalType", "User")
		ctx.Set("aws:username", pp.userName)
	case identity.RoleSession:
		ctx.Set("aws:PrincipalType", "AssumedRole")
	case identity.Root:
		ctx.Set("aws:PrincipalType", "Account")
	}
	for _, t := range pp.tags {
		ctx.Set("aws:PrincipalTag/"+t.Key, t.Value)
	}
	return ctx
}

// addRequestTags sets aws:RequestTag/* and aws:TagKeys.
func addRequestTags(ctx policy.Context, tags []Tag) {
	if len(tags) == 0 {
		return
	}
	keys := make([]string, 0, len(tags))
	for _, t := range tags {
		ctx.Set("aws:RequestTag/"+t.Key, t.Value)
		keys = append(keys, t.Key)
	}
	ctx.Set("aws:TagKeys", keys...)
}

// addResourceTags sets aws:ResourceTag/* and the service's own
// SERVICE:ResourceTag/* (ec2:ResourceTag/...).
func addResourceTags(ctx policy.Context, service string, tags map[string]string) {
	for k, v := range tags {
		ctx.Set("aws:ResourceTag/"+k, v)
		ctx.Set(strings.ToLower(service)+":ResourceTag/"+k, v)
	}
}
