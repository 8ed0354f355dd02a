package protocoltest

import (
	"net/http"
	"testing"

	"github.com/nimbus-dev/nimbus/internal/protocol/wire"
)

// BenchmarkRoundTrip measures c resolving and decoding the request r with
// body and encoding out, as the edge does for each call. r must be reusable
// across iterations: codecs that read the body take it from body.
func BenchmarkRoundTrip(b *testing.B, c wire.Codec, r *http.Request, body []byte, out map[string]any) {
	w := NewDiscardWriter()
	b.ReportAllocs()
	for b.Loop() {
		op, err := c.Resolve(r, body)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Decode(r, body, op); err != nil {
			b.Fatal(err)
		}
		clear(w.H)
		if err := c.Encode(w, op, out, RequestID); err != nil {
			b.Fatal(err)
		}
	}
}
