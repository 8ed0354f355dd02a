package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nimbus-dev/nimbus/internal/lambdart"
	"github.com/nimbus-dev/nimbus/internal/sandbox"
	"github.com/nimbus-dev/nimbus/internal/sandbox/fake"
	"github.com/nimbus-dev/nimbus/internal/sandboxlog"
	"github.com/nimbus-dev/nimbus/internal/store/sqlitestore"
	"github.com/nimbus-dev/nimbus/internal/substrate"
)

// Scheduling tests run on the fake driver: each "sandbox" is a goroutine
// that speaks the Runtime API on the loopback listener the Pool gives it
// (the process-driver path), so they need neither root nor runc.

// fakeRuntimes starts a Go runtime loop for every fake sandbox started.
type fakeRuntimes struct {
	wg      sync.WaitGroup
	mu      sync.Mutex
	started int
}

// script is the fake driver's Script: the sandbox runs until deleted, and
// a goroutine plays its runtime against AWS_LAMBDA_RUNTIME_API.
func (f *fakeRuntimes) script(spec sandbox.Spec) fake.Behavior {
	var api string
	for _, kv := range spec.Env {
		if v, ok := strings.CutPrefix(kv, "AWS_LAMBDA_RUNTIME_API="); ok {
			api = v
		}
	}
	f.mu.Lock()
	f.started++
	f.mu.Unlock()
	f.wg.Add(1)
	go func() { defer f.wg.Done(); runFakeRuntime(api, spec.ID) }()
	return fake.Behavior{Duration: fake.Forever, Stats: sandbox.Stats{PeakMemoryBytes: 33 << 20}}
}

func (f *fakeRuntimes) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.started
}

// runFakeRuntime answers each invocation with {"sandbox": id, "event": e}
// after the event's sleepMs, until its session ends.
func runFakeRuntime(api, id string) {
	client := &http.Client{}
	base := "http://" + api + "/2018-06-01/runtime/invocation/"
	for {
		resp, err := client.Get(base + "next")
		if err != nil {
			return
		}
		event, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return
		}
		var e struct{ SleepMs int }
		json.Unmarshal(event, &e)
		time.Sleep(time.Duration(e.SleepMs) * time.Millisecond)
		reply, _ := json.Marshal(map[string]any{"sandbox": id, "event": json.RawMessage(event)})
		resp, err = client.Post(base+resp.Header.Get(lambdart.HeaderRequestID)+"/response", "application/json", bytes.NewReader(reply))
		if err != nil {
			return
		}
		resp.Body.Close()
	}
}

func fakePool(t *testing.T, opts Options) (*Pool, *fakeRuntimes) {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, filepath.Join(dir, "nimbus.db"), sqlitestore.WithoutFsync())
	if err != nil {
		t.Fatal(err)
	}
	rts := &fakeRuntimes{}
	h, err := substrate.Open(ctx, substrate.Options{DataDir: filepath.Join(dir, "data"), Store: st,
		SandboxDriver: fake.New(fake.WithScript(rts.script))})
	if err != nil {
		t.Fatal(err)
	}
	opts.Host, opts.DataDir = h, filepath.Join(dir, "data")
	p, err := New(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
		if left, _ := h.List(ctx, nil); len(left) != 0 {
			t.Errorf("Close left %d sandboxes", len(left))
		}
		rts.wg.Wait() // every runtime goroutine ended with its session
		h.Close()
		st.Close()
	})
	return p, rts
}

// fakeFunction is a function the fake runtimes serve.
func fakeFunction(name string) *Function {
	fn := function(name, "provided.al2023", "bootstrap", "/nonexistent-code")
	fn.Timeout = 2 * time.Second
	return fn
}

type fakeReply struct {
	Sandbox string          `json:"sandbox"`
	Event   json.RawMessage `json:"event"`
}

func invokeFake(t *testing.T, p *Pool, fn *Function, payload string) (*Result, fakeReply) {
	t.Helper()
	res := mustInvoke(t, p, fn, request(payload))
	var r fakeReply
	if res.FunctionError == "" {
		if err := json.Unmarshal(res.Payload, &r); err != nil {
			t.Fatalf("reply %s: %v", res.Payload, err)
		}
	}
	return res, r
}

