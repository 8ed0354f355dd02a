package wire

import "testing"

func TestBodyPoolHandsOutEmptyBuffers(t *testing.T) {
	p := NewBodyPool(512)
	bp := p.Get()
	if len(*bp) != 0 || cap(*bp) < 512 {
		t.Fatalf("fresh buffer has len %d cap %d", len(*bp), cap(*bp))
	}
	body := append((*bp)[:0], "written"...)
	p.Put(bp, body)
	// sync.Pool may drop what it was given, so only check what any buffer
	// it hands out must be: empty.
	if again := p.Get(); len(*again) != 0 {
		t.Fatalf("reused buffer still holds %q", *again)
	}
}
