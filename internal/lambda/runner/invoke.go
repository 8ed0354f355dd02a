package runner

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nimbus-dev/nimbus/internal/lambdart"
)

// tailSettle is how long an invocation with Request.Tail waits after the
// runtime's answer for the sandbox's last output lines to reach its log:
// they travel through a pipe and the log shim while the answer travels
// over HTTP.
const tailSettle = 2 * time.Millisecond

// exitSettle bounds how long a failed invocation with Request.Tail waits
// for its runtime to exit, so the tail holds the runtime's last words.
const exitSettle = 500 * time.Millisecond

var _ Invoker = (*Pool)(nil)

// Invoke runs req on a warm sandbox of fn, or a new one.
func (p *Pool) Invoke(ctx context.Context, fn *Function, req *Request) (*Result, error) {
	if err := validate(fn, req); err != nil {
		return nil, err
	}
	inv, err := invocation(fn, req)
	if err != nil {
		return nil, err
	}
	t, env, stale, err := p.admit(fn)
	for _, e := range stale {
		p.destroy(e, "revision replaced")
	}
	if err != nil {
		return nil, err
	}
	defer p.release(t)
	cold := env == nil
	if cold {
		if env, err = p.coldStart(ctx, fn); err != nil {
			return nil, err
		}
	}
	return p.run(ctx, env, fn, req, inv, cold)
}

func validate(fn *Function, req *Request) error {
	switch {
	case fn == nil || req == nil:
		return errors.New("lambda runner: nil function or request")
	case fn.Account == "" || fn.Region == "" || fn.Name == "" || fn.Version == "":
		return fmt.Errorf("lambda runner: function %q lacks account, region, name or version", fn.Name)
	case fn.MemoryMB <= 0 || fn.Timeout <= 0:
		return fmt.Errorf("lambda runner: function %s has memory %d MB and timeout %v", fn.Name, fn.MemoryMB, fn.Timeout)
	case req.RequestID == "":
		return errors.New("lambda runner: request without an ID")
	}
	return nil
}

// run runs one invocation on env, frames its log, and parks or destroys
// env after it.
func (p *Pool) run(ctx context.Context, env *environment, fn *Function, req *Request, inv lambdart.Invocation, cold bool) (*Result, error) {
	startLine := fmt.Sprintf("START RequestId: %s Version: %s", req.RequestID, fn.Version)
	start := p.now()
	off := env.log.line(startLine)

	var res *lambdart.Result
	err := env.initErr // a cold start whose init failed
	if err == nil {
		res, err = env.sess.Invoke(ctx, inv)
	}
	dur := p.now().Sub(start)
	out := &Result{
		ExecutedVersion: fn.Version, Duration: dur, BilledDuration: billed(dur),
		MemoryMB: fn.MemoryMB, ColdStart: cold,
	}
	if cold {
		out.InitDuration = env.initDur
	}
	var status string // REPORT's Status field for a failed invocation
	var (
		te *lambdart.TimeoutError
		ee *lambdart.ExitError
		ie *lambdart.InitError
	)
	switch {
	case err == nil:
		out.Payload, out.FunctionError = res.Payload, res.FunctionError
	case errors.As(err, &te):
		msg := fmt.Sprintf("%s %s Task timed out after %s seconds",
			start.Add(fn.Timeout).UTC().Format("2006-01-02T15:04:05.000Z"), req.RequestID, secs(fn.Timeout))
		out.Payload, out.FunctionError, status = errorMessageOnly(msg), "Unhandled", "timeout"
		env.log.line(msg)
	case errors.As(err, &ee):
		fail := &lambdart.ExitError{RequestID: req.RequestID, Cause: ee.Cause}
		out.Payload, out.FunctionError, status = fail.Payload(), "Unhandled", "error\tError Type: "+fail.ErrorType()
		env.log.line(fmt.Sprintf("RequestId: %s Error: %s", req.RequestID, fail.Error()))
		env.log.line(fail.ErrorType())
	case errors.As(err, &ie):
		out.Payload, out.FunctionError, status = ie.Payload(), "Unhandled", "error\tError Type: "+ie.ErrorType
	case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
		// The init outran initTimeout: Lambda reports it as a timeout.
		msg := fmt.Sprintf("%s %s Task timed out after %s seconds",
			p.now().UTC().Format("2006-01-02T15:04:05.000Z"), req.RequestID, secs(initTimeout))
		out.Payload, out.FunctionError, status = errorMessageOnly(msg), "Unhandled", "timeout"
		env.log.line(msg)
	default:
		// The caller left, or the sandbox was retired under the
		// invocation: nimbus's answer, not the function's.
		p.forget(env)
		p.destroy(env, "invocation abandoned")
		return nil, fmt.Errorf("invoke %s: %w", fn.Name, err)
	}
	healthy := err == nil
	if !healthy {
		env.broken.Store(true) // stats below, then the sandbox goes
	}
	out.MaxMemoryUsedMB = p.maxMemoryMB(ctx, env)
	switch {
	case req.Tail && !healthy && status != "timeout":
		// The runtime failed and is exiting: once it has, its last lines
		// (a traceback) are all in the log.
		wctx, cancel := context.WithTimeout(ctx, exitSettle)
		p.host.Wait(wctx, env.id)
		cancel()
	case req.Tail:
		time.Sleep(tailSettle)
	}
	env.log.line("END RequestId: " + req.RequestID)
	env.log.line(reportLine(req.RequestID, out, status))
	if req.Tail {
		if cold {
			// A cold start's tail begins with the runtime's init output,
			// where an init failure's traceback is.
			out.LogTail = env.log.tail("", 0)
		} else {
			out.LogTail = env.log.tail(startLine, off)
		}
	}
	if !healthy || !p.park(env) {
		p.forget(env)
		p.destroy(env, "failed or retired")
	}
	return out, nil
}

