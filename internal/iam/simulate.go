package iam

import (
	"context"
	"strings"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/identity"
	"github.com/nimbus-dev/nimbus/internal/policy"
	"github.com/nimbus-dev/nimbus/internal/service"
	"github.com/nimbus-dev/nimbus/internal/store"
)

func (m *IAM) registerSimulation(svc *service.Service) {
	svc.Handle("SimulatePrincipalPolicy", service.Op(m.simulatePrincipalPolicy))
}

type contextEntryInput struct {
	ContextKeyName   string
	ContextKeyValues []string
	ContextKeyType   string
}

type simulateInput struct {
	PolicySourceArn                    string
	PolicyInputList                    []string
	PermissionsBoundaryPolicyInputList []string
	ActionNames                        []string
	ResourceArns                       []string
	ContextEntries                     []contextEntryInput
	CallerArn                          string
	Marker                             string
	MaxItems                           int64
}

type matchedStatement struct {
	SourcePolicyId   string
	SourcePolicyType string
}

// EvaluationResult is IAM's EvaluationResult shape.
type EvaluationResult struct {
	EvalActionName       string
	EvalResourceName     string
	EvalDecision         string
	MatchedStatements    []matchedStatement
	MissingContextValues []string
}

type simulateOutput struct {
	EvaluationResults []EvaluationResult
	IsTruncated       bool
	Marker            string `json:",omitempty"`
}

// simulatePrincipalPolicy evaluates a user's, group's or role's policies
// (plus any given ones) for each action and resource.
func (m *IAM) simulatePrincipalPolicy(ctx context.Context, in *simulateInput) (*simulateOutput, error) {
	if in.PolicySourceArn == "" {
		return nil, awserr.Missing("PolicySourceArn")
	}
	if len(in.ActionNames) == 0 {
		return nil, awserr.Missing("ActionNames")
	}
	var set policy.Set
	var caller policy.Caller
	var pctx policy.Context
	err := m.view(ctx, func(tx store.Tx, acct string) error {
		arn := in.PolicySourceArn
		parts := strings.SplitN(arn, ":", 6)
		if len(parts) != 6 || parts[4] != acct {
			return invalidInput("Invalid ARN: %s", arn)
		}
		res := parts[5]
		name := res[strings.LastIndexByte(res, '/')+1:]
		var p *identity.Principal
		switch {
		case strings.HasPrefix(res, "user/"):
			u, err := get[userRecord](tx, acct, kindUser, name, "user")
			if err != nil {
				return err
			}
			p = &identity.Principal{Type: identity.User, Account: acct, ARN: u.ARN, UserID: u.ID, Name: u.Name}
		case strings.HasPrefix(res, "role/"):
			r, err := get[roleRecord](tx, acct, kindRole, name, "role")
			if err != nil {
				return err
			}
			p = &identity.Principal{Type: identity.RoleSession, Account: acct, ARN: "arn:aws:sts::" + acct + ":assumed-role/" + r.Name + "/simulation",
				UserID: r.ID + ":simulation", Name: r.Name}
		case strings.HasPrefix(res, "group/"):
			g, err := get[groupRecord](tx, acct, kindGroup, name, "group")
			if err != nil {
				return err
			}
			if err := m.addEntityPolicies(tx, acct, g.Name, &g.attachable, &set); err != nil {
				return err
			}
			caller = policy.Caller{ARN: g.ARN, Account: acct}
			pctx = policy.Context{}
			return nil
		default:
			return invalidInput("Invalid ARN: %s", arn)
		}
		pp, err := m.policiesOf(tx, p)
		if err != nil {
			return err
		}
		set, caller = pp.set, pp.caller
		pctx = m.requestContext(pp, p, &identity.Call{})
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, doc := range in.PolicyInputList {
		p, err := m.parse(doc, policy.Identity)
		if err != nil {
			return nil, malformedDocument(err)
		}
		set.Identity = append(set.Identity, named(p, "PolicyInputList"))
	}
	for _, doc := range in.PermissionsBoundaryPolicyInputList {
		p, err := m.parse(doc, policy.Identity)
		if err != nil {
			return nil, malformedDocument(err)
		}
		set.Boundary = named(p, "PermissionsBoundaryPolicyInputList")
	}
	for _, e := range in.ContextEntries {
		pctx.Set(e.ContextKeyName, e.ContextKeyValues...)
	}
	resources := in.ResourceArns
	if len(resources) == 0 {
		resources = []string{"*"}
	}
	var results []EvaluationResult
	for _, action := range in.ActionNames {
		for _, res := range resources {
			r := policy.Evaluate(&policy.Request{Caller: caller, Action: action, Resource: res, Context: pctx}, &set)
			er := EvaluationResult{EvalActionName: action, EvalResourceName: res, EvalDecision: r.Decision.String(),
				MatchedStatements: []matchedStatement{}, MissingContextValues: []string{}}
			if r.Statement != nil {
				er.MatchedStatements = append(er.MatchedStatements, matchedStatement{SourcePolicyId: r.Policy, SourcePolicyType: "IAM Policy"})
			}
			results = append(results, er)
		}
	}
	pg, more, next, err := page(results, in.Marker, in.MaxItems)
	if err != nil {
		return nil, err
	}
	return &simulateOutput{EvaluationResults: append([]EvaluationResult{}, pg...), IsTruncated: more, Marker: next}, nil
}