func TestWarmReuseAndRevisions(t *testing.T) {
	p, rts := fakePool(t, Options{})
	fn := fakeFunction("f")
	res1, r1 := invokeFake(t, p, fn, `{"n":1}`)
	res2, r2 := invokeFake(t, p, fn, `{"n":2}`)
	if !res1.ColdStart || res2.ColdStart || r1.Sandbox != r2.Sandbox || string(r2.Event) != `{"n":2}` {
		t.Fatalf("cold %v then %v on %s then %s; want one cold start then the same sandbox warm", res1.ColdStart, res2.ColdStart, r1.Sandbox, r2.Sandbox)
	}
	if res2.MaxMemoryUsedMB != 33 || res2.MemoryMB != fn.MemoryMB || res2.ExecutedVersion != "$LATEST" || res2.BilledDuration < res2.Duration {
		t.Errorf("result %+v", res2)
	}
	// Another version has its own sandboxes.
	v1 := *fn
	v1.Version = "1"
	if res, r := invokeFake(t, p, &v1, `{}`); !res.ColdStart || r.Sandbox == r1.Sandbox {
		t.Errorf("version 1 served by $LATEST's sandbox")
	}
	// A new revision cold-starts, and the old revision's idle sandbox goes.
	fn.Revision = "r2"
	if res, r := invokeFake(t, p, fn, `{}`); !res.ColdStart || r.Sandbox == r1.Sandbox {
		t.Errorf("revision r2 served by r1's sandbox")
	}
	eventually(t, 5*time.Second, "r1 sandbox deleted", func() bool {
		_, err := p.host.Get(context.Background(), r1.Sandbox)
		return errors.Is(err, substrate.ErrNotFound)
	})
	if n := rts.count(); n != 3 {
		t.Errorf("%d sandboxes started; want 3", n)
	}
}

func TestThrottling(t *testing.T) {
	p, _ := fakePool(t, Options{})
	zero, one := 0, 1
	fn := fakeFunction("reserved-zero")
	fn.Reserved = &zero
	var te *ThrottleError
	if _, err := p.Invoke(context.Background(), fn, request(`{}`)); !errors.As(err, &te) || te.Reason != ReasonReservedLimit {
		t.Fatalf("reserved 0: %v", err)
	}

	busy := func(fn *Function) (wait func()) {
		done := make(chan struct{})
		go func() { defer close(done); p.Invoke(context.Background(), fn, request(`{"sleepMs":300}`)) }()
		eventually(t, 5*time.Second, fn.Name+" in flight", func() bool {
			return p.Stats(fn.Account, fn.Region, fn.Name, "").InFlight == 1
		})
		return func() { <-done }
	}
	fn = fakeFunction("reserved-one")
	fn.Reserved = &one
	wait := busy(fn)
	if _, err := p.Invoke(context.Background(), fn, request(`{}`)); !errors.As(err, &te) || te.Reason != ReasonReservedLimit {
		t.Errorf("second concurrent invoke of a function reserved at 1: %v", err)
	}
	wait()
	if _, err := p.Invoke(context.Background(), fn, request(`{}`)); err != nil {
		t.Errorf("invoke once the first ended: %v", err)
	}

	// The unreserved pool is shared by the account's functions in a region.
	a, b := fakeFunction("a"), fakeFunction("b")
	a.UnreservedPool, b.UnreservedPool = 1, 1
	wait = busy(a)
	if _, err := p.Invoke(context.Background(), b, request(`{}`)); !errors.As(err, &te) || te.Reason != ReasonAccountLimit {
		t.Errorf("other function while the account's pool is full: %v", err)
	}
	elsewhere := *b
	elsewhere.Region = "eu-west-1"
	if _, err := p.Invoke(context.Background(), &elsewhere, request(`{}`)); err != nil {
		t.Errorf("same function name in another region: %v", err)
	}
	wait()
	if st := p.Stats(a.Account, a.Region, a.Name, ""); st.InFlight != 0 {
		t.Errorf("in flight after all ended: %+v", st)
	}
}

