package iam

import (
	"context"
	"strings"

	"github.com/nimbus-dev/nimbus/internal/service"
	"github.com/nimbus-dev/nimbus/internal/store"
)

// maxAttachedPolicies is IAM's default quota of managed policies per user,
// group or role.
const maxAttachedPolicies = 10

func (a *attachable) policies() *attachable { return a }

// entityKind describes users, groups and roles for the operations they
// share (attachments, inline policies).
type entityKind struct {
	kind  string // store kind
	what  string // "user", in messages
	quota string // "PoliciesPerUser"
}

var (
	userEntity  = entityKind{kindUser, "user", "PoliciesPerUser"}
	groupEntity = entityKind{kindGroup, "group", "PoliciesPerGroup"}
	roleEntity  = entityKind{kindRole, "role", "PoliciesPerRole"}
)

type hasPolicies interface{ policies() *attachable }

// readEntity reads a user, group or role as the policies it holds.
func readEntity(tx store.Tx, acct string, e entityKind, name string) (any, *attachable, error) {
	var rec any
	var err error
	switch e.kind {
	case kindUser:
		rec, err = get[userRecord](tx, acct, e.kind, name, e.what)
	case kindGroup:
		rec, err = get[groupRecord](tx, acct, e.kind, name, e.what)
	default:
		rec, err = get[roleRecord](tx, acct, e.kind, name, e.what)
	}
	if err != nil {
		return nil, nil, err
	}
	return rec, rec.(hasPolicies).policies(), nil
}

// editEntity changes the policies of a user, group or role.
func (m *IAM) editEntity(ctx context.Context, e entityKind, name string, fn func(tx store.Tx, acct string, a *attachable) error) error {
	return m.update(ctx, func(tx store.Tx, acct string) error {
		rec, a, err := readEntity(tx, acct, e, name)
		if err != nil {
			return err
		}
		if err := fn(tx, acct, a); err != nil {
			return err
		}
		return put(tx, acct, e.kind, name, rec)
	})
}

func (m *IAM) registerAttachments(svc *service.Service) {
	for _, e := range []struct {
		entity entityKind
		noun   string
	}{{userEntity, "User"}, {groupEntity, "Group"}, {roleEntity, "Role"}} {
		e := e
		svc.Handle("Attach"+e.noun+"Policy", service.Op(func(ctx context.Context, in *attachInput) (*struct{}, error) {
			return &struct{}{}, m.attach(ctx, e.entity, in.name(), in.PolicyArn)
		}))
		svc.Handle("Detach"+e.noun+"Policy", service.Op(func(ctx context.Context, in *attachInput) (*struct{}, error) {
			return &struct{}{}, m.detach(ctx, e.entity, in.name(), in.PolicyArn)
		}))
		svc.Handle("ListAttached"+e.noun+"Policies", service.Op(func(ctx context.Context, in *attachInput) (*listAttachedOutput, error) {
			return m.listAttached(ctx, e.entity, in)
		}))
	}
	svc.Handle("PutUserPermissionsBoundary", service.Op(func(ctx context.Context, in *boundaryInput) (*struct{}, error) {
		return &struct{}{}, m.setBoundary(ctx, userEntity, in.UserName, in.PermissionsBoundary)
	}))
	svc.Handle("DeleteUserPermissionsBoundary", service.Op(func(ctx context.Context, in *boundaryInput) (*struct{}, error) {
		return &struct{}{}, m.setBoundary(ctx, userEntity, in.UserName, "")
	}))
	svc.Handle("PutRolePermissionsBoundary", service.Op(func(ctx context.Context, in *boundaryInput) (*struct{}, error) {
		return &struct{}{}, m.setBoundary(ctx, roleEntity, in.RoleName, in.PermissionsBoundary)
	}))
	svc.Handle("DeleteRolePermissionsBoundary", service.Op(func(ctx context.Context, in *boundaryInput) (*struct{}, error) {
		return &struct{}{}, m.setBoundary(ctx, roleEntity, in.RoleName, "")
	}))
}

// attachInput serves every Attach/Detach/ListAttached operation: exactly
// one of the names is set.
type attachInput struct {
	UserName   string
	GroupName  string
	RoleName   string
	PolicyArn  string
	PathPrefix string
	Marker     string
	MaxItems   int64
}

func (in *attachInput) name() string { return in.UserName + in.GroupName + in.RoleName }

func (m *IAM) attach(ctx context.Context, e entityKind, name, arn string) error {
	return m.editEntity(ctx, e, name, func(tx store.Tx, acct string, a *attachable) error {
		if _, err := m.managedPolicy(tx, acct, arn); err != nil {
			return err
		}
		if containsFold(a.Attached, arn) {
			return nil
		}
		if len(a.Attached) >= maxAttachedPolicies {
			return limitExceeded("Cannot exceed quota for %s: %d", e.quota, maxAttachedPolicies)
		}
		a.Attached = append(a.Attached, arn)
		return nil
	})
}

func (m *IAM) detach(ctx context.Context, e entityKind, name, arn string) error {
	return m.editEntity(ctx, e, name, func(_ store.Tx, _ string, a *attachable) error {
		var ok bool
		if a.Attached, ok = removeString(a.Attached, arn); !ok {
			return noSuchEntity("Policy %s was not found.", arn)
		}
		return nil
	})
}

// AttachedPolicy is IAM's AttachedPolicy shape.
type AttachedPolicy struct {
	PolicyName string
	PolicyArn  string
}

