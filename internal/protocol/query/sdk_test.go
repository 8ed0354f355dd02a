package query

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/awsmodel"
	"github.com/nimbus-dev/nimbus/internal/protocol/wire"
)

const testRequestID = "11111111-2222-3333-4444-555555555555"

// handlerFunc stands in for a service handler behind the codec.
type handlerFunc func(op *awsmodel.Operation, in map[string]any) (map[string]any, error)

// codecTransport serves SDK requests in memory through a codec, as the
// edge does, so the SDK's own serializers and deserializers test the codec.
type codecTransport struct {
	codec  wire.Codec
	handle handlerFunc
}

func (t codecTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
	}
	rec := httptest.NewRecorder()
	op, err := t.codec.Resolve(req, body)
	var in, out map[string]any
	if err == nil {
		in, err = t.codec.Decode(req, body, op)
	}
	if err == nil {
		out, err = t.handle(op, in)
	}
	if err != nil {
		t.codec.EncodeError(rec, op, awserr.Resolve(t.codec.Family(), awserr.As(err)), testRequestID)
	} else if err := t.codec.Encode(rec, op, out, testRequestID); err != nil {
		return nil, err
	}
	return rec.Result(), nil
}

// sdkConfig is an SDK configuration whose requests go to codec in memory.
func sdkConfig(t testing.TB, service string, handle handlerFunc) aws.Config {
	t.Helper()
	svc, err := awsmodel.Load(service)
	if err != nil {
		t.Fatal(err)
	}
	return aws.Config{
		Region:       "us-east-1",
		BaseEndpoint: aws.String("http://127.0.0.1:4566"),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKIDTEST", SecretAccessKey: "secret"}, nil
		}),
		HTTPClient: &http.Client{Transport: codecTransport{codec: New(svc), handle: handle}},
		Retryer:    func() aws.Retryer { return aws.NopRetryer{} },
	}
}

// capture records the input document of the last call and answers out.
func capture(got *map[string]any, out map[string]any) handlerFunc {
	return func(_ *awsmodel.Operation, in map[string]any) (map[string]any, error) {
		*got = in
		return out, nil
	}
}

// answer ignores the input and answers out.
func answer(out map[string]any) handlerFunc {
	return func(*awsmodel.Operation, map[string]any) (map[string]any, error) { return out, nil }
}

// handler serves the transport over a real HTTP server, for clients that
// cannot take an in-memory transport.
func (t codecTransport) handler() http.Handler {
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
