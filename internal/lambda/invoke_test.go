package lambda

import (
	"encoding/base64"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/nimbus-dev/nimbus/internal/lambda/runner"
)

var traceIDPattern = regexp.MustCompile(`^Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0$`)

func TestInvokeRequestResponse(t *testing.T) {
	h := newHarness(t, nil)
	h.createFunction(t, "echo", nil)
	out, err := h.client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("echo"), Payload: []byte(`{"n":1}`)})
	if err != nil {
		t.Fatal(err)
	}
	if out.StatusCode != 200 || string(out.Payload) != `{"n":1}` || aws.ToString(out.ExecutedVersion) != "$LATEST" ||
		out.FunctionError != nil || out.LogResult != nil {
		t.Errorf("Invoke: %d %q %q", out.StatusCode, out.Payload, aws.ToString(out.ExecutedVersion))
	}
	call := h.invoker.invocations()[0]
	if call.req.InvokedARN != "arn:aws:lambda:us-east-1:000000000000:function:echo" || len(call.req.RequestID) != 36 || call.req.Tail ||
		!traceIDPattern.MatchString(call.req.TraceID) {
		t.Errorf("runner request %+v", call.req)
	}
	// No payload is an empty JSON object.
	if _, err := h.client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("echo")}); err != nil {
		t.Fatal(err)
	}
	if got := string(h.invoker.invocations()[1].req.Payload); got != "{}" {
		t.Errorf("empty payload reached the runner as %q", got)
	}
}

func TestInvokeFunctionErrorAndTail(t *testing.T) {
	h := newHarness(t, nil)
	h.createFunction(t, "fails", nil)
	log := strings.Repeat("x", 5000) + "END"
	h.invoker.setAnswer(func(fn *runner.Function, req *runner.Request) (*runner.Result, error) {
		var tail []byte
		if req.Tail {
			tail = []byte(log)
		}
		return &runner.Result{Payload: []byte(`{"errorMessage":"boom","errorType":"Error"}`), FunctionError: "Unhandled",
			LogTail: tail, ExecutedVersion: fn.Version}, nil
	})
	out, err := h.client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("fails"), LogType: types.LogTypeTail})
	if err != nil {
		t.Fatal(err)
	}
	tail, err := base64.StdEncoding.DecodeString(aws.ToString(out.LogResult))
	if err != nil || len(tail) != 4096 || !strings.HasSuffix(string(tail), "END") {
		t.Errorf("LogResult holds %d bytes (%v)", len(tail), err)
	}
	if out.StatusCode != 200 || aws.ToString(out.FunctionError) != "Unhandled" || !strings.Contains(string(out.Payload), "boom") {
		t.Errorf("Invoke: %d %q %q", out.StatusCode, aws.ToString(out.FunctionError), out.Payload)
	}
	if !h.invoker.invocations()[0].req.Tail {
		t.Error("LogType Tail did not reach the runner")
	}
}

func TestInvokeErrors(t *testing.T) {
	h := newHarness(t, nil)
	h.createFunction(t, "f", nil)
	cases := []struct {
		name   string
		in     lambda.InvokeInput
		code   string
		status int
	}{
		{"no function", lambda.InvokeInput{FunctionName: aws.String("nope")}, "ResourceNotFoundException", 404},
		{"no version", lambda.InvokeInput{FunctionName: aws.String("f"), Qualifier: aws.String("9")}, "ResourceNotFoundException", 404},
		{"no alias", lambda.InvokeInput{FunctionName: aws.String("f:live")}, "ResourceNotFoundException", 404},
		{"not json", lambda.InvokeInput{FunctionName: aws.String("f"), Payload: []byte("{nope")}, "InvalidRequestContentException", 400},
		{"sync too large", lambda.InvokeInput{FunctionName: aws.String("f"), Payload: bigJSON(6<<20 + 1)}, "RequestTooLargeException", 413},
		{"async too large", lambda.InvokeInput{FunctionName: aws.String("f"), InvocationType: types.InvocationTypeEvent, Payload: bigJSON(256<<10 + 1)}, "RequestTooLargeException", 413},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.client.Invoke(ctx, &tc.in)
			wantAPIError(t, err, tc.code, tc.status)
		})
	}
	if n := len(h.invoker.invocations()); n != 0 {
		t.Errorf("%d invocations reached the runner", n)
	}
	// The limits themselves are allowed.
	if _, err := h.client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("f"), Payload: bigJSON(6 << 20)}); err != nil {
		t.Errorf("6 MB payload: %v", err)
	}
}

// bigJSON is a JSON string of exactly n bytes.
func bigJSON(n int) []byte {
	return []byte(`"` + strings.Repeat("a", n-2) + `"`)
}

func TestInvokeThrottledAndFailed(t *testing.T) {
	h := newHarness(t, nil)
	h.createFunction(t, "busy", nil)
	h.invoker.setAnswer(func(*runner.Function, *runner.Request) (*runner.Result, error) {
		return nil, &runner.ThrottleError{Reason: runner.ReasonReservedLimit}
	})
	_, err := h.client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("busy")})
	wantAPIError(t, err, "TooManyRequestsException", 429)
	var tm *types.TooManyRequestsException
	if !errors.As(err, &tm) || tm.Reason != types.ThrottleReasonReservedFunctionConcurrentInvocationLimitExceeded {
		t.Errorf("throttle reason: %v", err)
	}
	h.invoker.setAnswer(func(*runner.Function, *runner.Request) (*runner.Result, error) {
		return nil, errors.New("sandbox exploded")
	})
	_, err = h.client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("busy")})
	wantAPIError(t, err, "ServiceException", 500)
}

func TestInvokeDryRunAndEvent(t *testing.T) {
	h := newHarness(t, nil)
	h.createFunction(t, "f", nil)
	out, err := h.client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("f"), InvocationType: types.InvocationTypeDryRun})
	if err != nil || out.StatusCode != 204 {
		t.Fatalf("DryRun: %+v %v", out, err)
	}
	out, err = h.client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("f"), InvocationType: types.InvocationTypeEvent, Payload: []byte(`{"e":1}`)})
	if err != nil || out.StatusCode != 202 {
		t.Fatalf("Event: %+v %v", out, err)
	}
	if n := len(h.invoker.invocations()); n != 0 {
		t.Errorf("%d invocations ran without a dispatcher", n)
	}
	if n := countEvents(t, h); n != 1 {
		t.Errorf("%d events queued, want 1", n)
	}
}

func TestReservedConcurrencyReachesRunner(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.AccountConcurrency = 1000 })
	h.createFunction(t, "a", nil)
	h.createFunction(t, "b", nil)
	if _, err := h.client.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("a"), ReservedConcurrentExecutions: aws.Int32(300)}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a", "b"} {
		if _, err := h.client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(name)}); err != nil {
			t.Fatal(err)
		}
	}
	calls := h.invoker.invocations()
	if r := calls[0].fn.Reserved; r == nil || *r != 300 || calls[0].fn.UnreservedPool != 700 {
		t.Errorf("a: Reserved %v pool %d", r, calls[0].fn.UnreservedPool)
	}
	if calls[1].fn.Reserved != nil || calls[1].fn.UnreservedPool != 700 {
		t.Errorf("b: Reserved %v pool %d", calls[1].fn.Reserved, calls[1].fn.UnreservedPool)
	}
}
