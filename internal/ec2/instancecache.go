package ec2

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/nimbus-dev/nimbus/internal/store"
)

// defaultInstanceCacheLimit bounds the cache by the size of the records it
// holds decoded, summed over all partitions. A decoded instance takes about
// as much heap as its JSON (BenchmarkInstanceCacheMemory: about 1.4 KiB
// for a record of about 1.3 KiB), and the size is what varies (user data
// alone may be 16 KiB), so the bound is on bytes rather than instances:
// 64 MiB holds about 45,000 instances without user data. A partition larger
// than the limit on its own is never kept: it is listed and decoded on
// every read, as before the cache.
const defaultInstanceCacheLimit = 64 << 20

// instanceCache keeps each partition's instance records decoded, because
// decoding every record's JSON was what DescribeInstances over thousands
// of instances spent most of its time on.
//
// Nothing is served without asking the store. A read takes the store
// revision in a read transaction; a partition listed at that very revision
// is served as it is, since no commit came between. Otherwise the partition
// is listed again in the same transaction and only the records written
// since they were last decoded are decoded again. A change committed before
// a read therefore always shows in it, whoever wrote it.
//
// The store revision counts every commit, of any kind, so after any write
// a read still lists the partition (without decoding what did not change).
// Following the store's events instead would spare that listing, but an
// event does not say whether it is its commit's last, so a reader could not
// tell that it had all of the latest commit's changes.
//
// Cached instances and the slices load returns are shared by every reader:
// they must not be modified. The zero value is ready to use.
type instanceCache struct {
	// limit is the most record bytes held; 0 means
	// defaultInstanceCacheLimit.
	limit int

	mu    sync.Mutex
	parts map[partitionKey]*cachedPartition
	held  int    // record bytes in parts
	clock uint64 // ticks on every read, for least-recently-used eviction
}

type partitionKey struct{ account, region string }

// cachedPartition is one partition's instances as of one store revision.
// Only lastUsed changes once it is in the cache, under the cache's mutex.
type cachedPartition struct {
	revision int64
	sorted   []*instance // by ID, as the store lists them
	byID     map[string]cachedInstance
	size     int // the records' JSON bytes
	lastUsed uint64
}

// cachedInstance is one decoded record and the write it came from. The
// write's store revision, unlike the record's version, is never reused: a
// record deleted and created again under the same ID starts at version 1
// again.
type cachedInstance struct {
	version, revision int64
	size              int // JSON bytes
	inst              *instance
}

