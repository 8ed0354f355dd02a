package lambdart

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// apiClient plays a runtime by hand against a Runtime API address.
type apiClient struct {
	tb   testing.TB
	base string
}

type apiReply struct {
	status    int
	header    http.Header
	body      []byte
	errorType string
}

func (c apiClient) do(method, path string, body io.Reader, header http.Header) apiReply {
	c.tb.Helper()
	req, err := http.NewRequest(method, c.base+"/2018-06-01"+path, body)
	if err != nil {
		c.tb.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var e apiError
	_ = json.Unmarshal(b, &e)
	return apiReply{status: resp.StatusCode, header: resp.Header, body: b, errorType: e.ErrorType}
}

func (c apiClient) next() apiReply { return c.do("GET", "/runtime/invocation/next", nil, nil) }

func (c apiClient) respond(id, body string) apiReply {
	return c.do("POST", "/runtime/invocation/"+id+"/response", strings.NewReader(body), nil)
}

// newServedSession serves a fresh Session on loopback.
func newServedSession(t *testing.T) (*Session, apiClient) {
	t.Helper()
	s := NewSession()
	ln, err := ListenLoopback(t.Context(), s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := ln.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s, apiClient{tb: t, base: "http://" + ln.Addr()}
}

type invokeOutcome struct {
	res *Result
	err error
}

// startInvoke runs Invoke in the background; the returned channel gets
// its outcome.
func startInvoke(t *testing.T, s *Session, inv Invocation) <-chan invokeOutcome {
	t.Helper()
	if inv.Timeout == 0 {
		inv.Timeout = 10 * time.Second
	}
	out := make(chan invokeOutcome, 1)
	go func() {
		res, err := s.Invoke(context.Background(), inv)
		out <- invokeOutcome{res, err}
	}()
	return out
}

func awaitOutcome(t *testing.T, ch <-chan invokeOutcome) invokeOutcome {
	t.Helper()
	select {
	case o := <-ch:
		return o
	case <-time.After(10 * time.Second):
		t.Fatal("Invoke did not return")
		return invokeOutcome{}
	}
}

func TestTransitionTable(t *testing.T) {
	legal := map[string]bool{
		"Initializing-Next-Ready": true, "Initializing-InitError-InitFailed": true, "Initializing-Timeout-TimedOut": true,
		"Initializing-Exit-Exited": true, "Initializing-Close-Closed": true,
		"Ready-Deliver-Invoking": true, "Ready-NextGone-Idle": true, "Ready-Timeout-TimedOut": true,
		"Ready-Exit-Exited": true, "Ready-Close-Closed": true,
		"Invoking-Answer-Responding": true, "Invoking-Timeout-TimedOut": true, "Invoking-Exit-Exited": true, "Invoking-Close-Closed": true,
		"Responding-AnswerDone-Idle": true, "Responding-AnswerAborted-Invoking": true, "Responding-Timeout-TimedOut": true,
		"Responding-Exit-Exited": true, "Responding-Close-Closed": true,
		"Idle-Next-Ready": true, "Idle-Timeout-TimedOut": true, "Idle-Exit-Exited": true, "Idle-Close-Closed": true,
		"InitFailed-Exit-InitFailed": true, "InitFailed-Close-Closed": true,
		"TimedOut-Exit-TimedOut": true, "TimedOut-Close-Closed": true,
		"Exited-Close-Closed": true,
	}
	seen := 0
	for from := Initializing; from <= Closed; from++ {
		for e := evNext; e <= evClose; e++ {
			to, err := from.next(e)
			key := fmt.Sprintf("%s-%s-%s", from, e, to)
			switch {
			case err == nil && !legal[key]:
				t.Errorf("%s on %s is allowed (to %s) but not named legal", from, e, to)
			case err == nil:
				seen++
			case to != from:
				t.Errorf("refused %s on %s moved to %s", from, e, to)
			default:
				var te *TransitionError
				if !errors.As(err, &te) || te.From != from {
					t.Errorf("refusal of %s on %s: %v", from, e, err)
				}
			}
		}
	}
	if seen != len(legal) {
		t.Errorf("%d legal transitions allowed; want %d", seen, len(legal))
	}
}

func TestNextCarriesInvocation(t *testing.T) {
	s, api := newServedSession(t)
	deadline := time.Now().Add(3 * time.Second).Truncate(time.Millisecond)
	inv := Invocation{
		RequestID: "req-1", Payload: []byte(`{"k":"v"}`), FunctionARN: testFunctionARN + ":prod",
		Deadline: deadline, Timeout: 3 * time.Second, TraceID: "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1",
		ClientContext: `{"client":{"app_title":"t"}}`, CognitoIdentity: `{"cognitoIdentityId":"id"}`,
	}
	out := startInvoke(t, s, inv)
	r := api.next()
	if r.status != 200 || string(r.body) != `{"k":"v"}` {
		t.Fatalf("next: %d %s", r.status, r.body)
	}
	for k, want := range map[string]string{
		HeaderRequestID: "req-1", HeaderDeadlineMs: strconv.FormatInt(deadline.UnixMilli(), 10),
		HeaderInvokedFunctionARN: inv.FunctionARN, HeaderTraceID: inv.TraceID,
		HeaderClientContext: inv.ClientContext, HeaderCognitoIdentity: inv.CognitoIdentity,
	} {
		if got := r.header.Get(k); got != want {
			t.Errorf("%s = %q; want %q", k, got, want)
		}
	}
	if s.State() != Invoking {
		t.Errorf("state %s; want Invoking", s.State())
	}
	if rr := api.do("POST", "/runtime/invocation/req-1/response", strings.NewReader(`"done"`), http.Header{"Content-Type": {"text/plain"}}); rr.status != 202 || string(rr.body) != `{"status":"OK"}` {
		t.Fatalf("response: %d %s", rr.status, rr.body)
	}
	o := awaitOutcome(t, out)
	if o.err != nil || string(o.res.Payload) != `"done"` || o.res.ContentType != "text/plain" || o.res.FunctionError != "" {
		t.Fatalf("Invoke = %+v, %v", o.res, o.err)
	}
	if s.State() != Idle {
		t.Errorf("state after answer %s; want Idle", s.State())
	}
}

func TestNextOmitsAbsentHeaders(t *testing.T) {
	s, api := newServedSession(t)
	startInvoke(t, s, Invocation{RequestID: "req-1", FunctionARN: testFunctionARN})
	r := api.next()
	for _, k := range []string{HeaderTraceID, HeaderClientContext, HeaderCognitoIdentity, HeaderTenantID} {
		if _, ok := r.header[k]; ok {
			t.Errorf("header %s present without a value", k)
		}
	}
}

func TestRefusedRequests(t *testing.T) {
	t.Run("response before any invocation", func(t *testing.T) {
		_, api := newServedSession(t)
		if r := api.respond("req-1", `1`); r.status != 403 || r.errorType != "InvalidStateTransition" {
			t.Errorf("got %d %s", r.status, r.body)
		}
	})
	t.Run("unknown request id, then the right one", func(t *testing.T) {
		s, api := newServedSession(t)
		out := startInvoke(t, s, Invocation{RequestID: "req-1"})
		api.next()
		if r := api.respond("req-2", `1`); r.status != 400 || r.errorType != "InvalidRequestID" {
			t.Errorf("unknown id: %d %s", r.status, r.body)
		}
		if r := api.do("POST", "/runtime/invocation/req-2/error", strings.NewReader(`{}`), nil); r.status != 400 || r.errorType != "InvalidRequestID" {
			t.Errorf("unknown id error: %d %s", r.status, r.body)
		}
		if r := api.respond("req-1", `1`); r.status != 202 {
			t.Errorf("right id after a wrong one: %d %s", r.status, r.body)
		}
		if o := awaitOutcome(t, out); o.err != nil || string(o.res.Payload) != "1" {
			t.Errorf("Invoke = %+v, %v", o.res, o.err)
		}
	})
	t.Run("second answer", func(t *testing.T) {
		s, api := newServedSession(t)
		startInvoke(t, s, Invocation{RequestID: "req-1"})
		api.next()
		api.respond("req-1", `1`)
		if r := api.respond("req-1", `2`); r.status != 403 || r.errorType != "InvalidStateTransition" {
			t.Errorf("second response: %d %s", r.status, r.body)
		}
		if r := api.do("POST", "/runtime/invocation/req-1/error", strings.NewReader(`{}`), nil); r.status != 403 {
			t.Errorf("error after response: %d %s", r.status, r.body)
		}
	})
	t.Run("next while invoking", func(t *testing.T) {
		s, api := newServedSession(t)
		startInvoke(t, s, Invocation{RequestID: "req-1"})
		api.next()
		if r := api.next(); r.status != 403 || r.errorType != "InvalidStateTransition" {
			t.Errorf("next while invoking: %d %s", r.status, r.body)
		}
		if s.State() != Invoking {
			t.Errorf("state %s; want Invoking kept", s.State())
		}
	})
	t.Run("init error after init", func(t *testing.T) {
		s, api := newServedSession(t)
		startInvoke(t, s, Invocation{RequestID: "req-1"})
		api.next()
		if r := api.do("POST", "/runtime/init/error", strings.NewReader(`{}`), nil); r.status != 403 {
			t.Errorf("init error while invoking: %d %s", r.status, r.body)
		}
	})
	t.Run("next after the session ended", func(t *testing.T) {
		s, api := newServedSession(t)
		s.Exited(nil)
		if r := api.next(); r.status != 500 || r.errorType != errorTypeContainerError {
			t.Errorf("next after exit: %d %s", r.status, r.body)
		}
	})
	t.Run("wrong method", func(t *testing.T) {
		_, api := newServedSession(t)
		if r := api.do("POST", "/runtime/invocation/next", nil, nil); r.status != http.StatusMethodNotAllowed {
			t.Errorf("POST next: %d", r.status)
		}
	})
}

func TestInvocationErrorEndpoint(t *testing.T) {
	for _, tc := range []struct {
		name, body, header, wantType, wantPayload string
	}{
		{"document and header", `{"errorMessage":"m","errorType":"E","stackTrace":["a"]}`, "E", "E", `{"errorMessage":"m","errorType":"E","stackTrace":["a"]}`},
		{"type from the document", `{"errorMessage":"m","errorType":"FromBody"}`, "", "FromBody", `{"errorMessage":"m","errorType":"FromBody"}`},
		{"no body", ``, "Runtime.Crash", "Runtime.Crash", `{"errorMessage":"Unknown application error occurred","errorType":"Runtime.Crash"}`},
		{"not json", `oops`, "", "Unhandled", `{"errorMessage":"oops","errorType":"Unhandled"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, api := newServedSession(t)
			out := startInvoke(t, s, Invocation{RequestID: "req-1"})
			api.next()
			h := http.Header{}
			if tc.header != "" {
				h.Set(HeaderFunctionErrorType, tc.header)
			}
			if r := api.do("POST", "/runtime/invocation/req-1/error", strings.NewReader(tc.body), h); r.status != 202 {
				t.Fatalf("error post: %d %s", r.status, r.body)
			}
			o := awaitOutcome(t, out)
			if o.err != nil || o.res.FunctionError != "Unhandled" || o.res.ErrorType != tc.wantType || string(o.res.Payload) != tc.wantPayload {
				t.Fatalf("Invoke = %+v (%s), %v; want %s %s", o.res, o.res.Payload, o.err, tc.wantType, tc.wantPayload)
			}
		})
	}
}

// unsizedReader hides its length so net/http sends it chunked.
type unsizedReader struct{ r io.Reader }

func (u unsizedReader) Read(p []byte) (int, error) { return u.r.Read(p) }

func TestChunkedResponse(t *testing.T) {
	s, api := newServedSession(t)
	out := startInvoke(t, s, Invocation{RequestID: "req-1"})
	api.next()
	payload := strings.Repeat("chunk", 100000)
	var seen []string
	// Look at the request as the server got it.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r.TransferEncoding
		s.ServeHTTP(w, r)
	}))
	defer srv.Close()
	api.base = srv.URL
	if r := api.do("POST", "/runtime/invocation/req-1/response", unsizedReader{strings.NewReader(payload)}, nil); r.status != 202 {
		t.Fatalf("chunked response: %d %s", r.status, r.body)
	}
	if len(seen) == 0 || seen[0] != "chunked" {
		t.Errorf("transfer encoding %v; the test meant to send chunked", seen)
	}
	if o := awaitOutcome(t, out); o.err != nil || string(o.res.Payload) != payload {
		t.Fatalf("Invoke = %v; payload of %d bytes", o.err, len(o.res.Payload))
	}
}

func TestTrailerErrorTurnsResponseIntoError(t *testing.T) {
	s, api := newServedSession(t)
	out := startInvoke(t, s, Invocation{RequestID: "req-1"})
	api.next()
	doc := `{"errorMessage":"stream broke","errorType":"StreamError"}`
	req, _ := http.NewRequest("POST", api.base+"/2018-06-01/runtime/invocation/req-1/response", unsizedReader{strings.NewReader("partial")})
	// As aws-lambda-go does when the response reader fails midway.
	req.Trailer = http.Header{
		HeaderFunctionErrorType: {"StreamError"},
		HeaderFunctionErrorBody: {base64.StdEncoding.EncodeToString([]byte(doc))},
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 202 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	o := awaitOutcome(t, out)
	if o.err != nil || o.res.FunctionError != "Unhandled" || o.res.ErrorType != "StreamError" || string(o.res.Payload) != doc {
		t.Fatalf("Invoke = %+v (%s), %v", o.res, o.res.Payload, o.err)
	}
}

func TestResponseTooLarge(t *testing.T) {
	s, api := newServedSession(t)
	out := startInvoke(t, s, Invocation{RequestID: "req-1"})
	api.next()
	r := api.do("POST", "/runtime/invocation/req-1/response", bytes.NewReader(make([]byte, MaxPayloadSize+1)), nil)
	if r.status != 413 || r.errorType != "RequestEntityTooLarge" {
		t.Fatalf("too large: %d %s", r.status, r.body)
	}
	o := awaitOutcome(t, out)
	if o.err != nil || o.res.ErrorType != "Function.ResponseSizeTooLarge" {
		t.Fatalf("Invoke = %+v, %v", o.res, o.err)
	}
	// Exactly the limit passes.
	out = startInvoke(t, s, Invocation{RequestID: "req-2"})
	api.next()
	if r := api.do("POST", "/runtime/invocation/req-2/response", bytes.NewReader(make([]byte, MaxPayloadSize)), nil); r.status != 202 {
		t.Fatalf("at the limit: %d %s", r.status, r.body)
	}
	if o := awaitOutcome(t, out); o.err != nil || len(o.res.Payload) != MaxPayloadSize {
		t.Fatalf("Invoke at the limit: %v", o.err)
	}
}

func TestInvokeBusy(t *testing.T) {
	s, api := newServedSession(t)
	out := startInvoke(t, s, Invocation{RequestID: "req-1"})
	api.next()
	if _, err := s.Invoke(t.Context(), Invocation{RequestID: "req-2", Timeout: time.Second}); !errors.Is(err, ErrBusy) {
		t.Fatalf("second Invoke: %v; want ErrBusy", err)
	}
	api.respond("req-1", "1")
	awaitOutcome(t, out)
}

func TestInvokeCancelledBeforeDelivery(t *testing.T) {
	s, api := newServedSession(t)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	// The runtime never asked: the invocation is withdrawn, not lost.
	if _, err := s.Invoke(ctx, Invocation{RequestID: "req-1", Timeout: 10 * time.Second}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Invoke: %v; want the context's deadline", err)
	}
	out := startInvoke(t, s, Invocation{RequestID: "req-2", Payload: []byte("2")})
	if r := api.next(); r.header.Get(HeaderRequestID) != "req-2" {
		t.Fatalf("next delivered %q; want req-2", r.header.Get(HeaderRequestID))
	}
	api.respond("req-2", "ok")
	if o := awaitOutcome(t, out); o.err != nil {
		t.Fatal(o.err)
	}
}

func TestExitMidInvoke(t *testing.T) {
	s, api := newServedSession(t)
	out := startInvoke(t, s, Invocation{RequestID: "req-1"})
	api.next()
	s.Exited(fmt.Errorf("signal: killed: %w", ErrOutOfMemory))
	o := awaitOutcome(t, out)
	var ee *ExitError
	if !errors.As(o.err, &ee) || ee.RequestID != "req-1" || ee.ErrorType() != "Runtime.OutOfMemory" {
		t.Fatalf("Invoke = %v; want an out-of-memory *ExitError for req-1", o.err)
	}
	want := `{"errorMessage":"RequestId: req-1 Error: Runtime exited with error: signal: killed: runtime exceeded its memory limit","errorType":"Runtime.OutOfMemory"}`
	if string(ee.Payload()) != want {
		t.Errorf("payload %s\nwant    %s", ee.Payload(), want)
	}
	// The runtime's late answer finds the session over.
	if r := api.respond("req-1", "1"); r.status != 500 {
		t.Errorf("answer after exit: %d %s", r.status, r.body)
	}
}

func TestExitDuringInit(t *testing.T) {
	s, _ := newServedSession(t)
	s.Exited(nil)
	var ee *ExitError
	if err := s.WaitReady(t.Context()); !errors.As(err, &ee) || ee.Error() != "Runtime exited without providing a reason" {
		t.Fatalf("WaitReady = %v", err)
	}
}

func TestCloseReleasesWaitingRuntime(t *testing.T) {
	s, api := newServedSession(t)
	got := make(chan apiReply, 1)
	go func() { got <- api.next() }()
	deadline := time.Now().Add(5 * time.Second)
	for s.State() != Ready && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	s.Close()
	select {
	case r := <-got:
		if r.status != 500 {
			t.Errorf("next on close: %d %s", r.status, r.body)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("waiting runtime not released by Close")
	}
	if _, err := s.Invoke(t.Context(), Invocation{RequestID: "x", Timeout: time.Second}); !errors.Is(err, ErrClosed) {
		t.Errorf("Invoke after Close: %v", err)
	}
}

func TestTimeoutWhileInitializing(t *testing.T) {
	s, _ := newServedSession(t)
	_, err := s.Invoke(t.Context(), Invocation{RequestID: "req-1", Timeout: 20 * time.Millisecond})
	var te *TimeoutError
	if !errors.As(err, &te) || te.Error() != "Task timed out after 0.02 seconds" {
		t.Fatalf("Invoke = %v", err)
	}
}

func TestTimeoutFromDeadlineOnly(t *testing.T) {
	s, _ := newServedSession(t)
	_, err := s.Invoke(t.Context(), Invocation{RequestID: "req-1", Deadline: time.Now().Add(50 * time.Millisecond)})
	var te *TimeoutError
	if !errors.As(err, &te) || te.Error() != "Task timed out after 0.05 seconds" {
		t.Fatalf("Invoke = %v", err)
	}
}
