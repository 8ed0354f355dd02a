package iam

import (
	"context"
	"time"

	"github.com/nimbus-dev/nimbus/internal/policy"
	"github.com/nimbus-dev/nimbus/internal/service"
	"github.com/nimbus-dev/nimbus/internal/store"
)

func (m *IAM) registerRoles(svc *service.Service) {
	svc.Handle("CreateRole", service.Op(m.createRole))
	svc.Handle("GetRole", service.Op(m.getRole))
	svc.Handle("ListRoles", service.Op(m.listRoles))
	svc.Handle("UpdateAssumeRolePolicy", service.Op(m.updateAssumeRolePolicy))
	svc.Handle("UpdateRole", service.Op(m.updateRole))
	svc.Handle("DeleteRole", service.Op(m.deleteRole))
	svc.Handle("TagRole", service.Op(m.tagRole))
	svc.Handle("UntagRole", service.Op(m.untagRole))
	svc.Handle("ListRoleTags", service.Op(m.listRoleTags))
}

// Role is IAM's Role shape.
type Role struct {
	Path                     string
	RoleName                 string
	RoleId                   string
	Arn                      string
	CreateDate               time.Time
	AssumeRolePolicyDocument string
	Description              string `json:",omitempty"`
	MaxSessionDuration       int64
	PermissionsBoundary      *AttachedBoundary `json:",omitempty"`
	Tags                     []Tag             `json:",omitempty"`
}

func (r *roleRecord) view(withTags bool) Role {
	out := Role{Path: r.Path, RoleName: r.Name, RoleId: r.ID, Arn: r.ARN, CreateDate: r.Created,
		AssumeRolePolicyDocument: encodeDocument(r.TrustPolicy), Description: r.Description,
		MaxSessionDuration: r.MaxSessionDuration, PermissionsBoundary: boundaryOf(r.Boundary)}
	if withTags {
		out.Tags = r.Tags
	}
	return out
}

type createRoleInput struct {
	Path                     string
	RoleName                 string
	AssumeRolePolicyDocument string
	Description              string
	MaxSessionDuration       int64
	PermissionsBoundary      string
	Tags                     []Tag
}

type roleOutput struct{ Role Role }

func checkMaxSession(d int64) (int64, error) {
	if d == 0 {
		return 3600, nil
	}
	if d < 3600 || d > 43200 {
		return 0, validation("The requested MaxSessionDuration %d is out of range: it must be between 3600 and 43200 seconds.", d)
	}
	return d, nil
}

func (m *IAM) createRole(ctx context.Context, in *createRoleInput) (*roleOutput, error) {
	if err := checkName("RoleName", in.RoleName, 64); err != nil {
		return nil, err
	}
	path, err := checkPath(in.Path)
	if err != nil {
		return nil, err
	}
	if in.AssumeRolePolicyDocument == "" {
		return nil, validation("1 validation error detected: Value null at 'assumeRolePolicyDocument' failed to satisfy constraint: Member must not be null")
	}
	if err := m.checkDocument(in.AssumeRolePolicyDocument, policy.Trust); err != nil {
		return nil, err
	}
	maxSession, err := checkMaxSession(in.MaxSessionDuration)
	if err != nil {
		return nil, err
	}
	tags, err := mergeTags(nil, in.Tags)
	if err != nil {
		return nil, err
	}
	var r *roleRecord
	err = m.update(ctx, func(tx store.Tx, acct string) error {
		if in.PermissionsBoundary != "" {
			if _, err := m.managedPolicy(tx, acct, in.PermissionsBoundary); err != nil {
				return err
			}
		}
		r = &roleRecord{Name: in.RoleName, ID: newID("AROA", 17), Path: path, ARN: arnOf(acct, "role", path, in.RoleName),
			Created: m.now().UTC(), TrustPolicy: in.AssumeRolePolicyDocument, Description: in.Description,
			MaxSessionDuration: maxSession, Tags: tags, Boundary: in.PermissionsBoundary}
		return create(tx, acct, kindRole, in.RoleName, "Role", r)
	})
	if err != nil {
		return nil, err
	}
	return &roleOutput{Role: r.view(true)}, nil
}

type roleNameInput struct{ RoleName string }

func (m *IAM) getRole(ctx context.Context, in *roleNameInput) (*roleOutput, error) {
	var r *roleRecord
	err := m.view(ctx, func(tx store.Tx, acct string) (err error) {
		r, err = get[roleRecord](tx, acct, kindRole, in.RoleName, "role")
		return err
	})
	if err != nil {
		return nil, err
	}
	return &roleOutput{Role: r.view(true)}, nil
}

