package iam

import (
	"time"

	"context"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/identity"
	"github.com/nimbus-dev/nimbus/internal/service"
	"github.com/nimbus-dev/nimbus/internal/store"
)

func (m *IAM) registerUsers(svc *service.Service) {
	svc.Handle("CreateUser", service.Op(m.createUser))
	svc.Handle("GetUser", service.Op(m.getUser))
	svc.Handle("ListUsers", service.Op(m.listUsers))
	svc.Handle("DeleteUser", service.Op(m.deleteUser))
	svc.Handle("TagUser", service.Op(m.tagUser))
	svc.Handle("UntagUser", service.Op(m.untagUser))
	svc.Handle("ListUserTags", service.Op(m.listUserTags))
}

// User is IAM's User shape.
type User struct {
	Path                string
	UserName            string
	UserId              string
	Arn                 string
	CreateDate          time.Time
	Tags                []Tag             `json:",omitempty"`
	PermissionsBoundary *AttachedBoundary `json:",omitempty"`
}

// AttachedBoundary is IAM's AttachedPermissionsBoundary shape.
type AttachedBoundary struct {
	PermissionsBoundaryType string
	PermissionsBoundaryArn  string
}

func boundaryOf(arn string) *AttachedBoundary {
	if arn == "" {
		return nil
	}
	return &AttachedBoundary{PermissionsBoundaryType: "Policy", PermissionsBoundaryArn: arn}
}

func (u *userRecord) view(withTags bool) User {
	out := User{Path: u.Path, UserName: u.Name, UserId: u.ID, Arn: u.ARN, CreateDate: u.Created, PermissionsBoundary: boundaryOf(u.Boundary)}
	if withTags {
		out.Tags = u.Tags
	}
	return out
}

type createUserInput struct {
	Path                string
	UserName            string
	PermissionsBoundary string
	Tags                []Tag
}

type userOutput struct{ User User }

func (m *IAM) createUser(ctx context.Context, in *createUserInput) (*userOutput, error) {
	if err := checkName("UserName", in.UserName, 64); err != nil {
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
	var u *userRecord
	err = m.update(ctx, func(tx store.Tx, acct string) error {
		if in.PermissionsBoundary != "" {
			if _, err := m.managedPolicy(tx, acct, in.PermissionsBoundary); err != nil {
				return err
			}
		}
		u = &userRecord{Name: in.UserName, ID: newID("AIDA", 17), Path: path, ARN: arnOf(acct, "user", path, in.UserName),
			Created: m.now().UTC(), Tags: tags, Boundary: in.PermissionsBoundary}
		return create(tx, acct, kindUser, in.UserName, "User", u)
	})
	if err != nil {
		return nil, err
	}
	return &userOutput{User: u.view(true)}, nil
}

type getUserInput struct{ UserName string }

// getUser answers for the named user or, without a name, the caller.
func (m *IAM) getUser(ctx context.Context, in *getUserInput) (*userOutput, error) {
	name := in.UserName
	if name == "" {
		p := identity.From(ctx).Principal
		switch {
		case p == nil:
			return nil, awserr.Missing("UserName")
		case p.Type == identity.Root:
			return &userOutput{User: User{UserId: p.Account, Arn: p.ARN, CreateDate: m.now().UTC()}}, nil
		case p.Type != identity.User:
			return nil, validation("Must specify userName when calling with non-User credentials")
		}
		name = p.Name
	}
	var u *userRecord
	err := m.view(ctx, func(tx store.Tx, acct string) (err error) {
		u, err = get[userRecord](tx, acct, kindUser, name, "user")
		return err
	})
	if err != nil {
		return nil, err
	}
	return &userOutput{User: u.view(true)}, nil
}

type listInput struct {
	PathPrefix string
	Marker     string
	MaxItems   int64
}

type listUsersOutput struct {
	Users       []User
	IsTruncated bool
	Marker      string `json:",omitempty"`
}

func (m *IAM) listUsers(ctx context.Context, in *listInput) (*listUsersOutput, error) {
	var users []*userRecord
	err := m.view(ctx, func(tx store.Tx, acct string) (err error) {
		users, err = list[userRecord](tx, acct, kindUser)
		return err
	})
	if err != nil {
		return nil, err
	}
	users = withPrefix(users, in.PathPrefix, func(u *userRecord) string { return u.Path })
	pg, more, next, err := page(users, in.Marker, in.MaxItems)
	if err != nil {
		return nil, err
	}
	out := &listUsersOutput{Users: []User{}, IsTruncated: more, Marker: next}
	for _, u := range pg {
		out.Users = append(out.Users, u.view(false))
	}
	return out, nil
}

type userNameInput struct{ UserName string }

// deleteUser refuses while the user still has keys, policies or groups,
// as IAM does.
func (m *IAM) deleteUser(ctx context.Context, in *userNameInput) (*struct{}, error) {
	err := m.update(ctx, func(tx store.Tx, acct string) error {
		u, err := get[userRecord](tx, acct, kindUser, in.UserName, "user")
		if err != nil {
			return err
		}
		keys, err := m.userKeys(tx, acct, u.Name)
		if err != nil {
			return err
		}
		if len(keys) > 0 || len(u.Inline) > 0 || len(u.Attached) > 0 || len(u.Groups) > 0 {
			return deleteConflict("Cannot delete entity, must delete access keys, policies and group memberships first.")
		}
		return remove(tx, acct, kindUser, u.Name)
	})
	return &struct{}{}, err
}

type tagUserInput struct {
	UserName string
	Tags     []Tag
	TagKeys  []string
}

func (m *IAM) tagUser(ctx context.Context, in *tagUserInput) (*struct{}, error) {
	return &struct{}{}, m.editUser(ctx, in.UserName, func(u *userRecord) (err error) {
		u.Tags, err = mergeTags(u.Tags, in.Tags)
		return err
	})
}

func (m *IAM) untagUser(ctx context.Context, in *tagUserInput) (*struct{}, error) {
	return &struct{}{}, m.editUser(ctx, in.UserName, func(u *userRecord) error {
		u.Tags = dropTags(u.Tags, in.TagKeys)
		return nil
	})
}

type listTagsOutput struct {
	Tags        []Tag
	IsTruncated bool
}

func (m *IAM) listUserTags(ctx context.Context, in *userNameInput) (*listTagsOutput, error) {
	var u *userRecord
	err := m.view(ctx, func(tx store.Tx, acct string) (err error) {
		u, err = get[userRecord](tx, acct, kindUser, in.UserName, "user")
		return err
	})
	if err != nil {
		return nil, err
	}
	return &listTagsOutput{Tags: append([]Tag{}, u.Tags...)}, nil
}

// editUser reads, changes and writes back one user.
func (m *IAM) editUser(ctx context.Context, name string, fn func(*userRecord) error) error {
	return m.update(ctx, func(tx store.Tx, acct string) error {
		u, err := get[userRecord](tx, acct, kindUser, name, "user")
		if err != nil {
			return err
		}
		if err := fn(u); err != nil {
			return err
		}
		return put(tx, acct, kindUser, u.Name, u)
	})
}
