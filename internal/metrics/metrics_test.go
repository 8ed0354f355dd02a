package metrics

import (
	"strings"
	"testing"
	"time"
)

func TestWrite(t *testing.T) {
	r := New()
	r.Observe("sts", "GetCallerIdentity", 200, 700*time.Microsecond)
	r.Observe("sts", "GetCallerIdentity", 200, 3*time.Millisecond)
	r.Observe("ec2", "DescribeRegions", 400, 20*time.Second)
	var b strings.Builder
	if err := r.Write(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		`nimbus_requests_total{service="sts",operation="GetCallerIdentity",code="200"} 2`,
		`nimbus_request_duration_seconds_bucket{service="sts",operation="GetCallerIdentity",code="200",le="0.001"} 1`,
		`nimbus_request_duration_seconds_bucket{service="sts",operation="GetCallerIdentity",code="200",le="0.005"} 2`,
		`nimbus_request_duration_seconds_bucket{service="ec2",operation="DescribeRegions",code="400",le="10"} 0`,
		`nimbus_request_duration_seconds_bucket{service="ec2",operation="DescribeRegions",code="400",le="+Inf"} 1`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
}
