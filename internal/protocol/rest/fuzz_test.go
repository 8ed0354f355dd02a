package rest

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/nimbus-dev/nimbus/internal/awsmodel"
)

// FuzzDecode feeds arbitrary methods, paths, hosts, headers and bodies to
// Resolve and Decode of the Lambda, Batch and S3 codecs: whatever arrives,
// they answer with an operation or an error, never a panic.
func FuzzDecode(f *testing.F) {
	seeds := []struct {
		service              byte
		method, target, host string
		header, body         string
	}{
		{0, "POST", "/2015-03-31/functions", "localhost", "", `{"FunctionName":"f","Role":"r","Code":{"ZipFile":"UEs="},"Environment":{"Variables":{"A":"b"}}}`},
		{0, "POST", "/2015-03-31/functions/f/invocations?Qualifier=1", "localhost", "X-Amz-Invocation-Type: Event", `{"x":1}`},
		{0, "GET", "/2015-03-31/functions/?MaxItems=99999999999999999999", "localhost", "", ""},
		{0, "DELETE", "/2017-03-31/tags/a?tagKeys=x&tagKeys=", "localhost", "", ""},
		{1, "POST", "/v1/submitjob", "localhost", "", `{"jobName":"j","jobQueue":"q","jobDefinition":"d","dependsOn":[{"jobId":null}],"timeout":{"attemptDurationSeconds":1e400}}`},
		{2, "PUT", "/b/k", "b.s3.localhost", "X-Amz-Meta-A: b", "hello"},
		{2, "POST", "/?delete", "b.s3.localhost", "", `<Delete><Object><Key>k</Key></Object><Quiet>maybe</Quiet></Delete>`},
		{2, "GET", "/b/%zz", "localhost", "Range: bytes=0-1", ""},
		{2, "PUT", "/b?tagging", "localhost", "", `<Tagging><TagSet><Tag><Key>`},
		{2, "GET", "/b?list-type=2&max-keys=-1", "localhost", "X-Amz-Optional-Object-Attributes: ,,", ""},
	}
	for _, s := range seeds {
		f.Add(s.service, s.method, s.target, s.host, s.header, []byte(s.body))
	}
	models := []*awsmodel.Service{awsmodel.MustLoad("lambda"), awsmodel.MustLoad("batch"), awsmodel.MustLoad("s3")}
	codecs := make([]interface {
		Resolve(*http.Request, []byte) (*awsmodel.Operation, error)
		Decode(*http.Request, []byte, *awsmodel.Operation) (map[string]any, error)
	}, len(models))
	for i, m := range models {
		codecs[i] = New(m)
	}
	f.Fuzz(func(t *testing.T, service byte, method, target, host, header string, body []byte) {
		u, err := url.ParseRequestURI(target)
		if err != nil || method == "" {
			return
		}
		r := httptest.NewRequest(http.MethodGet, "/", bytes.NewReader(body))
		r.Method, r.URL, r.Host = method, u, host
		if k, v, ok := bytesCut(header); ok {
			r.Header.Add(k, v)
		}
		c := codecs[int(service)%len(codecs)]
		op, err := c.Resolve(r, body)
		if err != nil {
			return
		}
		if op == nil {
			t.Fatal("Resolve returned neither an operation nor an error")
		}
		doc, err := c.Decode(r, body, op)
		if err == nil && doc == nil {
			t.Fatal("Decode returned neither a document nor an error")
		}
		// Once more with the body streamed, as the edge sends it.
		r.Body = io.NopCloser(bytes.NewReader(body))
		_, _ = c.Decode(r, nil, op)
	})
}

func bytesCut(h string) (string, string, bool) {
	for i := 0; i < len(h); i++ {
		if h[i] == ':' {
			return h[:i], h[i+1:], i > 0
		}
	}
	return "", "", false
}
