package lambda

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/nimbus-dev/nimbus/internal/service"
	"github.com/nimbus-dev/nimbus/internal/store"
)

// maxPolicySize is Lambda's limit on a function's resource policy.
const maxPolicySize = 20480

func (a *API) registerPolicy(svc *service.Service) {
	svc.Handle("AddPermission", service.Op(a.addPermission))
	svc.Handle("RemovePermission", service.Op(a.removePermission))
	svc.Handle("GetPolicy", service.Op(a.getPolicy))
}

type addPermissionInput struct {
	FunctionName        string
	StatementId         string
	Action              string
	Principal           string
	SourceArn           string
	SourceAccount       string
	EventSourceToken    string
	Qualifier           string
	RevisionId          string
	PrincipalOrgID      string
	FunctionUrlAuthType string
}

type addPermissionOutput struct {
	Statement string
}

// policyTarget resolves the qualifier a policy operation acts on and checks
// that it exists: "" for the function itself, a version or an alias.
func (a *API) policyTarget(account, region string, f *functionRecord, q string) (string, string, error) {
	if q == latest {
		return "", "", errInvalidParameter("We currently do not support adding policies for $LATEST.")
	}
	if q != "" && f.version(q) == nil && f.Aliases[q] == nil {
		return "", "", errFunctionNotFound(qualifiedARN(account, region, f.Name, q))
	}
	return q, qualifiedARN(account, region, f.Name, q), nil
}

// principalOf writes a Principal parameter as the policy element Lambda
// stores: "*", an account's root, an IAM ARN, or a service.
func principalOf(p string) any {
	switch {
	case p == "*":
		return "*"
	case accountPattern.MatchString(p):
		return map[string]any{"AWS": "arn:aws:iam::" + p + ":root"}
	case strings.HasPrefix(p, "arn:"):
		return map[string]any{"AWS": p}
	}
	return map[string]any{"Service": p}
}

func (a *API) addPermission(ctx context.Context, in *addPermissionInput) (*addPermissionOutput, error) {
	account, region := partition(ctx)
	ref, err := parseFunctionName(account, region, in.FunctionName)
	if err != nil {
		return nil, err
	}
	if ref, err = ref.withQualifier(in.Qualifier); err != nil {
		return nil, err
	}
	if !strings.HasPrefix(in.Action, "lambda:") && in.Action != "*" {
		return nil, errValidation(in.Action, "action", "Member must satisfy regular expression pattern: (lambda:[*]|lambda:[a-zA-Z]+|[*])")
	}
	var stmt map[string]any
	_, err = a.modifyFunction(ctx, ref, func(_ store.Tx, f *functionRecord) error {
		q, resource, err := a.policyTarget(account, region, f, ref.Qualifier)
		if err != nil {
			return err
		}
		if in.RevisionId != "" && in.RevisionId != f.Latest.RevisionID {
			return errRevisionMismatch()
		}
		for _, s := range f.Policies[q] {
			if s.Sid == in.StatementId {
				return errConflict("The statement id (%s) provided already exists. Please provide a new statement id, or remove the existing statement.", in.StatementId)
			}
		}
		stmt = map[string]any{"Sid": in.StatementId, "Effect": "Allow", "Principal": principalOf(in.Principal),
			"Action": in.Action, "Resource": resource}
		cond := map[string]map[string]string{}
		add := func(op, key, val string) {
			if val == "" {
				return
			}
			if cond[op] == nil {
				cond[op] = map[string]string{}
			}
			cond[op][key] = val
		}
		add("StringEquals", "AWS:SourceAccount", in.SourceAccount)
		add("StringEquals", "aws:PrincipalOrgID", in.PrincipalOrgID)
		add("StringEquals", "lambda:EventSourceToken", in.EventSourceToken)
		add("StringEquals", "lambda:FunctionUrlAuthType", in.FunctionUrlAuthType)
		add("ArnLike", "AWS:SourceArn", in.SourceArn)
		if len(cond) > 0 {
			stmt["Condition"] = cond
		}
		if f.Policies == nil {
			f.Policies = map[string][]policyStatement{}
		}
		f.Policies[q] = append(f.Policies[q], policyStatement{Sid: in.StatementId, Statement: stmt})
		if doc, _ := policyDocument(f.Policies[q]); len(doc) > maxPolicySize {
			return errPolicyTooLong()
		}
		f.Latest.RevisionID = newRevisionID()
		return nil
	})
	if err != nil {
		return nil, err
	}
	raw, _ := json.Marshal(stmt)
	return &addPermissionOutput{Statement: string(raw)}, nil
}

