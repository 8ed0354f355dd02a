package lambdart

import (
	"slices"
	"testing"
	"time"
)

// benchWarmInvoke measures one warm invoke round trip: Invoke hands the
// event to a runtime blocked in /next, the runtime runs the handler and
// posts its response, Invoke returns. It reports p50 and p99 besides the
// mean.
func benchWarmInvoke(b *testing.B, p *runtimeProc, payload string) {
	p.waitReady(b)
	p.mustInvoke(b, payload) // the first invoke warms the handler's code paths
	ids := make([]string, b.N)
	for i := range ids {
		ids[i] = newRequestID()
	}
	lat := make([]time.Duration, 0, b.N)
	ctx := b.Context()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		res, err := p.sess.Invoke(ctx, Invocation{
			RequestID: ids[i], Payload: []byte(payload), FunctionARN: testFunctionARN, Timeout: 10 * time.Second,
		})
		lat = append(lat, time.Since(start))
		if err != nil || res.FunctionError != "" {
			b.Fatalf("invoke: %v %+v", err, res)
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

func BenchmarkWarmInvokeGo(b *testing.B) {
	benchWarmInvoke(b, startGoFunction(b), `{"message":"hi"}`)
}

func BenchmarkWarmInvokePython(b *testing.B) {
	p := startInterpreted(b, FamilyPython, "app.handler", map[string]string{
		"app.py": "def handler(event, context):\n    return {'message': event['message']}\n",
	})
	benchWarmInvoke(b, p, `{"message":"hi"}`)
}

func BenchmarkWarmInvokeNode(b *testing.B) {
	p := startInterpreted(b, FamilyNodeJS, "index.handler", map[string]string{
		"index.js": "exports.handler = async (event) => ({ message: event.message });",
	})
	benchWarmInvoke(b, p, `{"message":"hi"}`)
}
