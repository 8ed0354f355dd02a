package lambda

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/nimbus-dev/nimbus/internal/lambda/runner"
)

// waitFor polls cond until it holds or a few seconds pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func invokeEvent(t *testing.T, h *harness, name, payload string) {
	t.Helper()
	out, err := h.client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(name), InvocationType: types.InvocationTypeEvent, Payload: []byte(payload)})
	if err != nil || out.StatusCode != 202 {
		t.Fatalf("Invoke Event: %+v %v", out, err)
	}
}

func TestAsyncEventIsDelivered(t *testing.T) {
	h := newHarness(t, nil)
	h.createFunction(t, "async", nil)
	h.runDispatcher(t)
	invokeEvent(t, h, "async", `{"n":1}`)
	waitFor(t, "the event to be delivered and forgotten", func() bool {
		return len(h.invoker.invocations()) == 1 && countEvents(t, h) == 0
	})
	req := h.invoker.invocations()[0].req
	if string(req.Payload) != `{"n":1}` || req.InvokedARN != "arn:aws:lambda:us-east-1:000000000000:function:async" || req.RequestID == "" {
		t.Errorf("delivered %+v", req)
	}
}

func TestAsyncRetriesFunctionErrorsWithBackoff(t *testing.T) {
	base := 40 * time.Millisecond
	h := newHarness(t, func(o *Options) { o.RetryBaseDelay = base })
	h.createFunction(t, "flaky", nil)
	h.createFunction(t, "once", nil)
	if _, err := h.client.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{FunctionName: aws.String("once"), MaximumRetryAttempts: aws.Int32(0)}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var times []time.Time
	h.invoker.setAnswer(func(fn *runner.Function, req *runner.Request) (*runner.Result, error) {
		if fn.Name == "flaky" {
			mu.Lock()
			times = append(times, time.Now())
			mu.Unlock()
		}
		return &runner.Result{FunctionError: "Unhandled", Payload: []byte(`{"errorMessage":"no"}`)}, nil
	})
	h.runDispatcher(t)
	invokeEvent(t, h, "flaky", `{}`)
	invokeEvent(t, h, "once", `{}`)
	waitFor(t, "both events to run out of retries", func() bool { return countEvents(t, h) == 0 && len(h.invoker.invocations()) >= 4 })
	time.Sleep(3 * base) // no further attempt may follow
	perFunction := map[string]int{}
	for _, c := range h.invoker.invocations() {
		perFunction[c.fn.Name]++
	}
	if perFunction["flaky"] != 3 || perFunction["once"] != 1 {
		t.Fatalf("attempts %v, want flaky 3 (1 + 2 retries) and once 1", perFunction)
	}
	mu.Lock()
	defer mu.Unlock()
	if gap := times[1].Sub(times[0]); gap < base {
		t.Errorf("first retry after %v, want at least %v", gap, base)
	}
	if gap := times[2].Sub(times[1]); gap < 2*base {
		t.Errorf("second retry after %v, want at least %v", gap, 2*base)
	}
}

func TestAsyncWaitsOutThrottling(t *testing.T) {
	h := newHarness(t, nil)
	h.createFunction(t, "throttled", nil)
	if _, err := h.client.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{FunctionName: aws.String("throttled"), MaximumRetryAttempts: aws.Int32(0)}); err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	h.invoker.setAnswer(func(fn *runner.Function, req *runner.Request) (*runner.Result, error) {
		if calls.Add(1) <= 3 {
			return nil, &runner.ThrottleError{Reason: runner.ReasonAccountLimit}
		}
		return &runner.Result{Payload: []byte(`"ok"`)}, nil
	})
	h.runDispatcher(t)
	invokeEvent(t, h, "throttled", `{}`)
	// Throttling spends none of the (zero) retry attempts.
	waitFor(t, "delivery after throttling", func() bool { return calls.Load() == 4 && countEvents(t, h) == 0 })
}

func TestAsyncDropsEventsPastMaximumAge(t *testing.T) {
	var offset atomic.Int64
	h := newHarness(t, func(o *Options) { o.Now = func() time.Time { return time.Now().Add(time.Duration(offset.Load())) } })
	h.createFunction(t, "old", nil)
	if _, err := h.client.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{FunctionName: aws.String("old"), MaximumEventAgeInSeconds: aws.Int32(60)}); err != nil {
		t.Fatal(err)
	}
	invokeEvent(t, h, "old", `{}`)
	offset.Store(int64(61 * time.Second))
	h.runDispatcher(t)
	waitFor(t, "the stale event to be dropped", func() bool { return countEvents(t, h) == 0 })
	if n := len(h.invoker.invocations()); n != 0 {
		t.Errorf("a stale event ran %d times", n)
	}
}

func TestAsyncEventsSurviveRestart(t *testing.T) {
	first := newHarness(t, nil)
	first.createFunction(t, "durable", nil)
	for _, p := range []string{`{"n":1}`, `{"n":2}`, `{"n":3}`} {
		invokeEvent(t, first, "durable", p)
	}
	// A new API over the same store and data directory, as after a restart.
	second := newHarnessOn(t, first.store, first.dataDir, func(o *Options) { o.AsyncWorkers = 1 })
	second.runDispatcher(t)
	waitFor(t, "the queued events to be delivered after the restart", func() bool {
		return len(second.invoker.invocations()) == 3 && countEvents(t, second) == 0
	})
	for i, c := range second.invoker.invocations() {
		if want := `{"n":` + string(rune('1'+i)) + `}`; string(c.req.Payload) != want {
			t.Errorf("delivery %d: %s, want %s (oldest first)", i, c.req.Payload, want)
		}
		if c.fn.CodeDir == "" {
			t.Errorf("delivery %d has no code directory", i)
		}
	}
	if n := len(first.invoker.invocations()); n != 0 {
		t.Errorf("the API without a dispatcher ran %d invocations", n)
	}
}

func TestAsyncDropsEventsOfDeletedFunctions(t *testing.T) {
	h := newHarness(t, nil)
	h.createFunction(t, "gone", nil)
	invokeEvent(t, h, "gone", `{}`)
	if _, err := h.client.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("gone")}); err != nil {
		t.Fatal(err)
	}
	h.runDispatcher(t)
	waitFor(t, "the orphan event to be dropped", func() bool { return countEvents(t, h) == 0 })
	if n := len(h.invoker.invocations()); n != 0 {
		t.Errorf("an event of a deleted function ran %d times", n)
	}
}
