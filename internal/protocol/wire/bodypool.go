package wire

import "sync"

// maxPooledBody keeps one huge response from pinning its buffer in a pool.
const maxPooledBody = 1 << 20

// BodyPool recycles response bodies between requests: a server answering
// thousands of requests a second would otherwise allocate one per response.
// Buffers travel as *[]byte so that putting one back allocates nothing.
type BodyPool struct{ pool sync.Pool }

// NewBodyPool returns a pool whose new buffers have room for size bytes, a
// typical response of the codec that owns it.
func NewBodyPool(size int) *BodyPool {
	return &BodyPool{pool: sync.Pool{New: func() any { b := make([]byte, 0, size); return &b }}}
}

// Get returns a buffer handle; write into (*bp)[:0].
func (p *BodyPool) Get() *[]byte { return p.pool.Get().(*[]byte) }

// Put gives body, grown from the buffer Get returned as bp, back to the pool,
// unless it grew past 1 MiB. body must not be used afterwards.
func (p *BodyPool) Put(bp *[]byte, body []byte) {
	if cap(body) <= maxPooledBody {
		*bp = body[:0]
		p.pool.Put(bp)
	}
}
