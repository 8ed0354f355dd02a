package iam

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/awsmodel"
	"github.com/nimbus-dev/nimbus/internal/identity"
	"github.com/nimbus-dev/nimbus/internal/policy"
	"github.com/nimbus-dev/nimbus/internal/protocol/wire"
	"github.com/nimbus-dev/nimbus/internal/store"
)

// ResourcePolicies is implemented by services whose resources carry
// resource-based policies (Lambda function policies, S3 bucket policies).
// ResourcePolicy returns the policy document governing arn in account, or
// "" when it has none.
type ResourcePolicies interface {
	ResourcePolicy(ctx context.Context, account, arn string) (string, error)
}

// ResourceTags is implemented by services whose resources have tags, so
// conditions on aws:ResourceTag/* and SERVICE:ResourceTag/* see them.
type ResourceTags interface {
	ResourceTags(ctx context.Context, account, arn string) (map[string]string, error)
}

// Authorizer authorizes requests with IAM policies: it implements the
// edge's Authorizer interface. Build it with (*IAM).Authorizer.
type Authorizer struct {
	iam      *IAM
	policies map[string]ResourcePolicies // by signing name
	tags     map[string]ResourceTags
}

// Authorizer returns an authorizer over the directory. Register services'
// resource policies and tags with WithResourcePolicies and WithResourceTags.
func (m *IAM) Authorizer() *Authorizer {
	return &Authorizer{iam: m, policies: map[string]ResourcePolicies{}, tags: map[string]ResourceTags{}}
}

// WithResourcePolicies makes a service's resource policies count (call
// before serving). It returns a for chaining.
func (a *Authorizer) WithResourcePolicies(signingName string, p ResourcePolicies) *Authorizer {
	a.policies[signingName] = p
	return a
}

// WithResourceTags makes a service's resource tags visible to conditions.
func (a *Authorizer) WithResourceTags(signingName string, t ResourceTags) *Authorizer {
	a.tags[signingName] = t
	return a
}

// alwaysAllowed are operations AWS answers without consulting policies.
var alwaysAllowed = map[string]bool{"sts:GetCallerIdentity": true}

// Authorize decides a request by the calling principal's policies and
// returns the service's own denial: EC2's UnauthorizedOperation with an
// encoded message, AccessDeniedException for JSON services, AccessDenied
// for IAM, STS and S3.
func (a *Authorizer) Authorize(ctx context.Context, svc *awsmodel.Service, op *awsmodel.Operation, in map[string]any) error {
	call := identity.From(ctx)
	p := call.Principal
	if p == nil || p.IsRoot() {
		return nil
	}
	signing := svc.SigningName()
	action := ActionFor(signing, op.Name)
	if alwaysAllowed[action] {
		return nil
	}
	resources := ResourcesFor(signing, op.Name, in, call, p)
	pp, err := a.iam.cachedPoliciesOf(ctx, p)
	if err != nil {
		var ae *awserr.Error
		if ok := asAWS(err, &ae); ok && ae.Kind == awserr.NotFound {
			// The principal was deleted after its credentials were checked.
			pp = &principalPolicies{caller: policy.Caller{ARN: p.ARN, Account: p.Account}, principalARN: p.ARN}
		} else {
			return awserr.Internalf(err, "read the policies of %s", p.ARN)
		}
	}
	base := a.iam.requestContext(pp, p, call)
	addInputKeys(base, signing, in)
	if signing == "lambda" && len(resources) == 1 && resources[0] != "*" {
		base.Set("lambda:FunctionArn", resources[0])
	}
	for _, res := range resources {
		req := &policy.Request{Caller: pp.caller, Action: action, Resource: res, Context: base}
		set := pp.set
		if err := a.addResourceFacts(ctx, signing, p.Account, res, req, &set); err != nil {
			return err
		}
		r := policy.Evaluate(req, &set)
		if r.Decision == policy.Allowed {
			continue
		}
		if action == "sts:GetSessionToken" && r.Decision == policy.ImplicitDeny {
			continue // needs no permission, only the absence of a Deny
		}
		return denial(svc, p, action, res, r, base)
	}
	return nil
}

