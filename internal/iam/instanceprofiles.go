package iam

import (
	"context"
	"strings"
	"time"

	"github.com/nimbus-dev/nimbus/internal/service"
	"github.com/nimbus-dev/nimbus/internal/store"
)

func (m *IAM) registerInstanceProfiles(svc *service.Service) {
	svc.Handle("CreateInstanceProfile", service.Op(m.createInstanceProfile))
	svc.Handle("GetInstanceProfile", service.Op(m.getInstanceProfile))
	svc.Handle("ListInstanceProfiles", service.Op(m.listInstanceProfiles))
	svc.Handle("DeleteInstanceProfile", service.Op(m.deleteInstanceProfile))
	svc.Handle("AddRoleToInstanceProfile", service.Op(m.addRoleToInstanceProfile))
	svc.Handle("RemoveRoleFromInstanceProfile", service.Op(m.removeRoleFromInstanceProfile))
	svc.Handle("ListInstanceProfilesForRole", service.Op(m.listInstanceProfilesForRole))
}

// InstanceProfile is IAM's InstanceProfile shape.
type InstanceProfile struct {
	Path                string
	InstanceProfileName string
	InstanceProfileId   string
	Arn                 string
	CreateDate          time.Time
	Roles               []Role
	Tags                []Tag `json:",omitempty"`
}

func (m *IAM) profileView(tx store.Tx, acct string, p *instanceProfileRecord) InstanceProfile {
	out := InstanceProfile{Path: p.Path, InstanceProfileName: p.Name, InstanceProfileId: p.ID, Arn: p.ARN,
		CreateDate: p.Created, Roles: []Role{}, Tags: p.Tags}
	for _, name := range p.Roles {
		if r, err := get[roleRecord](tx, acct, kindRole, name, "role"); err == nil {
			out.Roles = append(out.Roles, r.view(false))
		}
	}
	return out
}

type instanceProfileInput struct {
	InstanceProfileName string
	RoleName            string
	Path                string
	PathPrefix          string
	Tags                []Tag
	Marker              string
	MaxItems            int64
}

type instanceProfileOutput struct{ InstanceProfile InstanceProfile }

