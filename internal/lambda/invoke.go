package lambda

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nimbus-dev/nimbus/internal/identity"
	"github.com/nimbus-dev/nimbus/internal/lambda/runner"
	"github.com/nimbus-dev/nimbus/internal/service"
	"github.com/nimbus-dev/nimbus/internal/store"
)

// Payload limits of Invoke.
const (
	maxSyncPayload  = 6 << 20   // 6291456
	maxAsyncPayload = 256 << 10 // 262144
	maxLogTail      = 4 << 10
)

func (a *API) registerInvoke(svc *service.Service) {
	svc.Handle("Invoke", service.Op(a.invoke))
}

type invokeInput struct {
	FunctionName   string
	InvocationType string
	LogType        string
	ClientContext  string
	Payload        []byte
	Qualifier      string
}

type invokeOutput struct {
	StatusCode      int
	FunctionError   string `json:",omitempty"`
	LogResult       string `json:",omitempty"`
	ExecutedVersion string `json:",omitempty"`
	Payload         []byte `json:",omitempty"`
}

// target is the function version an invocation runs, read in one
// snapshot with the partition's reservations.
type target struct {
	account, region string
	fn              *functionRecord
	version         *versionRecord
	qualifier       string // as the caller gave it
	invokedARN      string
	reservations    map[string]int
}

// resolveTarget reads the function and picks the version a qualifier
// runs; a weighted alias picks with pick.
func (a *API) resolveTarget(ctx context.Context, account, region string, ref functionRef, pick func() float64) (*target, error) {
	t := &target{account: account, region: region, qualifier: ref.Qualifier,
		invokedARN: qualifiedARN(account, region, ref.Name, ref.Qualifier)}
	err := a.store.View(ctx, func(tx store.Tx) error {
		f, _, err := a.loadFunction(tx, account, region, ref.Name)
		if err != nil {
			return err
		}
		t.fn = f
		t.reservations, err = a.reservations(tx, account, region)
		return err
	})
	if err != nil {
		return nil, storeError(err, "read function %s", ref.Name)
	}
	version := ref.Qualifier
	switch {
	case version == "":
		version = latest
	case !isVersionNumber(version) && version != latest:
		al, ok := t.fn.Aliases[version]
		if !ok {
			return nil, errFunctionNotFound(t.invokedARN)
		}
		version = routeAlias(al, pick)
	}
	if t.version = t.fn.version(version); t.version == nil {
		return nil, errFunctionNotFound(t.invokedARN)
	}
	return t, nil
}

// checkInvocable refuses a version Lambda would not run yet.
func (a *API) checkInvocable(t *target) error {
	if st := t.version.stateAt(a.now()); st.State != "Active" {
		return errStateForbids(st.State)
	}
	return nil
}

// runnerFunction is the snapshot of the version the runner needs.
func (a *API) runnerFunction(t *target) *runner.Function {
	v := t.version
	fn := &runner.Function{
		Account: t.account, Region: t.region, Name: t.fn.Name, Version: v.Version,
		ARN: functionARN(t.account, t.region, t.fn.Name), Runtime: v.Runtime, Handler: v.Handler,
		ImageURI: v.ImageURI, MemoryMB: v.MemorySize, Timeout: time.Duration(v.Timeout) * time.Second,
		EphemeralMB: v.Ephemeral, Environment: v.Environment, Architecture: v.Arch, LogGroup: v.LogGroup,
		Revision: v.ConfigRevision, Reserved: t.fn.Reserved, UnreservedPool: a.unreservedPool(t.reservations),
	}
	if v.CodeHash != "" {
		fn.CodeDir = a.codePath(v.CodeHash)
	}
	if a.roleCredentials != nil && v.Role != "" {
		role, session := v.Role, t.fn.Name
		fn.Credentials = func(ctx context.Context) (*runner.Credentials, error) {
			return a.roleCredentials(ctx, role, session)
		}
	}
	if ic := v.ImageConfig; ic != nil {
		fn.ImageCommand, fn.ImageEntryPoint, fn.ImageWorkDir = ic.Command, ic.EntryPoint, ic.WorkingDirectory
	}
	return fn
}

func (a *API) invoke(ctx context.Context, in *invokeInput) (*invokeOutput, error) {
	account, region := partition(ctx)
	ref, err := parseFunctionName(account, region, in.FunctionName)
	if err != nil {
		return nil, err
	}
	if ref, err = ref.withQualifier(in.Qualifier); err != nil {
		return nil, err
	}
	payload := in.Payload
	if len(payload) == 0 {
		payload = []byte("{}")
	}
	invocationType := in.InvocationType
	if invocationType == "" {
		invocationType = "RequestResponse"
	}
	limit := maxSyncPayload
	if invocationType == "Event" {
		limit = maxAsyncPayload
	}
	if len(payload) > limit {
		return nil, errTooLarge(limit)
	}
	if !json.Valid(payload) {
		return nil, errInvalidContent("Could not parse request body into json: Could not parse payload into json: Unexpected character: was expecting a JSON value")
	}
	t, err := a.resolveTarget(ctx, account, region, ref, randomWeight)
	if err != nil {
		return nil, err
	}
	if err := a.checkInvocable(t); err != nil {
		return nil, err
	}
	requestID := identity.From(ctx).RequestID
	if requestID == "" {
		requestID = newRevisionID()
	}
	switch invocationType {
	case "DryRun":
		return &invokeOutput{StatusCode: 204}, nil
	case "Event":
		if err := a.enqueue(ctx, t, requestID, payload); err != nil {
			return nil, err
		}
		return &invokeOutput{StatusCode: 202}, nil
	}
	res, err := a.invoker.Invoke(ctx, a.runnerFunction(t), &runner.Request{
		RequestID: requestID, Payload: payload, InvokedARN: t.invokedARN, TraceID: newTraceID(a.now()),
		ClientContext: in.ClientContext, Tail: in.LogType == "Tail",
	})
	if err != nil {
		return nil, invokeError(err, t.fn.Name)
	}
	out := &invokeOutput{StatusCode: 200, FunctionError: res.FunctionError, ExecutedVersion: res.ExecutedVersion, Payload: res.Payload}
	if out.ExecutedVersion == "" {
		out.ExecutedVersion = t.version.Version
	}
	if in.LogType == "Tail" {
		tail := res.LogTail
		if len(tail) > maxLogTail {
			tail = tail[len(tail)-maxLogTail:]
		}
		out.LogResult = base64.StdEncoding.EncodeToString(tail)
	}
	return out, nil
}

// invokeError maps a runner failure to Lambda's error.
func invokeError(err error, name string) error {
	var te *runner.ThrottleError
	if errors.As(err, &te) {
		return errThrottled(te.Reason)
	}
	return errInternal(err, "invoke %s", name)
}

// newTraceID is an X-Ray trace header for an invocation, which Lambda
// passes to the runtime even when tracing is off (Sampled=0).
func newTraceID(now time.Time) string {
	var b [20]byte
	rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return fmt.Sprintf("Root=1-%08x-%s;Parent=%s;Sampled=0", now.Unix(), h[:24], h[24:])
}
