package iam

import (
	"context"
	"time"

	"github.com/nimbus-dev/nimbus/internal/service"
	"github.com/nimbus-dev/nimbus/internal/store"
)

func (m *IAM) registerGroups(svc *service.Service) {
	svc.Handle("CreateGroup", service.Op(m.createGroup))
	svc.Handle("GetGroup", service.Op(m.getGroup))
	svc.Handle("ListGroups", service.Op(m.listGroups))
	svc.Handle("DeleteGroup", service.Op(m.deleteGroup))
	svc.Handle("AddUserToGroup", service.Op(m.addUserToGroup))
	svc.Handle("RemoveUserFromGroup", service.Op(m.removeUserFromGroup))
	svc.Handle("ListGroupsForUser", service.Op(m.listGroupsForUser))
}

// Group is IAM's Group shape.
type Group struct {
	Path       string
	GroupName  string
	GroupId    string
	Arn        string
	CreateDate time.Time
}

func (g *groupRecord) view() Group {
	return Group{Path: g.Path, GroupName: g.Name, GroupId: g.ID, Arn: g.ARN, CreateDate: g.Created}
}

type createGroupInput struct {
	Path      string
	GroupName string
}

type groupOutput struct{ Group Group }

func (m *IAM) createGroup(ctx context.Context, in *createGroupInput) (*groupOutput, error) {
	if err := checkName("GroupName", in.GroupName, 128); err != nil {
		return nil, err
	}
	path, err := checkPath(in.Path)
	if err != nil {
		return nil, err
	}
	var g *groupRecord
	err = m.update(ctx, func(tx store.Tx, acct string) error {
		g = &groupRecord{Name: in.GroupName, ID: newID("AGPA", 17), Path: path, ARN: arnOf(acct, "group", path, in.GroupName), Created: m.now().UTC()}
		return create(tx, acct, kindGroup, in.GroupName, "Group", g)
	})
	if err != nil {
		return nil, err
	}
	return &groupOutput{Group: g.view()}, nil
}

type groupNameInput struct {
	GroupName string
	Marker    string
	MaxItems  int64
}

type getGroupOutput struct {
	Group       Group
	Users       []User
	IsTruncated bool
	Marker      string `json:",omitempty"`
}

func (m *IAM) getGroup(ctx context.Context, in *groupNameInput) (*getGroupOutput, error) {
	var g *groupRecord
	var members []*userRecord
	err := m.view(ctx, func(tx store.Tx, acct string) error {
		var err error
		if g, err = get[groupRecord](tx, acct, kindGroup, in.GroupName, "group"); err != nil {
			return err
		}
		users, err := list[userRecord](tx, acct, kindUser)
		for _, u := range users {
			if containsFold(u.Groups, g.Name) {
				members = append(members, u)
			}
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	pg, more, next, err := page(members, in.Marker, in.MaxItems)
	if err != nil {
		return nil, err
	}
	out := &getGroupOutput{Group: g.view(), Users: []User{}, IsTruncated: more, Marker: next}
	for _, u := range pg {
		out.Users = append(out.Users, u.view(false))
	}
	return out, nil
}

type listGroupsOutput struct {
	Groups      []Group
	IsTruncated bool
	Marker      string `json:",omitempty"`
}

func (m *IAM) listGroups(ctx context.Context, in *listInput) (*listGroupsOutput, error) {
	var groups []*groupRecord
	err := m.view(ctx, func(tx store.Tx, acct string) (err error) {
		groups, err = list[groupRecord](tx, acct, kindGroup)
		return err
	})
	if err != nil {
		return nil, err
	}
	groups = withPrefix(groups, in.PathPrefix, func(g *groupRecord) string { return g.Path })
	return groupPage(groups, in.Marker, in.MaxItems)
}

func groupPage(groups []*groupRecord, marker string, maxItems int64) (*listGroupsOutput, error) {
	pg, more, next, err := page(groups, marker, maxItems)
	if err != nil {
		return nil, err
	}
	out := &listGroupsOutput{Groups: []Group{}, IsTruncated: more, Marker: next}
	for _, g := range pg {
		out.Groups = append(out.Groups, g.view())
	}
	return out, nil
}

func (m *IAM) deleteGroup(ctx context.Context, in *groupNameInput) (*struct{}, error) {
	err := m.update(ctx, func(tx store.Tx, acct string) error {
		g, err := get[groupRecord](tx, acct, kindGroup, in.GroupName, "group")
		if err != nil {
			return err
		}
		users, err := list[userRecord](tx, acct, kindUser)
		if err != nil {
			return err
		}
		for _, u := range users {
			if containsFold(u.Groups, g.Name) {
				return deleteConflict("Cannot delete entity, must remove users from group first.")
			}
		}
		if len(g.Inline) > 0 || len(g.Attached) > 0 {
			return deleteConflict("Cannot delete entity, must delete policies first.")
		}
		return remove(tx, acct, kindGroup, g.Name)
	})
	return &struct{}{}, err
}

type membershipInput struct {
	GroupName string
	UserName  string
}

func (m *IAM) addUserToGroup(ctx context.Context, in *membershipInput) (*struct{}, error) {
	err := m.update(ctx, func(tx store.Tx, acct string) error {
		g, err := get[groupRecord](tx, acct, kindGroup, in.GroupName, "group")
		if err != nil {
			return err
		}
		u, err := get[userRecord](tx, acct, kindUser, in.UserName, "user")
		if err != nil {
			return err
		}
		if containsFold(u.Groups, g.Name) {
			return nil
		}
		if len(u.Groups) >= 10 {
			return limitExceeded("Cannot exceed quota for GroupsPerUser: 10")
		}
		u.Groups = append(u.Groups, g.Name)
		return put(tx, acct, kindUser, u.Name, u)
	})
	return &struct{}{}, err
}

func (m *IAM) removeUserFromGroup(ctx context.Context, in *membershipInput) (*struct{}, error) {
	err := m.update(ctx, func(tx store.Tx, acct string) error {
		if _, err := get[groupRecord](tx, acct, kindGroup, in.GroupName, "group"); err != nil {
			return err
		}
		u, err := get[userRecord](tx, acct, kindUser, in.UserName, "user")
		if err != nil {
			return err
		}
		var ok bool
		if u.Groups, ok = removeString(u.Groups, in.GroupName); !ok {
			return noSuchEntity("The user with name %s cannot be found in group %s.", in.UserName, in.GroupName)
		}
		return put(tx, acct, kindUser, u.Name, u)
	})
	return &struct{}{}, err
}

type listGroupsForUserInput struct {
	UserName string
	Marker   string
	MaxItems int64
}

func (m *IAM) listGroupsForUser(ctx context.Context, in *listGroupsForUserInput) (*listGroupsOutput, error) {
	var groups []*groupRecord
	err := m.view(ctx, func(tx store.Tx, acct string) error {
		u, err := get[userRecord](tx, acct, kindUser, in.UserName, "user")
		if err != nil {
			return err
		}
		for _, name := range u.Groups {
			g, err := get[groupRecord](tx, acct, kindGroup, name, "group")
			if err != nil {
				continue // deleted under us: membership is advisory
			}
			groups = append(groups, g)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return groupPage(groups, in.Marker, in.MaxItems)
}
