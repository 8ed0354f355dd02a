package runner

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

const pythonHandler = `
import os, json, sys
print("init of", os.environ["AWS_LAMBDA_FUNCTION_NAME"])
def handler(event, context):
    print("handling", event.get("msg"))
    if event.get("op") == "exit":
        sys.exit(1)
    if event.get("op") == "sleep":
        import time; time.sleep(event["s"])
    if event.get("op") == "connect":
        import socket
        s = socket.socket(); s.settimeout(1)
        try:
            s.connect((event["host"], event["port"])); return "connected"
        except Exception as e:
            return "refused: %s" % type(e).__name__
    if event.get("op") == "hog":
        chunks = [bytearray(1 << 20) for _ in range(event["mb"])]
        return len(chunks)
    return {"msg": event.get("msg"), "requestId": context.aws_request_id,
            "env": {k: os.environ.get(k) for k in ["AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                    "AWS_REGION", "_HANDLER", "LAMBDA_TASK_ROOT", "AWS_LAMBDA_LOG_STREAM_NAME", "TZ", "AWS_EXECUTION_ENV", "MY_VAR"]},
            "uid": os.getuid(), "pid": os.getpid(), "taskWritable": os.access("/var/task", os.W_OK),
            "tmpWritable": os.access("/tmp", os.W_OK)}
`

type pyReply struct {
	Msg          string            `json:"msg"`
	RequestID    string            `json:"requestId"`
	Env          map[string]string `json:"env"`
	UID          int               `json:"uid"`
	PID          int               `json:"pid"`
	TaskWritable bool              `json:"taskWritable"`
	TmpWritable  bool              `json:"tmpWritable"`
}

func TestPythonColdThenWarm(t *testing.T) {
	sink := &memorySink{}
	p := ociPool(t, viaProxy(t, Options{LogSink: sink, LogFlush: 20 * time.Millisecond}))
	fn := function("py-hello", pythonRuntime(t), "app.handler", codeDir(t, map[string]string{"app.py": pythonHandler}))
	fn.Environment = map[string]string{"MY_VAR": "mine", "AWS_REGION": "ignored"}

	req := request(`{"msg":"one"}`)
	req.Tail = true
	first := mustInvoke(t, p, fn, req)
	if first.FunctionError != "" {
		t.Fatalf("function error %s\n%s", first.Payload, first.LogTail)
	}
	var r1 pyReply
	if err := json.Unmarshal(first.Payload, &r1); err != nil {
		t.Fatalf("reply %s: %v", first.Payload, err)
	}
	if r1.Msg != "one" || r1.RequestID != req.RequestID {
		t.Errorf("reply %+v", r1)
	}
	wantEnv := map[string]string{
		"AWS_LAMBDA_FUNCTION_NAME": "py-hello", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256", "AWS_REGION": testRegion,
		"_HANDLER": "app.handler", "LAMBDA_TASK_ROOT": "/var/task", "TZ": ":UTC", "AWS_EXECUTION_ENV": "AWS_Lambda_" + fn.Runtime, "MY_VAR": "mine",
	}
	for k, v := range wantEnv {
		if r1.Env[k] != v {
			t.Errorf("env %s = %q; want %q", k, r1.Env[k], v)
		}
	}
	if !regexp.MustCompile(`^\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}$`).MatchString(r1.Env["AWS_LAMBDA_LOG_STREAM_NAME"]) {
		t.Errorf("log stream %q", r1.Env["AWS_LAMBDA_LOG_STREAM_NAME"])
	}
	if r1.UID != 993 || r1.TaskWritable || !r1.TmpWritable {
		t.Errorf("uid %d, /var/task writable %v, /tmp writable %v; want 993, false, true", r1.UID, r1.TaskWritable, r1.TmpWritable)
	}
	if !first.ColdStart || first.InitDuration <= 0 || first.MaxMemoryUsedMB <= 0 || first.BilledDuration < first.Duration {
		t.Errorf("first result %+v", first)
	}
	tail := string(first.LogTail)
	for _, want := range []string{"init of py-hello\n", "START RequestId: " + req.RequestID + " Version: $LATEST\n", "handling one\n",
		"END RequestId: " + req.RequestID + "\n", "REPORT RequestId: " + req.RequestID + "\tDuration: ", "\tInit Duration: "} {
		if !strings.Contains(tail, want) {
			t.Errorf("log tail lacks %q:\n%s", want, tail)
		}
	}

	second := mustInvoke(t, p, fn, request(`{"msg":"two"}`))
	var r2 pyReply
	if err := json.Unmarshal(second.Payload, &r2); err != nil || r2.Msg != "two" {
		t.Fatalf("second reply %s (%v)", second.Payload, err)
	}
	if second.ColdStart || second.InitDuration != 0 || r2.PID != r1.PID || r2.Env["AWS_LAMBDA_LOG_STREAM_NAME"] != r1.Env["AWS_LAMBDA_LOG_STREAM_NAME"] {
		t.Errorf("second invoke not warm on the same sandbox: cold %v, pid %d vs %d", second.ColdStart, r2.PID, r1.PID)
	}
	if st := p.Stats(testAccount, testRegion, fn.Name, ""); st.Sandboxes != 1 || st.Idle != 1 {
		t.Errorf("stats %+v; want one idle sandbox", st)
	}
	// Through the proxy the sandbox has no network of its own.
	sbs, err := p.host.List(context.Background(), map[string]string{LabelFunction: fn.Name})
	if err != nil || len(sbs) != 1 || sbs[0].Network != "" || sbs[0].IP.IsValid() {
		t.Errorf("sandboxes %+v (%v); want one without a network", sbs, err)
	}

	// The sink gets the init line, both invocations framed, in order.
	key := fn.LogGroup + " " + r1.Env["AWS_LAMBDA_LOG_STREAM_NAME"]
	var lines []string
	eventually(t, 20*time.Second, "log lines shipped", func() bool {
		lines = lines[:0]
		for _, e := range sink.snapshot()[key] {
			lines = append(lines, e.Message)
		}
		return len(lines) > 0 && strings.HasPrefix(lines[len(lines)-1], "REPORT RequestId: ") && strings.Count(strings.Join(lines, "\n"), "REPORT") == 2
	})
	joined := strings.Join(lines, "\n")
	order := []string{"init of py-hello", "START RequestId: " + req.RequestID, "handling one", "END RequestId: " + req.RequestID, "REPORT", "START", "handling two", "END", "REPORT"}
	rest := joined
	for _, w := range order {
		i := strings.Index(rest, w)
		if i < 0 {
			t.Fatalf("shipped log lacks %q in order:\n%s", w, joined)
		}
		rest = rest[i+len(w):]
	}
}