func TestRetireBusyAndReap(t *testing.T) {
	p, _ := fakePool(t, Options{KeepAlive: 150 * time.Millisecond})
	fn := fakeFunction("retired")
	done := make(chan fakeReply)
	go func() {
		res, err := p.Invoke(context.Background(), fn, request(`{"sleepMs":300}`))
		var r fakeReply
		if err == nil {
			json.Unmarshal(res.Payload, &r)
		}
		done <- r
	}()
	eventually(t, 5*time.Second, "invocation in flight", func() bool { return p.Stats(testAccount, testRegion, fn.Name, "").InFlight == 1 })
	if err := p.Retire(context.Background(), testAccount, testRegion, fn.Name); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.Sandbox == "" {
		t.Fatal("the busy invocation did not finish after Retire")
	}
	eventually(t, 5*time.Second, "retired busy sandbox deleted", func() bool {
		_, err := p.host.Get(context.Background(), r.Sandbox)
		return errors.Is(err, substrate.ErrNotFound)
	})

	res, r := invokeFake(t, p, fn, `{}`)
	if !res.ColdStart {
		t.Error("invoke after Retire was warm")
	}
	eventually(t, 5*time.Second, "idle sandbox reaped after keep-alive", func() bool {
		_, err := p.host.Get(context.Background(), r.Sandbox)
		return errors.Is(err, substrate.ErrNotFound) && p.Stats(testAccount, testRegion, fn.Name, "").Sandboxes == 0
	})
}

func TestTimeoutAndLogFraming(t *testing.T) {
	sink := &memorySink{}
	p, _ := fakePool(t, Options{LogSink: sink, LogFlush: 10 * time.Millisecond})
	fn := fakeFunction("framed")
	fn.Timeout = 200 * time.Millisecond
	ok := request(`{}`)
	ok.Tail = true
	mustInvoke(t, p, fn, request(`{}`)) // warm: the tail is this invocation's alone
	res := mustInvoke(t, p, fn, ok)
	var r fakeReply
	json.Unmarshal(res.Payload, &r)
	tail := string(res.LogTail)
	report := "REPORT RequestId: " + ok.RequestID + "\tDuration: "
	if !strings.HasPrefix(tail, "START RequestId: "+ok.RequestID+" Version: $LATEST\n") || !strings.Contains(tail, "\nEND RequestId: "+ok.RequestID+"\n") ||
		!strings.Contains(tail, report) || !strings.HasSuffix(tail, "\tMemory Size: 256 MB\tMax Memory Used: 33 MB\n") {
		t.Errorf("log tail:\n%s", tail)
	}
	// The framing is in the sandbox's own log too.
	sb, err := p.host.Get(context.Background(), r.Sandbox)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := sandboxlog.ReadFile(sb.LogPath)
	if err != nil || len(recs) != 6 || !strings.HasPrefix(recs[5].Content, report) || !strings.Contains(recs[2].Content, "\tInit Duration: ") {
		t.Errorf("sandbox log %+v (%v)", recs, err)
	}

	slow := request(`{"sleepMs":1000}`)
	res = mustInvoke(t, p, fn, slow)
	var doc map[string]string
	json.Unmarshal(res.Payload, &doc)
	if res.FunctionError != "Unhandled" || !strings.HasSuffix(doc["errorMessage"], " "+slow.RequestID+" Task timed out after 0.20 seconds") {
		t.Errorf("timeout answer %q %s", res.FunctionError, res.Payload)
	}
	eventually(t, 5*time.Second, "timed-out sandbox deleted", func() bool {
		_, err := p.host.Get(context.Background(), r.Sandbox)
		return errors.Is(err, substrate.ErrNotFound)
	})
	// Its last lines were shipped before its log went.
	var shipped []string
	for _, e := range sink.snapshot()[fn.LogGroup+" "+streamOf(t, p, r.Sandbox)] {
		shipped = append(shipped, e.Message)
	}
	all := strings.Join(shipped, "\n")
	if !strings.Contains(all, "Task timed out after 0.20 seconds") || !strings.Contains(all, "REPORT RequestId: "+slow.RequestID) ||
		!strings.Contains(all, "Status: timeout") || strings.Count(all, "START RequestId:") != 3 {
		t.Errorf("shipped lines:\n%s", all)
	}
}

// streamOf is the log stream of a sandbox ID.
func streamOf(t *testing.T, p *Pool, id string) string {
	hexID := strings.TrimPrefix(id, "lambda-")
	return p.now().UTC().Format("2006/01/02") + "/[$LATEST]" + hexID
}