type listRolesOutput struct {
	Roles       []Role
	IsTruncated bool
	Marker      string `json:",omitempty"`
}

func (m *IAM) listRoles(ctx context.Context, in *listInput) (*listRolesOutput, error) {
	var roles []*roleRecord
	err := m.view(ctx, func(tx store.Tx, acct string) (err error) {
		roles, err = list[roleRecord](tx, acct, kindRole)
		return err
	})
	if err != nil {
		return nil, err
	}
	roles = withPrefix(roles, in.PathPrefix, func(r *roleRecord) string { return r.Path })
	pg, more, next, err := page(roles, in.Marker, in.MaxItems)
	if err != nil {
		return nil, err
	}
	out := &listRolesOutput{Roles: []Role{}, IsTruncated: more, Marker: next}
	for _, r := range pg {
		out.Roles = append(out.Roles, r.view(false))
	}
	return out, nil
}

type updateAssumeRolePolicyInput struct {
	RoleName       string
	PolicyDocument string
}

func (m *IAM) updateAssumeRolePolicy(ctx context.Context, in *updateAssumeRolePolicyInput) (*struct{}, error) {
	if err := m.checkDocument(in.PolicyDocument, policy.Trust); err != nil {
		return nil, err
	}
	return &struct{}{}, m.editRole(ctx, in.RoleName, func(r *roleRecord) error {
		r.TrustPolicy = in.PolicyDocument
		return nil
	})
}

type updateRoleInput struct {
	RoleName           string
	Description        *string
	MaxSessionDuration int64
}

func (m *IAM) updateRole(ctx context.Context, in *updateRoleInput) (*struct{}, error) {
	return &struct{}{}, m.editRole(ctx, in.RoleName, func(r *roleRecord) error {
		if in.Description != nil {
			r.Description = *in.Description
		}
		if in.MaxSessionDuration != 0 {
			d, err := checkMaxSession(in.MaxSessionDuration)
			if err != nil {
				return err
			}
			r.MaxSessionDuration = d
		}
		return nil
	})
}

func (m *IAM) deleteRole(ctx context.Context, in *roleNameInput) (*struct{}, error) {
	err := m.update(ctx, func(tx store.Tx, acct string) error {
		r, err := get[roleRecord](tx, acct, kindRole, in.RoleName, "role")
		if err != nil {
			return err
		}
		if len(r.Inline) > 0 || len(r.Attached) > 0 {
			return deleteConflict("Cannot delete entity, must detach all policies first.")
		}
		profiles, err := list[instanceProfileRecord](tx, acct, kindInstanceProfile)
		if err != nil {
			return err
		}
		for _, p := range profiles {
			if containsFold(p.Roles, r.Name) {
				return deleteConflict("Cannot delete entity, must remove roles from instance profile first.")
			}
		}
		return remove(tx, acct, kindRole, r.Name)
	})
	return &struct{}{}, err
}

type tagRoleInput struct {
	RoleName string
	Tags     []Tag
	TagKeys  []string
}

func (m *IAM) tagRole(ctx context.Context, in *tagRoleInput) (*struct{}, error) {
	return &struct{}{}, m.editRole(ctx, in.RoleName, func(r *roleRecord) (err error) {
		r.Tags, err = mergeTags(r.Tags, in.Tags)
		return err
	})
}

func (m *IAM) untagRole(ctx context.Context, in *tagRoleInput) (*struct{}, error) {
	return &struct{}{}, m.editRole(ctx, in.RoleName, func(r *roleRecord) error {
		r.Tags = dropTags(r.Tags, in.TagKeys)
		return nil
	})
}

func (m *IAM) listRoleTags(ctx context.Context, in *roleNameInput) (*listTagsOutput, error) {
	var r *roleRecord
	err := m.view(ctx, func(tx store.Tx, acct string) (err error) {
		r, err = get[roleRecord](tx, acct, kindRole, in.RoleName, "role")
		return err
	})
	if err != nil {
		return nil, err
	}
	return &listTagsOutput{Tags: append([]Tag{}, r.Tags...)}, nil
}

func (m *IAM) editRole(ctx context.Context, name string, fn func(*roleRecord) error) error {
	return m.update(ctx, func(tx store.Tx, acct string) error {
		r, err := get[roleRecord](tx, acct, kindRole, name, "role")
		if err != nil {
			return err
		}
		if err := fn(r); err != nil {
			return err
		}
		return put(tx, acct, kindRole, r.Name, r)
	})
}