const nodeHandler = `
exports.handler = async (event, context) => {
  console.log("node handling", event.msg);
  return { msg: event.msg, requestId: context.awsRequestId, pid: process.pid };
};
`

func TestNodeCommonJS(t *testing.T) {
	p := ociPool(t, Options{})
	fn := function("node-hello", nodeRuntime(t), "index.handler", codeDir(t, map[string]string{"index.js": nodeHandler}))
	var pid int
	for i, msg := range []string{"a", "b"} {
		req := request(`{"msg":"` + msg + `"}`)
		res := mustInvoke(t, p, fn, req)
		var r struct {
			Msg, RequestID string
			PID            int
		}
		if err := json.Unmarshal(res.Payload, &r); err != nil || res.FunctionError != "" || r.Msg != msg || r.RequestID != req.RequestID {
			t.Fatalf("invoke %d: %s (%v)", i, res.Payload, err)
		}
		if res.ColdStart != (i == 0) || (i == 1 && r.PID != pid) {
			t.Errorf("invoke %d: cold %v pid %d (first %d)", i, res.ColdStart, r.PID, pid)
		}
		pid = r.PID
	}
	sbs, err := p.host.List(context.Background(), map[string]string{LabelFunction: fn.Name})
	if err != nil || len(sbs) != 1 || sbs[0].Network == "" || !sbs[0].IP.IsValid() {
		t.Errorf("sandboxes %+v (%v); want one on the network", sbs, err)
	}
}

func TestGoProvidedAL2023(t *testing.T) {
	p := ociPool(t, viaProxy(t, Options{}))
	fn := function("go-hello", "provided.al2023", "bootstrap", goHelloCode(t))
	req := request(`{"message":"hi"}`)
	req.InvokedARN = fn.ARN + ":live"
	res := mustInvoke(t, p, fn, req)
	var r struct {
		Message, RequestID, FunctionArn, Function string
	}
	if err := json.Unmarshal(res.Payload, &r); err != nil || res.FunctionError != "" {
		t.Fatalf("reply %s (%v)", res.Payload, err)
	}
	if r.Message != "hi" || r.RequestID != req.RequestID || r.FunctionArn != fn.ARN+":live" || r.Function != "go-hello" {
		t.Errorf("reply %+v", r)
	}
	// A returned error is the function's, and leaves the sandbox warm.
	res = mustInvoke(t, p, fn, request(`{"op":"error","message":"bad"}`))
	if res.FunctionError != "Unhandled" || !strings.Contains(string(res.Payload), `"bad"`) {
		t.Errorf("error result %q %s", res.FunctionError, res.Payload)
	}
	res = mustInvoke(t, p, fn, request(`{"message":"again"}`))
	if res.ColdStart || res.FunctionError != "" {
		t.Errorf("after a handled error: cold %v, %s", res.ColdStart, res.Payload)
	}
}