// addResourceFacts adds a resource's policy and tags to a request.
func (a *Authorizer) addResourceFacts(ctx context.Context, signing, acct, res string, req *policy.Request, set *policy.Set) error {
	if res == "*" {
		return nil
	}
	if t := a.tags[signing]; t != nil {
		tags, err := t.ResourceTags(ctx, acct, res)
		if err != nil {
			return awserr.Internalf(err, "read the tags of %s", res)
		}
		if len(tags) > 0 {
			c := make(policy.Context, len(req.Context)+2*len(tags))
			for k, v := range req.Context {
				c[k] = v
			}
			addResourceTags(c, signing, tags)
			req.Context = c
		}
	}
	var doc string
	var kind policy.Kind = policy.Resource
	switch {
	case signing == "sts" && strings.Contains(res, ":role/"):
		// A role's trust policy is the resource policy of sts:AssumeRole.
		_, name, err := parseRoleARN(res)
		if err != nil {
			return nil
		}
		err = a.iam.store.View(ctx, func(tx store.Tx) error {
			r, err := get[roleRecord](tx, acct, kindRole, name, "role")
			if err == nil {
				doc = r.TrustPolicy
			}
			return nil
		})
		if err != nil {
			return awserr.Internalf(err, "read trust policy of %s", res)
		}
		kind = policy.Trust
	case a.policies[signing] != nil:
		var err error
		if doc, err = a.policies[signing].ResourcePolicy(ctx, acct, res); err != nil {
			return awserr.Internalf(err, "read the resource policy of %s", res)
		}
	}
	if doc == "" {
		return nil
	}
	p, err := a.iam.parse(doc, kind)
	if err != nil {
		return nil // an unreadable resource policy grants nothing
	}
	set.Resource = append(append([]*policy.Policy(nil), set.Resource...), named(p, res))
	return nil
}

// addInputKeys sets the condition keys read from the request's input:
// aws:RequestTag/*, aws:TagKeys and the service keys nimbus knows.
func addInputKeys(ctx policy.Context, signing string, in map[string]any) {
	var tags []Tag
	readTagList := func(v any) {
		l, _ := v.([]any)
		for _, item := range l {
			m, _ := item.(map[string]any)
			k, _ := m["Key"].(string)
			val, _ := m["Value"].(string)
			if k != "" {
				tags = append(tags, Tag{k, val})
			}
		}
	}
	readTagList(in["Tags"])
	if specs, ok := in["TagSpecifications"].([]any); ok {
		for _, s := range specs {
			if m, ok := s.(map[string]any); ok {
				readTagList(m["Tags"])
			}
		}
	}
	for _, name := range []string{"Tags", "tags"} {
		if m, ok := in[name].(map[string]any); ok {
			for k, v := range m {
				s, _ := v.(string)
				tags = append(tags, Tag{k, s})
			}
		}
	}
	addRequestTags(ctx, tags)
	switch signing {
	case "ec2":
		if t, ok := in["InstanceType"].(string); ok {
			ctx.Set("ec2:InstanceType", t)
		}
	case "s3":
		if pfx, ok := in["Prefix"].(string); ok {
			ctx.Set("s3:prefix", pfx)
		}
	}
}

func asAWS(err error, target **awserr.Error) bool {
	e, ok := err.(*awserr.Error)
	if ok {
		*target = e
	}
	return ok
}

