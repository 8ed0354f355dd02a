package iam

import "sync"

// maxCachedEntries bounds each cache; past it a cache starts afresh.
const maxCachedEntries = 4096

// generationCache holds values computed from IAM's state as of one change
// generation (changes.go): a hit costs a read lock and a map lookup, where
// computing a value costs a store transaction.
type generationCache[K comparable, V any] struct {
	mu         sync.RWMutex
	generation uint64
	entries    map[K]V
}

// get returns k's value if it was computed at generation gen.
func (c *generationCache[K, V]) get(gen uint64, k K) (V, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.generation != gen {
		var zero V
		return zero, false
	}
	v, ok := c.entries[k]
	return v, ok
}

// put keeps a value computed from a snapshot opened at generation gen.
// Values from an older generation than the cache's are dropped: they may
// miss a write that newer entries reflect.
func (c *generationCache[K, V]) put(gen uint64, k K, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case gen < c.generation:
		return
	case c.entries == nil:
		c.entries = make(map[K]V)
	case gen > c.generation || len(c.entries) >= maxCachedEntries:
		clear(c.entries)
	}
	c.generation = gen
	c.entries[k] = v
}