func TestTimeoutKillsSandbox(t *testing.T) {
	t.Parallel() // mostly waits: for a timeout, a CPU-throttled sandbox, a keep-alive
	p := ociPool(t, viaProxy(t, Options{}))
	fn := function("go-slow", "provided.al2023", "bootstrap", goHelloCode(t))
	fn.Timeout = time.Second
	mustInvoke(t, p, fn, request(`{}`)) // warm, so the timeout is the invocation's alone
	req := request(`{"op":"sleep","sleepMs":3000}`)
	req.Tail = true
	res := mustInvoke(t, p, fn, req)
	var doc map[string]string
	if err := json.Unmarshal(res.Payload, &doc); err != nil {
		t.Fatal(err)
	}
	msg := doc["errorMessage"]
	if res.FunctionError != "Unhandled" || len(doc) != 1 ||
		!regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z `+req.RequestID+` Task timed out after 1\.00 seconds$`).MatchString(msg) {
		t.Errorf("timeout answer %q %s", res.FunctionError, res.Payload)
	}
	if res.Duration < time.Second || res.Duration > 2*time.Second {
		t.Errorf("duration %v of a 1 s timeout", res.Duration)
	}
	if !strings.Contains(string(res.LogTail), "Task timed out after 1.00 seconds") || !strings.Contains(string(res.LogTail), "Status: timeout") {
		t.Errorf("log tail:\n%s", res.LogTail)
	}
	// The sandbox is gone; the next invoke is a cold start.
	next := mustInvoke(t, p, fn, request(`{}`))
	if !next.ColdStart || next.FunctionError != "" {
		t.Errorf("after a timeout: cold %v, %s", next.ColdStart, next.Payload)
	}
}

func TestCrashAndInitErrors(t *testing.T) {
	p := ociPool(t, viaProxy(t, Options{}))
	py := pythonRuntime(t)
	fn := function("py-crash", py, "app.handler", codeDir(t, map[string]string{"app.py": pythonHandler}))
	req := request(`{"op":"exit"}`)
	res := mustInvoke(t, p, fn, req)
	want := `{"errorMessage":"RequestId: ` + req.RequestID + ` Error: Runtime exited with error: exit status 1","errorType":"Runtime.ExitError"}`
	if res.FunctionError != "Unhandled" || string(res.Payload) != want {
		t.Errorf("crash answer %q %s; want %s", res.FunctionError, res.Payload, want)
	}
	if next := mustInvoke(t, p, fn, request(`{"msg":"x"}`)); !next.ColdStart || next.FunctionError != "" {
		t.Errorf("after a crash: cold %v %s", next.ColdStart, next.Payload)
	}

	for _, tc := range []struct {
		name, handler, code, errorType string
	}{
		{"missing module", "nosuch.handler", "", "Runtime.ImportModuleError"},
		{"missing handler", "app.nosuch", "def handler(e, c): return 1\n", "Runtime.HandlerNotFound"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fn := function("py-init-"+strings.ReplaceAll(tc.name, " ", "-"), py, tc.handler, codeDir(t, map[string]string{"app.py": tc.code}))
			req := request(`{}`)
			req.Tail = true
			res := mustInvoke(t, p, fn, req)
			if !strings.Contains(string(res.LogTail), "[ERROR] "+tc.errorType+": ") {
				t.Errorf("log tail lacks the runtime's init error line:\n%s", res.LogTail)
			}
			var doc struct{ ErrorType, ErrorMessage string }
			if err := json.Unmarshal(res.Payload, &doc); err != nil || res.FunctionError != "Unhandled" || doc.ErrorType != tc.errorType {
				t.Errorf("init error answer %q %s (%v); want errorType %s", res.FunctionError, res.Payload, err, tc.errorType)
			}
			if !res.ColdStart || res.InitDuration <= 0 {
				t.Errorf("init failure: cold %v init %v", res.ColdStart, res.InitDuration)
			}
			eventually(t, 10*time.Second, "failed sandbox removed", func() bool {
				return p.Stats(testAccount, testRegion, fn.Name, "").Sandboxes == 0
			})
		})
	}
}

func TestOutOfMemory(t *testing.T) {
	t.Parallel() // mostly waits: for a timeout, a CPU-throttled sandbox, a keep-alive
	p := ociPool(t, viaProxy(t, Options{}))
	fn := function("py-hog", pythonRuntime(t), "app.handler", codeDir(t, map[string]string{"app.py": pythonHandler}))
	// 128 MB gets 72 thousandths of a CPU, as in Lambda: touching the
	// memory takes seconds.
	fn.MemoryMB, fn.Timeout = 128, 30*time.Second
	req := request(`{"op":"hog","mb":400}`)
	res := mustInvoke(t, p, fn, req)
	want := `{"errorMessage":"RequestId: ` + req.RequestID + ` Error: Runtime exited with error: signal: killed","errorType":"Runtime.ExitError"}`
	if res.FunctionError != "Unhandled" || string(res.Payload) != want {
		t.Errorf("OOM answer %q %s; want %s", res.FunctionError, res.Payload, want)
	}
}

func TestConcurrencyThrottling(t *testing.T) {
	t.Parallel() // mostly waits: for a timeout, a CPU-throttled sandbox, a keep-alive
	p := ociPool(t, Options{})
	code := goHelloCode(t)
	zero := 0
	fn := function("go-zero", "provided.al2023", "bootstrap", code)
	fn.Reserved = &zero
	_, err := p.Invoke(context.Background(), fn, request(`{}`))
	var te *ThrottleError
	if !errors.As(err, &te) || te.Reason != ReasonReservedLimit || !errors.Is(err, ErrThrottled) {
		t.Fatalf("reserved 0: %v; want a reserved-limit throttle", err)
	}

	// Two concurrent slots in the account: a third concurrent invoke of an
	// unreserved function is throttled at once; a reserved one is not.
	fn = function("go-busy", "provided.al2023", "bootstrap", code)
	fn.UnreservedPool = 2
	var wg sync.WaitGroup
	results := make([]*Result, 2)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], _ = p.Invoke(context.Background(), fn, request(`{"op":"sleep","sleepMs":1500}`))
		}()
	}
	eventually(t, 10*time.Second, "two invocations in flight", func() bool {
		return p.Stats(testAccount, testRegion, fn.Name, "").InFlight == 2
	})
	began := time.Now()
	_, err = p.Invoke(context.Background(), fn, request(`{}`))
	if !errors.As(err, &te) || te.Reason != ReasonAccountLimit || time.Since(began) > 100*time.Millisecond {
		t.Errorf("third concurrent invoke: %v after %v; want an immediate account-limit throttle", err, time.Since(began))
	}
	two := 2
	other := function("go-reserved", "provided.al2023", "bootstrap", code)
	other.Reserved, other.UnreservedPool = &two, 2
	if res, err := p.Invoke(context.Background(), other, request(`{}`)); err != nil || res.FunctionError != "" {
		t.Errorf("reserved function while the unreserved pool is full: %v", err)
	}
	wg.Wait()
	for i, r := range results {
		if r == nil || r.FunctionError != "" {
			t.Errorf("sleeping invoke %d: %+v", i, r)
		}
	}
	if st := p.Stats(testAccount, testRegion, fn.Name, ""); st.Sandboxes != 2 || st.InFlight != 0 {
		t.Errorf("after the burst: %+v; want two warm sandboxes", st)
	}
}

func TestRevisionRetireAndReap(t *testing.T) {
	t.Parallel() // mostly waits: for a timeout, a CPU-throttled sandbox, a keep-alive
	p := ociPool(t, viaProxy(t, Options{KeepAlive: 700 * time.Millisecond}))
	fn := function("go-rev", "provided.al2023", "bootstrap", goHelloCode(t))
	if res := mustInvoke(t, p, fn, request(`{}`)); !res.ColdStart {
		t.Fatal("first invoke not cold")
	}
	if res := mustInvoke(t, p, fn, request(`{}`)); res.ColdStart {
		t.Fatal("second invoke cold")
	}
	fn2 := *fn
	fn2.Revision = "r2"
	if res := mustInvoke(t, p, &fn2, request(`{}`)); !res.ColdStart {
		t.Error("new revision served warm by the old sandbox")
	}
	eventually(t, 10*time.Second, "old revision's sandbox retired", func() bool {
		left, _ := p.host.List(context.Background(), map[string]string{LabelFunction: fn.Name, LabelRevision: "r1"})
		return len(left) == 0
	})
	if err := p.Retire(context.Background(), testAccount, testRegion, fn.Name); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "retired function's sandboxes removed", func() bool {
		left, _ := p.host.List(context.Background(), map[string]string{LabelFunction: fn.Name})
		return len(left) == 0 && p.Stats(testAccount, testRegion, fn.Name, "").Sandboxes == 0
	})
	// Keep-alive: an idle sandbox goes after 700 ms.
	if res := mustInvoke(t, p, &fn2, request(`{}`)); !res.ColdStart {
		t.Error("invoke after retire was warm")
	}
	if st := p.Stats(testAccount, testRegion, fn.Name, ""); st.Idle != 1 {
		t.Fatalf("stats %+v; want one idle sandbox", st)
	}
	eventually(t, 10*time.Second, "idle sandbox reaped", func() bool {
		left, _ := p.host.List(context.Background(), map[string]string{LabelFunction: fn.Name})
		return len(left) == 0 && p.Stats(testAccount, testRegion, fn.Name, "").Sandboxes == 0
	})
}

func TestSandboxReachesNoOtherHostPort(t *testing.T) {
	p := ociPool(t, Options{})
	fn := function("py-net", pythonRuntime(t), "app.handler", codeDir(t, map[string]string{"app.py": pythonHandler}))
	gw := strings.Split(p.RuntimeAPIAddr(), ":")[0]
	mustInvoke(t, p, fn, request(`{}`)) // the gateway address exists once a sandbox is attached
	// A host service on the gateway stands in for every other host port:
	// the Runtime API port answers the sandbox, this one must not.
	ln, err := net.Listen("tcp4", gw+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	check := func(how string) {
		t.Helper()
		res := mustInvoke(t, p, fn, request(fmt.Sprintf(`{"op":"connect","host":%q,"port":%d}`, gw, port)))
		if !strings.HasPrefix(string(res.Payload), `"refused`) {
			t.Errorf("%s: connect to host port %d from a sandbox: %s; want refused", how, port, res.Payload)
		}
		res = mustInvoke(t, p, fn, request(fmt.Sprintf(`{"op":"connect","host":%q,"port":%d}`, gw, p.opts.RuntimeAPIPort)))
		if string(res.Payload) != `"connected"` {
			t.Errorf("%s: connect to the Runtime API port: %s", how, res.Payload)
		}
	}
	check("a new sandbox")
	// A warm spare (made before any function) is held to the same.
	readySpare(t, p, fn)
	fn.Revision = "r2"
	check("a warm spare")
	if sbs, _ := p.host.List(context.Background(), map[string]string{LabelFunction: fn.Name, LabelRevision: "r2"}); len(sbs) != 1 || sbs[0].Labels[LabelSpare] != "true" {
		t.Errorf("revision r2 runs in %+v; want a spare", sbs)
	}
}