func TestEnvironmentVariables(t *testing.T) {
	fn := function("envs", "python3.11", "app.handler", "/code")
	fn.Environment = map[string]string{"LANG": "C.UTF-8", "AWS_LAMBDA_FUNCTION_NAME": "spoofed", "MINE": "1", "AWS_SESSION_TOKEN": "spoofed"}
	creds := &Credentials{AccessKeyID: "ASIAEXAMPLE", SecretAccessKey: "secret", SessionToken: "token"}
	env := map[string]string{}
	for _, kv := range environ(fn, lambdart.Runtime{Name: "python3.11", Family: lambdart.FamilyPython}, "10.0.0.1:9001", "2026/01/02/[$LATEST]ab", creds, "http://10.0.0.1:4566") {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	want := map[string]string{
		"AWS_LAMBDA_FUNCTION_NAME": "envs", "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
		"AWS_REGION": testRegion, "AWS_DEFAULT_REGION": testRegion, "AWS_LAMBDA_RUNTIME_API": "10.0.0.1:9001", "_HANDLER": "app.handler",
		"LAMBDA_TASK_ROOT": "/var/task", "LAMBDA_RUNTIME_DIR": "/var/runtime", "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/envs",
		"AWS_LAMBDA_LOG_STREAM_NAME": "2026/01/02/[$LATEST]ab", "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11", "TZ": ":UTC",
		"LANG": "C.UTF-8", "PATH": lambdaPath, "LD_LIBRARY_PATH": lambdaLDLibraryPath, "MINE": "1",
		"AWS_ACCESS_KEY_ID": "ASIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_SESSION_TOKEN": "token",
		"AWS_ENDPOINT_URL": "http://10.0.0.1:4566",
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %q; want %q", k, env[k], v)
		}
	}
	if milliCPU(1769) != 1000 || milliCPU(128) != 72 || milliCPU(10240) != 5788 {
		t.Errorf("CPU for 128/1769/10240 MB: %d %d %d", milliCPU(128), milliCPU(1769), milliCPU(10240))
	}
	if billed(1100*time.Microsecond) != 2*time.Millisecond || billed(0) != time.Millisecond || billed(3*time.Millisecond) != 3*time.Millisecond {
		t.Error("billed duration does not round up to the millisecond")
	}
}

// TestProcessDriverPython runs a real Python runtime as a host process (the
// process driver, for hosts without root or runc): the runtime reaches its
// own loopback Runtime API listener and finds its code at the host path.
func TestProcessDriverPython(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, filepath.Join(dir, "nimbus.db"), sqlitestore.WithoutFsync())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	h, err := substrate.Open(ctx, substrate.Options{DataDir: filepath.Join(dir, "data"), Store: st, Driver: substrate.DriverProcess})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	p, err := New(ctx, Options{Host: h, DataDir: filepath.Join(dir, "data")})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(ctx)
	fn := function("proc-py", pythonRuntime(t), "app.handler", codeDir(t, map[string]string{
		"app.py": "import os\ndef handler(e, c):\n    return {'root': os.environ['LAMBDA_TASK_ROOT'], 'cwd': os.getcwd(), 'n': e['n']}\n"}))
	for i, cold := range []bool{true, false} {
		res := mustInvoke(t, p, fn, request(`{"n":7}`))
		var r struct {
			Root, Cwd string
			N         int
		}
		if err := json.Unmarshal(res.Payload, &r); err != nil || r.N != 7 || r.Root != fn.CodeDir || r.Cwd != fn.CodeDir {
			t.Fatalf("invoke %d: %s (%v); want the host's code directory as task root", i, res.Payload, err)
		}
		if res.ColdStart != cold {
			t.Errorf("invoke %d: cold %v", i, res.ColdStart)
		}
	}
}

func TestCloseWithInvocationInFlight(t *testing.T) {
	p, _ := fakePool(t, Options{})
	fn := fakeFunction("closing")
	invokeFake(t, p, fn, `{}`) // one idle sandbox
	errc := make(chan error, 1)
	go func() {
		_, err := p.Invoke(context.Background(), fn, request(`{"sleepMs":1000}`))
		errc <- err
	}()
	eventually(t, 5*time.Second, "invocation in flight", func() bool { return p.Stats(testAccount, testRegion, fn.Name, "").InFlight == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err == nil {
		t.Error("the invocation in flight at Close succeeded; want an error")
	}
	if left, _ := p.host.List(ctx, nil); len(left) != 0 {
		t.Errorf("%d sandboxes left after Close", len(left))
	}
	if _, err := p.Invoke(ctx, fn, request(`{}`)); !errors.Is(err, errClosed) {
		t.Errorf("invoke after Close: %v", err)
	}
}
