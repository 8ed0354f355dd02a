package iam

import (
	"errors"
	"strings"

	"github.com/nimbus-dev/nimbus/internal/identity"
	"github.com/nimbus-dev/nimbus/internal/policy"
	"github.com/nimbus-dev/nimbus/internal/store"
)

// allowAll stands in for the identity policies of the account root, which
// IAM policies do not limit.
var allowAll = func() *policy.Policy {
	p := policy.MustParse(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`, policy.Identity)
	p.Name = "root"
	return p
}()

// principalPolicies is everything IAM knows about a principal that bears
// on authorizing its requests.
type principalPolicies struct {
	set    policy.Set
	caller policy.Caller
	tags   []Tag // principal tags: the user's, or the role's overlaid by the session's
	// principalARN is aws:PrincipalArn: the user's ARN, or a session's role ARN.
	principalARN string
	userName     string // aws:username, users only
	// context is principalContext, computed once for a cached entry; nil
	// elsewhere. Shared: copy it, never modify it.
	context policy.Context
	// sessionMissing marks a role session gathered without its session
	// record, which a later write could still create: never cached.
	sessionMissing bool
}

// roleNameFromSessionARN reads ROLE from arn:aws:sts::ACCT:assumed-role/ROLE/SESSION.
func roleNameFromSessionARN(arn string) string {
	_, rest, ok := strings.Cut(arn, ":assumed-role/")
	if !ok {
		return ""
	}
	role, _, _ := strings.Cut(rest, "/")
	return role
}

// policiesOf gathers a principal's policies within a transaction.
func (m *IAM) policiesOf(tx store.Tx, p *identity.Principal) (*principalPolicies, error) {
	out := &principalPolicies{caller: policy.Caller{ARN: p.ARN, Account: p.Account}, principalARN: p.ARN}
	switch p.Type {
	case identity.Root:
		out.set.Identity = []*policy.Policy{allowAll}
		return out, nil
	case identity.User:
		u, err := get[userRecord](tx, p.Account, kindUser, p.Name, "user")
		if err != nil {
			return nil, err
		}
		out.userName, out.tags = u.Name, u.Tags
		if err := m.addEntityPolicies(tx, p.Account, u.Name, &u.attachable, &out.set); err != nil {
			return nil, err
		}
		for _, g := range u.Groups {
			gr, err := get[groupRecord](tx, p.Account, kindGroup, g, "group")
			if err != nil {
				continue
			}
			if err := m.addEntityPolicies(tx, p.Account, gr.Name, &gr.attachable, &out.set); err != nil {
				return nil, err
			}
		}
		return out, m.addBoundary(tx, p.Account, u.Boundary, &out.set)
	case identity.RoleSession:
		var sess *sessionRecord
		if p.AccessKey != "" {
			s := new(sessionRecord)
			if _, err := tx.Get(store.Key{Account: p.Account, Kind: kindSession, ID: p.AccessKey}, s); err == nil {
				sess = s
			} else if errors.Is(err, store.ErrNotFound) {
				out.sessionMissing = true
			} else {
				return nil, storeErr(err, "read session")
			}
		}
		roleName := roleNameFromSessionARN(p.ARN)
		r, err := get[roleRecord](tx, p.Account, kindRole, roleName, "role")
		if err != nil {
			return nil, err
		}
		out.caller.RoleARN, out.principalARN = r.ARN, r.ARN
		out.tags = r.Tags
		if err := m.addEntityPolicies(tx, p.Account, r.Name, &r.attachable, &out.set); err != nil {
			return nil, err
		}
		if err := m.addBoundary(tx, p.Account, r.Boundary, &out.set); err != nil {
			return nil, err
		}
		if sess != nil {
			if err := m.addSessionPolicies(tx, p.Account, sess, &out.set); err != nil {
				return nil, err
			}
			out.tags, _ = mergeTags(out.tags, sess.Tags)
		}
		return out, nil
	}
	return nil, errors.New("unknown principal type " + string(p.Type))
}

// addEntityPolicies adds a user's, group's or role's inline and attached
// policies to the identity set.
func (m *IAM) addEntityPolicies(tx store.Tx, acct, owner string, a *attachable, set *policy.Set) error {
	for _, name := range sortedKeys(a.Inline) {
		p, err := m.parse(a.Inline[name], policy.Identity)
		if err != nil {
			continue // stored before validation tightened: it grants nothing
		}
		set.Identity = append(set.Identity, named(p, owner+"/"+name))
	}
	for _, arn := range a.Attached {
		mp, err := m.managedPolicy(tx, acct, arn)
		if err != nil {
			continue
		}
		p, err := m.parse(mp.defaultDocument(), policy.Identity)
		if err != nil {
			continue
		}
		set.Identity = append(set.Identity, named(p, arn))
	}
	return nil
}

func (m *IAM) addBoundary(tx store.Tx, acct, arn string, set *policy.Set) error {
	if arn == "" {
		return nil
	}
	mp, err := m.managedPolicy(tx, acct, arn)
	if err != nil {
		// A boundary that no longer exists allows nothing.
		set.Boundary = named(&policy.Policy{}, arn)
		return nil
	}
	p, err := m.parse(mp.defaultDocument(), policy.Identity)
	if err != nil {
		set.Boundary = named(&policy.Policy{}, arn)
		return nil
	}
	set.Boundary = named(p, arn)
	return nil
}

func (m *IAM) addSessionPolicies(tx store.Tx, acct string, s *sessionRecord, set *policy.Set) error {
	if !s.HasSessionPolicies {
		return nil
	}
	set.HasSession = true
	if s.Policy != "" {
		if p, err := m.parse(s.Policy, policy.Identity); err == nil {
			set.Session = append(set.Session, named(p, "session policy"))
		}
	}
	for _, arn := range s.PolicyARNs {
		if mp, err := m.managedPolicy(tx, acct, arn); err == nil {
			if p, err := m.parse(mp.defaultDocument(), policy.Identity); err == nil {
				set.Session = append(set.Session, named(p, arn))
			}
		}
	}
	return nil
}

// named returns a shallow copy of a cached policy labelled with its name:
// the cache is shared by every principal holding the same document.
func named(p *policy.Policy, name string) *policy.Policy {
	c := *p
	c.Name = name
	return &c
}