func (m *IAM) createInstanceProfile(ctx context.Context, in *instanceProfileInput) (*instanceProfileOutput, error) {
	if err := checkName("InstanceProfileName", in.InstanceProfileName, 128); err != nil {
		return nil, err
	}
	path, err := checkPath(in.Path)
	if err != nil {
		return nil, err
	}
	tags, err := mergeTags(nil, in.Tags)
	if err != nil {
		return nil, err
	}
	var out InstanceProfile
	err = m.update(ctx, func(tx store.Tx, acct string) error {
		p := &instanceProfileRecord{Name: in.InstanceProfileName, ID: newID("AIPA", 17), Path: path,
			ARN: arnOf(acct, "instance-profile", path, in.InstanceProfileName), Created: m.now().UTC(), Tags: tags}
		if err := create(tx, acct, kindInstanceProfile, p.Name, "Instance Profile", p); err != nil {
			return err
		}
		out = m.profileView(tx, acct, p)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &instanceProfileOutput{InstanceProfile: out}, nil
}

func (m *IAM) getInstanceProfile(ctx context.Context, in *instanceProfileInput) (*instanceProfileOutput, error) {
	var out InstanceProfile
	err := m.view(ctx, func(tx store.Tx, acct string) error {
		p, err := get[instanceProfileRecord](tx, acct, kindInstanceProfile, in.InstanceProfileName, "instance profile")
		if err != nil {
			return err
		}
		out = m.profileView(tx, acct, p)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &instanceProfileOutput{InstanceProfile: out}, nil
}

type listInstanceProfilesOutput struct {
	InstanceProfiles []InstanceProfile
	IsTruncated      bool
	Marker           string `json:",omitempty"`
}

func (m *IAM) listProfiles(ctx context.Context, in *instanceProfileInput, keep func(*instanceProfileRecord) bool) (*listInstanceProfilesOutput, error) {
	var all []InstanceProfile
	err := m.view(ctx, func(tx store.Tx, acct string) error {
		if in.RoleName != "" {
			if _, err := get[roleRecord](tx, acct, kindRole, in.RoleName, "role"); err != nil {
				return err
			}
		}
		profiles, err := list[instanceProfileRecord](tx, acct, kindInstanceProfile)
		if err != nil {
			return err
		}
		for _, p := range profiles {
			if keep(p) {
				all = append(all, m.profileView(tx, acct, p))
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	pg, more, next, err := page(all, in.Marker, in.MaxItems)
	if err != nil {
		return nil, err
	}
	return &listInstanceProfilesOutput{InstanceProfiles: append([]InstanceProfile{}, pg...), IsTruncated: more, Marker: next}, nil
}

func (m *IAM) listInstanceProfiles(ctx context.Context, in *instanceProfileInput) (*listInstanceProfilesOutput, error) {
	return m.listProfiles(ctx, in, func(p *instanceProfileRecord) bool {
		return in.PathPrefix == "" || strings.HasPrefix(p.Path, in.PathPrefix)
	})
}

func (m *IAM) listInstanceProfilesForRole(ctx context.Context, in *instanceProfileInput) (*listInstanceProfilesOutput, error) {
	return m.listProfiles(ctx, in, func(p *instanceProfileRecord) bool { return containsFold(p.Roles, in.RoleName) })
}

func (m *IAM) deleteInstanceProfile(ctx context.Context, in *instanceProfileInput) (*struct{}, error) {
	err := m.update(ctx, func(tx store.Tx, acct string) error {
		p, err := get[instanceProfileRecord](tx, acct, kindInstanceProfile, in.InstanceProfileName, "instance profile")
		if err != nil {
			return err
		}
		if len(p.Roles) > 0 {
			return deleteConflict("Cannot delete entity, must remove roles from instance profile first.")
		}
		return remove(tx, acct, kindInstanceProfile, p.Name)
	})
	return &struct{}{}, err
}

func (m *IAM) addRoleToInstanceProfile(ctx context.Context, in *instanceProfileInput) (*struct{}, error) {
	err := m.update(ctx, func(tx store.Tx, acct string) error {
		p, err := get[instanceProfileRecord](tx, acct, kindInstanceProfile, in.InstanceProfileName, "instance profile")
		if err != nil {
			return err
		}
		r, err := get[roleRecord](tx, acct, kindRole, in.RoleName, "role")
		if err != nil {
			return err
		}
		if len(p.Roles) > 0 {
			return limitExceeded("Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1")
		}
		p.Roles = []string{r.Name}
		return put(tx, acct, kindInstanceProfile, p.Name, p)
	})
	return &struct{}{}, err
}

func (m *IAM) removeRoleFromInstanceProfile(ctx context.Context, in *instanceProfileInput) (*struct{}, error) {
	err := m.update(ctx, func(tx store.Tx, acct string) error {
		p, err := get[instanceProfileRecord](tx, acct, kindInstanceProfile, in.InstanceProfileName, "instance profile")
		if err != nil {
			return err
		}
		var ok bool
		if p.Roles, ok = removeString(p.Roles, in.RoleName); !ok {
			return noSuchEntity("The role with name %s cannot be found.", in.RoleName)
		}
		return put(tx, acct, kindInstanceProfile, p.Name, p)
	})
	return &struct{}{}, err
}

// InstanceProfileRole returns the ARN of the role in an instance profile
// (named by name or ARN), for EC2 to mint an instance's credentials with
// MintRoleCredentials; "" when the profile holds no role.
func (m *IAM) InstanceProfileRole(ctx context.Context, acct, profile string) (string, error) {
	name := profile
	if strings.HasPrefix(profile, "arn:") {
		name = profile[strings.LastIndexByte(profile, '/')+1:]
	}
	var roleARN string
	err := m.store.View(ctx, func(tx store.Tx) error {
		p, err := get[instanceProfileRecord](tx, acct, kindInstanceProfile, name, "instance profile")
		if err != nil {
			return err
		}
		if len(p.Roles) == 0 {
			return nil
		}
		r, err := get[roleRecord](tx, acct, kindRole, p.Roles[0], "role")
		if err != nil {
			return err
		}
		roleARN = r.ARN
		return nil
	})
	return roleARN, err
}