// policyDocument is the resource policy as GetPolicy returns it.
func policyDocument(stmts []policyStatement) (string, error) {
	list := make([]map[string]any, len(stmts))
	for i, s := range stmts {
		list[i] = s.Statement
	}
	raw, err := json.Marshal(map[string]any{"Version": "2012-10-17", "Id": "default", "Statement": list})
	return string(raw), err
}

type removePermissionInput struct {
	FunctionName string
	StatementId  string
	Qualifier    string
	RevisionId   string
}

func (a *API) removePermission(ctx context.Context, in *removePermissionInput) (*struct{}, error) {
	account, region := partition(ctx)
	ref, err := parseFunctionName(account, region, in.FunctionName)
	if err != nil {
		return nil, err
	}
	if ref, err = ref.withQualifier(in.Qualifier); err != nil {
		return nil, err
	}
	_, err = a.modifyFunction(ctx, ref, func(_ store.Tx, f *functionRecord) error {
		q, _, err := a.policyTarget(account, region, f, ref.Qualifier)
		if err != nil {
			return err
		}
		if in.RevisionId != "" && in.RevisionId != f.Latest.RevisionID {
			return errRevisionMismatch()
		}
		stmts := f.Policies[q]
		for i, s := range stmts {
			if s.Sid == in.StatementId {
				f.Policies[q] = append(stmts[:i], stmts[i+1:]...)
				f.Latest.RevisionID = newRevisionID()
				return nil
			}
		}
		return errNotFound("Statement %s is not found in resource policy.", in.StatementId)
	})
	if err != nil {
		return nil, err
	}
	return &struct{}{}, nil
}

type getPolicyInput struct {
	FunctionName string
	Qualifier    string
}

type getPolicyOutput struct {
	Policy     string
	RevisionId string
}

func (a *API) getPolicy(ctx context.Context, in *getPolicyInput) (*getPolicyOutput, error) {
	account, region := partition(ctx)
	ref, f, err := a.resolveRef(ctx, in.FunctionName, in.Qualifier)
	if err != nil {
		return nil, err
	}
	q, _, err := a.policyTarget(account, region, f, ref.Qualifier)
	if err != nil {
		return nil, err
	}
	if len(f.Policies[q]) == 0 {
		return nil, errNotFound("The resource you requested does not exist.")
	}
	doc, err := policyDocument(f.Policies[q])
	if err != nil {
		return nil, errInternal(err, "encode policy of %s", f.Name)
	}
	return &getPolicyOutput{Policy: doc, RevisionId: f.Latest.RevisionID}, nil
}

// allowsPublicURL reports whether a resource policy lets anyone invoke the
// function URL of AuthType NONE: a statement allowing
// lambda:InvokeFunctionUrl (or every action) to the principal "*", with no
// condition but lambda:FunctionUrlAuthType NONE.
func allowsPublicURL(stmts []policyStatement) bool {
	for _, s := range stmts {
		st := s.Statement
		action, _ := st["Action"].(string)
		if st["Effect"] != "Allow" || (action != "lambda:InvokeFunctionUrl" && action != "lambda:*" && action != "*") {
			continue
		}
		switch p := st["Principal"].(type) {
		case string:
			if p != "*" {
				continue
			}
		case map[string]any:
			if p["AWS"] != "*" {
				continue
			}
		default:
			continue
		}
		cond, _ := st["Condition"].(map[string]any)
		if len(cond) == 0 {
			return true
		}
		eq, _ := cond["StringEquals"].(map[string]any)
		if len(cond) == 1 && len(eq) == 1 && eq["lambda:FunctionUrlAuthType"] == "NONE" {
			return true
		}
	}
	return false
}