// denial is the service's own error for a refused request.
func denial(svc *awsmodel.Service, p *identity.Principal, action, resource string, r policy.Result, ctx policy.Context) error {
	reason := fmt.Sprintf("because no %s allows the %s action", r.By, action)
	if r.Decision == policy.ExplicitDeny {
		reason = fmt.Sprintf("with an explicit deny in a %s", r.By)
		if r.By == policy.IdentityBased && strings.HasPrefix(r.Policy, "arn:") {
			reason += ": " + r.Policy
		}
	}
	msg := fmt.Sprintf("User: %s is not authorized to perform: %s on resource: %s %s", p.ARN, action, resource, reason)
	switch wire.FamilyOf(svc.Metadata.Protocol) {
	case awserr.FamilyEC2:
		return &awserr.Error{Kind: awserr.AccessDenied, Code: "UnauthorizedOperation", Status: http.StatusForbidden,
			Message: "You are not authorized to perform this operation. " + msg + ". Encoded authorization failure message: " +
				encodeAuthorizationMessage(p, action, resource, r, ctx)}
	case awserr.FamilyJSON:
		return &awserr.Error{Kind: awserr.AccessDenied, Code: "AccessDeniedException", Status: http.StatusForbidden, Message: msg}
	}
	return &awserr.Error{Kind: awserr.AccessDenied, Code: "AccessDenied", Status: http.StatusForbidden, Message: msg}
}

// authorizationMessage is what sts:DecodeAuthorizationMessage reveals, in
// the shape AWS's decoded messages take.
type authorizationMessage struct {
	Allowed           bool                  `json:"allowed"`
	ExplicitDeny      bool                  `json:"explicitDeny"`
	MatchedStatements matchedStatements     `json:"matchedStatements"`
	Failures          struct{ Items []any } `json:"failures"`
	Context           struct {
		Principal  struct{ ID, ARN string } `json:"principal"`
		Action     string                   `json:"action"`
		Resource   string                   `json:"resource"`
		Conditions struct {
			Items []contextEntry `json:"items"`
		} `json:"conditions"`
	} `json:"context"`
}

type matchedStatements struct {
	Items []map[string]string `json:"items"`
}

type contextEntry struct {
	Key    string `json:"key"`
	Values struct {
		Items []struct {
			Value string `json:"value"`
		} `json:"items"`
	} `json:"values"`
}

// encodedPrefix marks nimbus's encoded authorization messages.
const encodedPrefix = "nimbus1."

func encodeAuthorizationMessage(p *identity.Principal, action, resource string, r policy.Result, ctx policy.Context) string {
	var m authorizationMessage
	m.ExplicitDeny = r.Decision == policy.ExplicitDeny
	m.MatchedStatements.Items = []map[string]string{}
	if r.Statement != nil {
		m.MatchedStatements.Items = append(m.MatchedStatements.Items, map[string]string{"statementId": r.Statement.Sid,
			"effect": string(r.Statement.Effect), "policyName": r.Policy})
	}
	m.Failures.Items = []any{}
	m.Context.Principal.ID, m.Context.Principal.ARN = p.UserID, p.ARN
	m.Context.Action, m.Context.Resource = action, resource
	for k, vals := range ctx {
		e := contextEntry{Key: k}
		for _, v := range vals {
			e.Values.Items = append(e.Values.Items, struct {
				Value string `json:"value"`
			}{v})
		}
		m.Context.Conditions.Items = append(m.Context.Conditions.Items, e)
	}
	b, _ := json.Marshal(m)
	return encodedPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// DecodeAuthorizationMessage decodes an EC2 encoded authorization failure
// message into its JSON document (for sts:DecodeAuthorizationMessage).
func DecodeAuthorizationMessage(encoded string) (string, error) {
	rest, ok := strings.CutPrefix(encoded, encodedPrefix)
	if !ok {
		return "", &awserr.Error{Kind: awserr.Validation, Code: "InvalidAuthorizationMessageException", Message: "The encoded message is not valid."}
	}
	b, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil {
		return "", &awserr.Error{Kind: awserr.Validation, Code: "InvalidAuthorizationMessageException", Message: "The encoded message is not valid."}
	}
	return string(b), nil
}
