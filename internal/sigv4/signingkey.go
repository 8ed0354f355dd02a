package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"sync"
)

// maxCachedKeys bounds the signing-key cache; keys change daily per
// credential, so a full cache is simply emptied and refilled.
const maxCachedKeys = 4096

type keyID struct{ secret, date, region, service string }

// keyCache holds derived signing keys: deriving one costs four HMACs, which
// would otherwise dominate the cost of verifying a small request.
type keyCache struct {
	mu   sync.RWMutex
	keys map[keyID][]byte
}

func (c *keyCache) get(secret, date, region, service string) []byte {
	id := keyID{secret, date, region, service}
	c.mu.RLock()
	k, ok := c.keys[id]
	c.mu.RUnlock()
	if ok {
		return k
	}
	k = deriveKey(secret, date, region, service)
	c.mu.Lock()
	if c.keys == nil || len(c.keys) >= maxCachedKeys {
		c.keys = make(map[keyID][]byte)
	}
	c.keys[id] = k
	c.mu.Unlock()
	return k
}

// deriveKey is HMAC("AWS4"+secret, date) → region → service → "aws4_request".
func deriveKey(secret, date, region, service string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), []byte(date))
	k = hmacSHA256(k, []byte(region))
	k = hmacSHA256(k, []byte(service))
	return hmacSHA256(k, []byte("aws4_request"))
}

func hmacSHA256(key, data []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(data)
	return m.Sum(nil)
}
