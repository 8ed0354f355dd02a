package protocoltest

import (
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/awsmodel"
	"github.com/nimbus-dev/nimbus/internal/protocol/wire"
)

// RequestID is the request ID every answer of a Transport carries.
const RequestID = "11111111-2222-3333-4444-555555555555"

// Handler stands in for a service handler behind the codec.
type Handler func(op *awsmodel.Operation, in map[string]any) (map[string]any, error)

// Transport is an http.RoundTripper that resolves, decodes, handles and
// encodes each request with Codec, in memory.
type Transport struct {
	Codec  wire.Codec
	Handle Handler
}

// RoundTrip serves req through the codec and Handle.
func (t Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
	}
	rec := httptest.NewRecorder()
	op, err := t.Codec.Resolve(req, body)
	var in, out map[string]any
	if err == nil {
		in, err = t.Codec.Decode(req, body, op)
	}
	if err == nil {
		out, err = t.Handle(op, in)
	}
	if err != nil {
		t.Codec.EncodeError(rec, op, awserr.Resolve(t.Codec.Family(), awserr.As(err)), RequestID)
	} else if err := t.Codec.Encode(rec, op, out, RequestID); err != nil {
		return nil, err
	}
	return rec.Result(), nil
}

// HTTPHandler serves the transport over a real HTTP server, for clients
// that cannot take an in-memory transport.
func (t Transport) HTTPHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp, err := t.RoundTrip(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	})
}

// Capture records the input document of the last call and answers out.
func Capture(got *map[string]any, out map[string]any) Handler {
	return func(_ *awsmodel.Operation, in map[string]any) (map[string]any, error) {
		*got = in
		return out, nil
	}
}

// Answer ignores the input and answers out.
func Answer(out map[string]any) Handler {
	return func(*awsmodel.Operation, map[string]any) (map[string]any, error) { return out, nil }
}

// DiscardWriter is an http.ResponseWriter that keeps only its header map,
// so benchmarks measure the codec rather than a recorder.
type DiscardWriter struct{ H http.Header }

// NewDiscardWriter returns a DiscardWriter with an empty header map.
func NewDiscardWriter() *DiscardWriter { return &DiscardWriter{H: http.Header{}} }

func (w *DiscardWriter) Header() http.Header         { return w.H }
func (w *DiscardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *DiscardWriter) WriteHeader(int)             {}
