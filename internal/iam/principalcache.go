package iam

import (
	"context"
	"sync"

	"github.com/nimbus-dev/nimbus/internal/identity"
	"github.com/nimbus-dev/nimbus/internal/store"
)

// maxCachedPrincipals bounds the cache; past it the cache starts afresh.
const maxCachedPrincipals = 4096

// principalKey names a cache entry. The access key is part of it because
// a role session's policies and tags depend on the session, not only on
// the role.
type principalKey struct{ arn, accessKey string }

// principalCache holds principals' gathered policies as of one IAM change
// generation (changes.go): a hit costs a read lock and a map lookup, where
// gathering them costs a store transaction.
type principalCache struct {
	mu         sync.RWMutex
	generation uint64
	entries    map[principalKey]*principalPolicies
}

// get returns k's policies if they were gathered at generation gen.
func (c *principalCache) get(gen uint64, k principalKey) (*principalPolicies, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.generation != gen {
		return nil, false
	}
	pp, ok := c.entries[k]
	return pp, ok
}

// put keeps policies gathered from a snapshot opened at generation gen.
// Policies from an older generation than the cache's are dropped: they may
// miss a write that newer entries reflect.
func (c *principalCache) put(gen uint64, k principalKey, pp *principalPolicies) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case gen < c.generation:
		return
	case c.entries == nil:
		c.entries = make(map[principalKey]*principalPolicies)
	case gen > c.generation || len(c.entries) >= maxCachedPrincipals:
		clear(c.entries)
	}
	c.generation = gen
	c.entries[k] = pp
}

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