type listAttachedOutput struct {
	AttachedPolicies []AttachedPolicy
	IsTruncated      bool
	Marker           string `json:",omitempty"`
}

func (m *IAM) listAttached(ctx context.Context, e entityKind, in *attachInput) (*listAttachedOutput, error) {
	var all []AttachedPolicy
	err := m.view(ctx, func(tx store.Tx, acct string) error {
		_, a, err := readEntity(tx, acct, e, in.name())
		if err != nil {
			return err
		}
		for _, arn := range a.Attached {
			p, err := m.managedPolicy(tx, acct, arn)
			if err != nil {
				continue // deleted since: AWS refuses that, but stay readable
			}
			if in.PathPrefix != "" && !strings.HasPrefix(p.Path, in.PathPrefix) {
				continue
			}
			all = append(all, AttachedPolicy{PolicyName: p.Name, PolicyArn: p.ARN})
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
	return &listAttachedOutput{AttachedPolicies: append([]AttachedPolicy{}, pg...), IsTruncated: more, Marker: next}, nil
}

type boundaryInput struct {
	UserName            string
	RoleName            string
	PermissionsBoundary string
}

func (m *IAM) setBoundary(ctx context.Context, e entityKind, name, arn string) error {
	return m.update(ctx, func(tx store.Tx, acct string) error {
		if arn != "" {
			if _, err := m.managedPolicy(tx, acct, arn); err != nil {
				return err
			}
		}
		if e.kind == kindUser {
			u, err := get[userRecord](tx, acct, kindUser, name, "user")
			if err != nil {
				return err
			}
			u.Boundary = arn
			return put(tx, acct, kindUser, u.Name, u)
		}
		r, err := get[roleRecord](tx, acct, kindRole, name, "role")
		if err != nil {
			return err
		}
		r.Boundary = arn
		return put(tx, acct, kindRole, r.Name, r)
	})
}

// entities are the users, groups and roles a managed policy is attached to.
type entities struct {
	users  []*userRecord
	groups []*groupRecord
	roles  []*roleRecord
}

func (e *entities) count() int64 { return int64(len(e.users) + len(e.groups) + len(e.roles)) }

func (m *IAM) entitiesFor(tx store.Tx, acct, arn string) (*entities, error) {
	out := &entities{}
	users, err := list[userRecord](tx, acct, kindUser)
	if err != nil {
		return nil, err
	}
	for _, u := range users {
		if containsFold(u.Attached, arn) {
			out.users = append(out.users, u)
		}
	}
	groups, err := list[groupRecord](tx, acct, kindGroup)
	if err != nil {
		return nil, err
	}
	for _, g := range groups {
		if containsFold(g.Attached, arn) {
			out.groups = append(out.groups, g)
		}
	}
	roles, err := list[roleRecord](tx, acct, kindRole)
	if err != nil {
		return nil, err
	}
	for _, r := range roles {
		if containsFold(r.Attached, arn) {
			out.roles = append(out.roles, r)
		}
	}
	return out, nil
}

// attachmentCounts counts attachments of every policy in one pass.
func (m *IAM) attachmentCounts(tx store.Tx, acct string) (map[string]int64, error) {
	counts := map[string]int64{}
	users, err := list[userRecord](tx, acct, kindUser)
	if err != nil {
		return nil, err
	}
	for _, u := range users {
		for _, a := range u.Attached {
			counts[a]++
		}
	}
	groups, err := list[groupRecord](tx, acct, kindGroup)
	if err != nil {
		return nil, err
	}
	for _, g := range groups {
		for _, a := range g.Attached {
			counts[a]++
		}
	}
	roles, err := list[roleRecord](tx, acct, kindRole)
	if err != nil {
		return nil, err
	}
	for _, r := range roles {
		for _, a := range r.Attached {
			counts[a]++
		}
	}
	return counts, nil
}

type listEntitiesInput struct {
	PolicyArn    string
	EntityFilter string
	Marker       string
	MaxItems     int64
}

type policyGroup struct{ GroupName, GroupId string }
type policyUser struct{ UserName, UserId string }
type policyRole struct{ RoleName, RoleId string }

type listEntitiesOutput struct {
	PolicyGroups []policyGroup
	PolicyUsers  []policyUser
	PolicyRoles  []policyRole
	IsTruncated  bool
}

func (m *IAM) listEntitiesForPolicy(ctx context.Context, in *listEntitiesInput) (*listEntitiesOutput, error) {
	out := &listEntitiesOutput{PolicyGroups: []policyGroup{}, PolicyUsers: []policyUser{}, PolicyRoles: []policyRole{}}
	err := m.view(ctx, func(tx store.Tx, acct string) error {
		if _, err := m.managedPolicy(tx, acct, in.PolicyArn); err != nil {
			return err
		}
		ents, err := m.entitiesFor(tx, acct, in.PolicyArn)
		if err != nil {
			return err
		}
		f := in.EntityFilter
		if f == "" || f == "User" {
			for _, u := range ents.users {
				out.PolicyUsers = append(out.PolicyUsers, policyUser{u.Name, u.ID})
			}
		}
		if f == "" || f == "Group" {
			for _, g := range ents.groups {
				out.PolicyGroups = append(out.PolicyGroups, policyGroup{g.Name, g.ID})
			}
		}
		if f == "" || f == "Role" {
			for _, r := range ents.roles {
				out.PolicyRoles = append(out.PolicyRoles, policyRole{r.Name, r.ID})
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
