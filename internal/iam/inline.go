package iam

import (
	"context"

	"github.com/nimbus-dev/nimbus/internal/policy"
	"github.com/nimbus-dev/nimbus/internal/service"
	"github.com/nimbus-dev/nimbus/internal/store"
)

// maxInlineBytes is IAM's quota on the total size of a user's inline
// policies (roles have 10,240 and groups 5,120; one figure keeps it simple).
const maxInlineBytes = 10240

func (m *IAM) registerInline(svc *service.Service) {
	for _, e := range []struct {
		entity entityKind
		noun   string
	}{{userEntity, "User"}, {groupEntity, "Group"}, {roleEntity, "Role"}} {
		e := e
		svc.Handle("Put"+e.noun+"Policy", service.Op(func(ctx context.Context, in *inlineInput) (*struct{}, error) {
			return &struct{}{}, m.putInline(ctx, e.entity, in)
		}))
		svc.Handle("Get"+e.noun+"Policy", service.Op(func(ctx context.Context, in *inlineInput) (*inlineOutput, error) {
			return m.getInline(ctx, e.entity, in)
		}))
		svc.Handle("Delete"+e.noun+"Policy", service.Op(func(ctx context.Context, in *inlineInput) (*struct{}, error) {
			return &struct{}{}, m.deleteInline(ctx, e.entity, in)
		}))
		svc.Handle("List"+e.noun+"Policies", service.Op(func(ctx context.Context, in *inlineInput) (*listInlineOutput, error) {
			return m.listInline(ctx, e.entity, in)
		}))
	}
}

type inlineInput struct {
	UserName       string
	GroupName      string
	RoleName       string
	PolicyName     string
	PolicyDocument string
	Marker         string
	MaxItems       int64
}

func (in *inlineInput) name() string { return in.UserName + in.GroupName + in.RoleName }

func (m *IAM) putInline(ctx context.Context, e entityKind, in *inlineInput) error {
	if err := checkName("PolicyName", in.PolicyName, 128); err != nil {
		return err
	}
	if err := m.checkDocument(in.PolicyDocument, policy.Identity); err != nil {
		return err
	}
	return m.editEntity(ctx, e, in.name(), func(_ store.Tx, _ string, a *attachable) error {
		if a.Inline == nil {
			a.Inline = map[string]string{}
		}
		a.Inline[in.PolicyName] = in.PolicyDocument
		total := 0
		for _, d := range a.Inline {
			total += len(d)
		}
		if total > maxInlineBytes {
			return limitExceeded("Maximum policy size of %d bytes exceeded for %s %s", maxInlineBytes, e.what, in.name())
		}
		return nil
	})
}

type inlineOutput struct {
	UserName       string `json:",omitempty"`
	GroupName      string `json:",omitempty"`
	RoleName       string `json:",omitempty"`
	PolicyName     string
	PolicyDocument string
}

func (m *IAM) getInline(ctx context.Context, e entityKind, in *inlineInput) (*inlineOutput, error) {
	var doc string
	err := m.view(ctx, func(tx store.Tx, acct string) error {
		_, a, err := readEntity(tx, acct, e, in.name())
		if err != nil {
			return err
		}
		var ok bool
		if doc, ok = a.Inline[in.PolicyName]; !ok {
			return noSuchEntity("The %s policy with name %s cannot be found.", e.what, in.PolicyName)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &inlineOutput{UserName: in.UserName, GroupName: in.GroupName, RoleName: in.RoleName,
		PolicyName: in.PolicyName, PolicyDocument: encodeDocument(doc)}, nil
}

func (m *IAM) deleteInline(ctx context.Context, e entityKind, in *inlineInput) error {
	return m.editEntity(ctx, e, in.name(), func(_ store.Tx, _ string, a *attachable) error {
		if _, ok := a.Inline[in.PolicyName]; !ok {
			return noSuchEntity("The %s policy with name %s cannot be found.", e.what, in.PolicyName)
		}
		delete(a.Inline, in.PolicyName)
		return nil
	})
}

type listInlineOutput struct {
	PolicyNames []string
	IsTruncated bool
	Marker      string `json:",omitempty"`
}

func (m *IAM) listInline(ctx context.Context, e entityKind, in *inlineInput) (*listInlineOutput, error) {
	var names []string
	err := m.view(ctx, func(tx store.Tx, acct string) error {
		_, a, err := readEntity(tx, acct, e, in.name())
		names = sortedKeys(a.policiesOrEmpty().Inline)
		return err
	})
	if err != nil {
		return nil, err
	}
	pg, more, next, err := page(names, in.Marker, in.MaxItems)
	if err != nil {
		return nil, err
	}
	return &listInlineOutput{PolicyNames: append([]string{}, pg...), IsTruncated: more, Marker: next}, nil
}

func (a *attachable) policiesOrEmpty() *attachable {
	if a == nil {
		return &attachable{}
	}
	return a
}
