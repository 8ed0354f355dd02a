package iam

import (
	"maps"
	"strconv"
	"strings"

	"github.com/nimbus-dev/nimbus/internal/identity"
	"github.com/nimbus-dev/nimbus/internal/policy"
)

// requestContext builds the global condition keys of a request: the
// principal's own, then the request's.
func (m *IAM) requestContext(pp *principalPolicies, p *identity.Principal, call *identity.Call) policy.Context {
	principal := pp.context
	if principal == nil {
		principal = principalContext(pp, p)
	}
	ctx := make(policy.Context, len(principal)+6)
	maps.Copy(ctx, principal)
	now := m.now().UTC()
	// One array holds every request value (each slice capped at its own
	// element, so an append elsewhere copies rather than overwrites). The
	// keys are written lower case, as policy.Context keeps them, so that no
	// request pays for lowering constants.
	vals := [...]string{now.Format("2006-01-02T15:04:05Z"), strconv.FormatInt(now.Unix(), 10),
		strconv.FormatBool(call.Secure), call.SourceIP, call.Region, p.UserID}
	ctx["aws:currenttime"] = vals[0:1:1]
	ctx["aws:epochtime"] = vals[1:2:2]
	ctx["aws:securetransport"] = vals[2:3:3]
	if call.SourceIP != "" {
		ctx["aws:sourceip"] = vals[3:4:4]
	}
	if call.Region != "" {
		ctx["aws:requestedregion"] = vals[4:5:5]
	}
	ctx["aws:userid"] = vals[5:6:6]
	return ctx
}

// principalContext is the condition keys that depend only on who the
// principal is. The cache computes it once per entry; requests copy it,
// sharing its value slices, which nothing modifies in place.
func principalContext(pp *principalPolicies, p *identity.Principal) policy.Context {
	ctx := make(policy.Context, 4+len(pp.tags))
	ctx.Set("aws:PrincipalAccount", p.Account)
	ctx.Set("aws:PrincipalArn", pp.principalARN)
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
