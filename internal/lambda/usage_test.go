package lambda

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/nimbus-dev/nimbus/internal/lambda/runner"
)

// Every invocation that ran is metered: requests, and GB-seconds of the
// configured memory at 1 ms granularity with init included; throttled
// invocations are not.
func TestUsageIsMetered(t *testing.T) {
	h := newHarness(t, nil)
	h.createFunction(t, "metered", func(in *lambda.CreateFunctionInput) { in.MemorySize = aws.Int32(512) })
	calls := 0
	h.invoker.setAnswer(func(fn *runner.Function, req *runner.Request) (*runner.Result, error) {
		calls++
		switch calls {
		case 1: // a cold start: 12.3 ms of init billed as 13
			return &runner.Result{Payload: []byte(`{}`), BilledDuration: 5 * time.Millisecond, InitDuration: 12300 * time.Microsecond}, nil
		case 2:
			return &runner.Result{Payload: []byte(`{}`), BilledDuration: 2 * time.Millisecond}, nil
		}
		return nil, &runner.ThrottleError{Reason: runner.ReasonAccountLimit}
	})
	for i := 0; i < 3; i++ {
		h.client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("metered"), Payload: []byte(`{}`)})
	}
	recs, err := h.api.Usage(context.Background(), testAccount, time.Now().Add(-time.Hour), time.Now().Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 {
		t.Fatalf("usage records: %+v", recs)
	}
	r := recs[0]
	wantGBs := 20.0 * 512 / 1024 / 1000
	if r.Function != "metered" || r.Version != "$LATEST" || r.MemoryMB != 512 || r.Requests != 2 || r.BilledMs != 20 ||
		math.Abs(r.GBSeconds-wantGBs) > 1e-12 || r.Region != testRegion || r.Architecture != "x86_64" {
		t.Errorf("usage = %+v; want 2 requests, 20 ms, %g GB-s", r, wantGBs)
	}
	// A second flush adds to the record (or to the next minute's).
	calls = 1
	h.client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("metered"), Payload: []byte(`{}`)})
	recs, err = h.api.Usage(context.Background(), testAccount, time.Now().Add(-time.Hour), time.Now().Add(time.Minute))
	var requests, ms int64
	for _, r := range recs {
		requests += r.Requests
		ms += r.BilledMs
	}
	if err != nil || requests != 3 || ms != 22 {
		t.Errorf("after one more invocation: %d requests, %d ms (%+v, %v)", requests, ms, recs, err)
	}
}
