package jsonrpc

import (
	"net/http"
	"testing"

	"github.com/nimbus-dev/nimbus/internal/awsmodel"
)

// discardWriter is a ResponseWriter that keeps only its header map, so the
// benchmark measures the codec rather than a recorder.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(int)             {}

func BenchmarkLogsPutLogEvents(b *testing.B) {
	c := New(awsmodel.MustLoad("logs"))
	r := targetRequest("Logs_20140328.PutLogEvents")
	body := []byte(`{"logGroupName":"/aws/batch/job","logStreamName":"default/1","logEvents":[{"timestamp":1700000000123,"message":"hello"},{"timestamp":1700000000124,"message":"world"}]}`)
	out := map[string]any{"nextSequenceToken": "49590000000000000000000000000000000000000000000000000001"}
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		op, err := c.Resolve(r, body)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Decode(r, body, op); err != nil {
			b.Fatal(err)
		}
		clear(w.h)
		if err := c.Encode(w, op, out, "11111111-2222-3333-4444-555555555555"); err != nil {
			b.Fatal(err)
		}
	}
}