// TestPackageTypeImage runs a function packaged as an image from the
// nimbus image store: gohello as the image's entrypoint, nothing else in it.
func TestPackageTypeImage(t *testing.T) {
	p := ociPool(t, viaProxy(t, Options{})) // images still join the network
	bin, err := os.ReadFile(filepath.Join(goHelloCode(t), "bootstrap"))
	if err != nil {
		t.Fatal(err)
	}
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	tw.WriteHeader(&tar.Header{Name: "app/", Typeflag: tar.TypeDir, Mode: 0o755})
	tw.WriteHeader(&tar.Header{Name: "app/hello", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(bin))})
	tw.Write(bin)
	tw.Close()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(layer.Bytes())), nil })
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, l)
	if err != nil {
		t.Fatal(err)
	}
	img, err = mutate.Config(img, v1.Config{Entrypoint: []string{"/app/nonexistent"}, WorkingDir: "/"})
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := name.ParseReference("nimbus.test/lambda-hello:1")
	archive := filepath.Join(t.TempDir(), "hello.tar")
	if err := tarball.WriteToFile(archive, ref, img); err != nil {
		t.Fatal(err)
	}
	if _, err := p.host.Images().Import(context.Background(), archive, "lambda-hello:1", nil); err != nil {
		t.Fatalf("import image: %v", err)
	}
	fn := function("img-hello", "", "", "")
	fn.ImageURI, fn.ImageEntryPoint = "lambda-hello:1", []string{"/app/hello"} // the override wins
	for i, cold := range []bool{true, false} {
		req := request(`{"message":"from an image"}`)
		res := mustInvoke(t, p, fn, req)
		if res.FunctionError != "" || !strings.Contains(string(res.Payload), `"message":"from an image"`) || res.ColdStart != cold {
			t.Errorf("invoke %d: cold %v %s", i, res.ColdStart, res.Payload)
		}
	}
}
