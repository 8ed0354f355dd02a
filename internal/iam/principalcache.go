package iam

import (
	"context"

	"github.com/nimbus-dev/nimbus/internal/identity"
	"github.com/nimbus-dev/nimbus/internal/store"
)

// principalKey names a principal cache entry. The access key is part of
// it because a role session's policies and tags depend on the session,
// not only on the role.
type principalKey struct{ arn, accessKey string }

// cachedPoliciesOf is policiesOf through the principal cache. The change
// generation is read before the snapshot is opened, so an entry can only
// be served while no write has finished since its snapshot began.
func (m *IAM) cachedPoliciesOf(ctx context.Context, p *identity.Principal) (*principalPolicies, error) {
	k := principalKey{arn: p.ARN, accessKey: p.AccessKey}
	gen := m.changes.current()
	if pp, ok := m.principals.get(gen, k); ok {
		return pp, nil
	}
	var out *principalPolicies
	err := m.store.View(ctx, func(tx store.Tx) error {
		var err error
		out, err = m.policiesOf(tx, p)
		return err
	})
	if err != nil {
		return nil, err
	}
	if !out.sessionMissing {
		out.context = principalContext(out, p)
		m.principals.put(gen, k, out)
	}
	return out, nil
}
