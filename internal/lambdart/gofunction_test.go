package lambdart

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

type goReply struct {
	Message     string `json:"message"`
	RequestID   string `json:"requestId"`
	FunctionARN string `json:"functionArn"`
	RemainingMs int64  `json:"remainingMs"`
	Function    string `json:"function"`
}

func TestGoFunctionWarmInvokes(t *testing.T) {
	p := startGoFunction(t)
	p.waitReady(t)
	if d, ok := p.sess.InitDuration(); !ok || d <= 0 {
		t.Errorf("InitDuration = %v, %v; want a positive duration", d, ok)
	}
	pid := p.cmd.Process.Pid
	for i, msg := range []string{"one", "two", "three"} {
		id := newRequestID()
		res, err := p.sess.Invoke(t.Context(), Invocation{
			RequestID: id, Payload: []byte(`{"message":"` + msg + `"}`),
			FunctionARN: testFunctionARN + ":live", Timeout: 5 * time.Second,
		})
		if err != nil {
			t.Fatalf("invoke %d: %v\n%s", i, err, p.out)
		}
		if res.FunctionError != "" {
			t.Fatalf("invoke %d: function error %s", i, res.Payload)
		}
		var r goReply
		if err := json.Unmarshal(res.Payload, &r); err != nil {
			t.Fatalf("invoke %d: reply %q: %v", i, res.Payload, err)
		}
		if r.Message != msg || r.RequestID != id || r.FunctionARN != testFunctionARN+":live" || r.Function != "hello" {
			t.Errorf("invoke %d: reply %+v; want message %q, request %s, the qualified ARN and function hello", i, r, msg, id)
		}
		// The deadline header reached the handler's context.
		if r.RemainingMs <= 3000 || r.RemainingMs > 5000 {
			t.Errorf("invoke %d: remaining %d ms of a 5 s timeout", i, r.RemainingMs)
		}
	}
	if p.cmd.Process.Pid != pid || p.sess.State().Terminal() {
		t.Errorf("runtime not warm after invokes: state %s", p.sess.State())
	}
}

func TestGoFunctionReturnedError(t *testing.T) {
	p := startGoFunction(t)
	res := p.mustInvoke(t, `{"op":"error","message":"bad input"}`)
	if res.FunctionError != "Unhandled" || res.ErrorType != "errorString" {
		t.Fatalf("FunctionError %q ErrorType %q; want Unhandled, errorString (payload %s)", res.FunctionError, res.ErrorType, res.Payload)
	}
	var doc ErrorDocument
	if err := json.Unmarshal(res.Payload, &doc); err != nil || doc.ErrorMessage != "bad input" || doc.ErrorType != "errorString" {
		t.Fatalf("error document %s (%v)", res.Payload, err)
	}
	// A returned error leaves the runtime warm.
	res = p.mustInvoke(t, `{"message":"after"}`)
	if res.FunctionError != "" || !strings.Contains(string(res.Payload), `"after"`) {
		t.Fatalf("invoke after error: %+v %s", res, res.Payload)
	}
}

func TestGoFunctionPanic(t *testing.T) {
	p := startGoFunction(t)
	res := p.mustInvoke(t, `{"op":"panic","message":"kaboom"}`)
	if res.FunctionError != "Unhandled" || !strings.Contains(string(res.Payload), "kaboom") {
		t.Fatalf("panic result %+v %s", res, res.Payload)
	}
	// aws-lambda-go exits after reporting a panic: the session ends with it.
	p.waitExit(t)
	_, err := p.invoke(t, `{}`, time.Second)
	var ee *ExitError
	if !errors.As(err, &ee) || ee.ErrorType() != "Runtime.ExitError" || ee.RequestID == "" {
		t.Fatalf("invoke after panic exit: %v; want an *ExitError naming the request", err)
	}
	if !strings.Contains(string(ee.Payload()), "Runtime exited with error: exit status") {
		t.Errorf("exit payload %s", ee.Payload())
	}
}

func TestGoFunctionTimeout(t *testing.T) {
	p := startGoFunction(t)
	p.waitReady(t)
	start := time.Now()
	_, err := p.invoke(t, `{"op":"sleep","sleepMs":5000}`, 300*time.Millisecond)
	var te *TimeoutError
	if !errors.As(err, &te) {
		t.Fatalf("err = %v; want *TimeoutError", err)
	}
	if el := time.Since(start); el < 300*time.Millisecond || el > 2*time.Second {
		t.Errorf("timed out after %v; want about 300ms", el)
	}
	if te.Error() != "Task timed out after 0.30 seconds" {
		t.Errorf("message %q", te.Error())
	}
	if !strings.Contains(string(te.Payload()), `"errorType":"Sandbox.Timedout"`) {
		t.Errorf("payload %s", te.Payload())
	}
	if p.sess.State() != TimedOut {
		t.Errorf("state %s; want TimedOut", p.sess.State())
	}
	// The sandbox is to be killed; nothing more runs on it.
	if _, err := p.invoke(t, `{}`, time.Second); !errors.As(err, &te) {
		t.Errorf("invoke after timeout: %v; want the timeout again", err)
	}
}
