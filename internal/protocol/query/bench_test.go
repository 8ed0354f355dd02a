package query

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/nimbus-dev/nimbus/internal/awsmodel"
)

// discardWriter is a ResponseWriter that keeps only its header map, so the
// benchmarks measure the codec rather than a recorder.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(int)             {}

func benchmarkRoundTrip(b *testing.B, service, form string, out map[string]any) {
	c := New(awsmodel.MustLoad(service))
	body := []byte(form)
	r := httptest.NewRequest(http.MethodPost, "/", nil)
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

func BenchmarkSTSGetCallerIdentity(b *testing.B) {
	benchmarkRoundTrip(b, "sts", "Action=GetCallerIdentity&Version=2011-06-15",
		map[string]any{"Account": "000000000000", "Arn": "arn:aws:iam::000000000000:user/alice", "UserId": "AIDAEXAMPLE"})
}

func BenchmarkEC2DescribeRegions(b *testing.B) {
	var regions []any
	for _, name := range []string{"us-east-1", "us-east-2", "us-west-1", "us-west-2", "eu-west-1", "eu-west-2", "eu-central-1", "ap-south-1",
		"ap-northeast-1", "ap-northeast-2", "ap-southeast-1", "ap-southeast-2", "ca-central-1", "sa-east-1", "eu-north-1", "eu-west-3", "ap-northeast-3"} {
		regions = append(regions, map[string]any{"RegionName": name, "Endpoint": fmt.Sprintf("ec2.%s.amazonaws.com", name), "OptInStatus": "opt-in-not-required"})
	}
	benchmarkRoundTrip(b, "ec2", "Action=DescribeRegions&Version=2016-11-15", map[string]any{"Regions": regions})
}