// invocation is the Runtime API's view of req.
func invocation(fn *Function, req *Request) (lambdart.Invocation, error) {
	inv := lambdart.Invocation{
		RequestID: req.RequestID, Payload: req.Payload, FunctionARN: req.InvokedARN,
		Timeout: fn.Timeout, TraceID: req.TraceID, CognitoIdentity: req.CognitoIdentity,
	}
	if inv.FunctionARN == "" {
		inv.FunctionARN = fn.ARN
	}
	if req.ClientContext != "" {
		cc, err := base64.StdEncoding.DecodeString(req.ClientContext)
		if err != nil {
			return inv, fmt.Errorf("client context of %s is not base64: %w", req.RequestID, err)
		}
		inv.ClientContext = string(cc)
	}
	return inv, nil
}

// maxMemoryMB is the sandbox's peak memory so far, in MB as REPORT says it.
func (p *Pool) maxMemoryMB(ctx context.Context, env *environment) int {
	st, err := p.host.Stats(ctx, env.id)
	if err != nil || st == nil {
		return 0
	}
	peak := max(st.PeakMemoryBytes, st.MemoryBytes)
	return int((peak + 1<<20 - 1) >> 20)
}

// billed rounds a duration up to Lambda's 1 ms billing granularity.
func billed(d time.Duration) time.Duration {
	ms := (d + time.Millisecond - 1) / time.Millisecond
	return max(ms, 1) * time.Millisecond
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f", d.Seconds()) }

// reportLine is the REPORT line of an invocation.
func reportLine(requestID string, r *Result, status string) string {
	s := fmt.Sprintf("REPORT RequestId: %s\tDuration: %s ms\tBilled Duration: %d ms\tMemory Size: %d MB\tMax Memory Used: %d MB",
		requestID, Sprint(r.Duration), r.BilledDuration.Milliseconds(), r.MemoryMB, r.MaxMemoryUsedMB)
	if r.ColdStart {
		s += "\tInit Duration: " + Sprint(r.InitDuration) + " ms"
	}
	if status != "" {
		s += "\tStatus: " + status
	}
	return s
}

// errorMessageOnly is the payload of a timeout: Lambda's has no errorType.
func errorMessageOnly(msg string) []byte {
	b, _ := json.Marshal(struct {
		ErrorMessage string `json:"errorMessage"`
	}{msg})
	return b
}
