package rest

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/awsmodel"
	"github.com/nimbus-dev/nimbus/internal/protocol/wire"
)

// handlerFunc plays a service handler: it sees the decoded input and returns
// an output document or an error.
type handlerFunc func(op *awsmodel.Operation, in map[string]any) (map[string]any, *awserr.Error)

// codecTransport is an http.RoundTripper that serves an SDK client's
// requests with a codec, in memory: each request is rebuilt from its
// request line, headers and body as a server would see it, resolved,
// decoded, handed to the handler, and the answer encoded.
type codecTransport struct {
	t       testing.TB
	codec   wire.Codec
	handler handlerFunc
	// streamBody passes a nil body to Decode, as the edge does for
	// operations with a streaming payload.
	streamBody bool

	mu     sync.Mutex
	op     *awsmodel.Operation
	in     map[string]any
	header http.Header
	host   string
	path   string
}

func (ct *codecTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, err
		}
		req.Body.Close()
		body = b
	}
	server := httptest.NewRequest(req.Method, req.URL.RequestURI(), bytes.NewReader(body))
	server.Header = req.Header.Clone()
	server.Host = req.Host
	if server.Host == "" {
		server.Host = req.URL.Host
	}
	server.ContentLength = int64(len(body))
	if len(body) > 0 {
		server.Header.Set("Content-Length", strconv.Itoa(len(body)))
	}

	rec := httptest.NewRecorder()
	ct.serve(rec, server, body)
	resp := rec.Result()
	resp.Request = req
	return resp, nil
}

func (ct *codecTransport) serve(w http.ResponseWriter, r *http.Request, body []byte) {
	const requestID = "4442587FB7D0A2F9"
	op, err := ct.codec.Resolve(r, body)
	if err != nil {
		ct.codec.EncodeError(w, nil, awserr.Resolve(ct.codec.Family(), awserr.As(err)), requestID)
		return
	}
	decodeBody := body
	if ct.streamBody {
		decodeBody = nil
	}
	in, err := ct.codec.Decode(r, decodeBody, op)
	if err == nil {
		// Read a streamed payload now, while the request is alive, so
		// the test can compare it.
		for k, v := range in {
			if rd, ok := v.(io.Reader); ok {
				b, rerr := io.ReadAll(rd)
				if rerr != nil {
					ct.t.Errorf("read streamed payload %s: %v", k, rerr)
				}
				in[k] = b
			}
		}
	}
	ct.mu.Lock()
	ct.op, ct.in, ct.header, ct.host, ct.path = op, in, r.Header.Clone(), r.Host, r.URL.EscapedPath()
	ct.mu.Unlock()
	if err != nil {
		ct.codec.EncodeError(w, op, awserr.Resolve(ct.codec.Family(), awserr.As(err)), requestID)
		return
	}
	out, aerr := ct.handler(op, in)
	if aerr != nil {
		ct.codec.EncodeError(w, op, awserr.Resolve(ct.codec.Family(), aerr), requestID)
		return
	}
	if err := ct.codec.Encode(w, op, out, requestID); err != nil {
		ct.t.Errorf("Encode %s: %v", op.Name, err)
	}
}

// last returns what the most recent request decoded to.
func (ct *codecTransport) last() (*awsmodel.Operation, map[string]any) {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	return ct.op, ct.in
}

func newTransport(t testing.TB, service string, h handlerFunc) *codecTransport {
	t.Helper()
	svc, err := awsmodel.Load(service)
	if err != nil {
		t.Fatalf("load model %s: %v", service, err)
	}
	return &codecTransport{t: t, codec: New(svc), handler: h}
}

func testCredentials() aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "")
}

var ctx = context.Background()

// field walks a document by member names and list indexes.
func field(doc any, path ...any) any {
	v := doc
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}
