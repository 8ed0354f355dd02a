package lambda

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/nimbus-dev/nimbus/internal/identity"
)

// BenchmarkInvokeHandler measures what the API adds to a synchronous
// invoke (resolve the version, read reservations, build the runner's
// snapshot) with an invoker that answers at once; the edge and the
// sandbox are not included.
func BenchmarkInvokeHandler(b *testing.B) {
	h := newHarness(b, nil)
	h.createFunction(b, "bench", func(in *lambda.CreateFunctionInput) { in.Publish = true })
	call := &identity.Call{RequestID: "bench", Region: testRegion, Principal: &identity.Principal{Type: identity.Root, Account: testAccount}}
	reqCtx := identity.With(context.Background(), call)
	in := &invokeInput{FunctionName: "bench", Payload: []byte(`{"hello":"world"}`)}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := h.api.invoke(reqCtx, in); err != nil {
			b.Fatal(err)
		}
	}
}