// load returns the partition's instances sorted by ID, as of a store
// revision no older than the call.
func (c *instanceCache) load(ctx context.Context, st store.Store, account, reg string) ([]*instance, error) {
	key := partitionKey{account, reg}
	var out []*instance
	err := st.View(ctx, func(tx store.Tx) error {
		rev, err := tx.Revision()
		if err != nil {
			return fmt.Errorf("read store revision: %w", err)
		}
		prev := c.lookup(key)
		if prev != nil && prev.revision == rev {
			out = prev.sorted
			return nil
		}
		listed, err := listPartition(tx, key, rev, prev)
		if err != nil {
			return err
		}
		c.keep(key, listed)
		out = listed.sorted
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load instances of %s/%s: %w", account, reg, err)
	}
	return out, nil
}

// listPartition lists and decodes the partition in tx, which sees store
// revision rev, taking from prev (nil for none) the records not written
// since prev decoded them.
func listPartition(tx store.Tx, key partitionKey, rev int64, prev *cachedPartition) (*cachedPartition, error) {
	p := &cachedPartition{revision: rev}
	if prev != nil {
		p.sorted = make([]*instance, 0, len(prev.sorted))
		p.byID = make(map[string]cachedInstance, len(prev.byID))
	} else {
		p.byID = map[string]cachedInstance{}
	}
	err := tx.List(store.Query{Kind: kindInstance, Account: key.account, Region: key.region}, func(o store.Object) error {
		c, err := prev.decode(o)
		if err != nil {
			return err
		}
		p.sorted = append(p.sorted, c.inst)
		p.byID[o.Key.ID] = c
		p.size += c.size
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list: %w", err)
	}
	return p, nil
}

// decode returns the listed record o decoded, by p if p (which may be nil)
// decoded this very write of it.
func (p *cachedPartition) decode(o store.Object) (cachedInstance, error) {
	if p != nil {
		if c, ok := p.byID[o.Key.ID]; ok && c.version == o.Meta.Version && c.revision == o.Meta.Revision {
			return c, nil
		}
	}
	c := cachedInstance{version: o.Meta.Version, revision: o.Meta.Revision, size: len(o.Data), inst: new(instance)}
	if err := o.Decode(c.inst); err != nil {
		return cachedInstance{}, fmt.Errorf("decode instance %s: %w", o.Key.ID, err)
	}
	return c, nil
}

// page returns, sorted by ID, at most n of the partition's instances whose
// IDs sort after after (from the first when after is ""), as of a store
// revision no older than the call. When the partition's cached instances
// are out of date it lists only those n, for a page of a large partition
// after a write costs the page rather than the partition; the cache keeps
// what it had.
func (c *instanceCache) page(ctx context.Context, st store.Store, account, reg, after string, n int) ([]*instance, error) {
	key := partitionKey{account, reg}
	var out []*instance
	err := st.View(ctx, func(tx store.Tx) error {
		rev, err := tx.Revision()
		if err != nil {
			return fmt.Errorf("read store revision: %w", err)
		}
		prev := c.lookup(key)
		if prev != nil && prev.revision == rev {
			start, _ := slices.BinarySearchFunc(prev.sorted, after, func(inst *instance, id string) int {
				return strings.Compare(inst.InstanceId, id)
			})
			if start < len(prev.sorted) && prev.sorted[start].InstanceId == after {
				start++
			}
			out = prev.sorted[start:min(len(prev.sorted), start+n)]
			return nil
		}
		q := store.Query{Kind: kindInstance, Account: key.account, Region: key.region, After: after, Limit: n}
		return tx.List(q, func(o store.Object) error {
			c, err := prev.decode(o)
			if err != nil {
				return err
			}
			out = append(out, c.inst)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("load a page of the instances of %s/%s: %w", account, reg, err)
	}
	return out, nil
}

// lookup returns the partition's cached instances, nil for none, and marks
// them used.
func (c *instanceCache) lookup(key partitionKey) *cachedPartition {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clock++
	p := c.parts[key]
	if p != nil {
		p.lastUsed = c.clock
	}
	return p
}

// keep makes listed the partition's cached instances unless a later listing
// is already there (two reads may list at once), then drops the least
// recently used partitions while more than the limit is held. A partition
// over the limit on its own is dropped rather than kept.
func (c *instanceCache) keep(key partitionKey, listed *cachedPartition) {
	c.mu.Lock()
	defer c.mu.Unlock()
	limit := c.limit
	if limit == 0 {
		limit = defaultInstanceCacheLimit
	}
	if old := c.parts[key]; old != nil {
		if old.revision >= listed.revision {
			return
		}
		c.held -= old.size
		delete(c.parts, key)
	}
	if listed.size > limit {
		return
	}
	if c.parts == nil {
		c.parts = map[partitionKey]*cachedPartition{}
	}
	c.clock++
	listed.lastUsed = c.clock
	c.parts[key] = listed
	c.held += listed.size
	for c.held > limit {
		// listed fits, so another partition is there to drop.
		var oldest partitionKey
		found := false
		for k, p := range c.parts {
			if k != key && (!found || p.lastUsed < c.parts[oldest].lastUsed) {
				oldest, found = k, true
			}
		}
		c.held -= c.parts[oldest].size
		delete(c.parts, oldest)
	}
}
