package lambdart

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// runtimeProc is a runtime running as a host process against a Session
// served on its own loopback port, as a process sandbox runs it.
type runtimeProc struct {
	sess   *Session
	ln     *Listener
	cmd    *exec.Cmd
	out    *syncBuffer
	exited chan struct{} // closed after the process was waited for
}

// syncBuffer collects a process's output from several pipes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// lambdaEnv is the environment Lambda gives a runtime.
func lambdaEnv(apiAddr, taskRoot, handler string) []string {
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.TempDir(),
		"AWS_LAMBDA_RUNTIME_API=" + apiAddr,
		"AWS_LAMBDA_FUNCTION_NAME=hello",
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128",
		"_HANDLER=" + handler,
		"LAMBDA_TASK_ROOT=" + taskRoot,
		"AWS_REGION=us-east-1",
		"AWS_DEFAULT_REGION=us-east-1",
		"AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/hello",
		"AWS_LAMBDA_LOG_STREAM_NAME=2026/01/01/[$LATEST]0123456789abcdef",
		"TZ=:UTC",
	}
}

// startRuntime starts argv as the runtime of a new Session. The process is
// killed and the Session closed when the test ends.
func startRuntime(tb testing.TB, argv []string, taskRoot, handler string) *runtimeProc {
	tb.Helper()
	ctx := context.Background()
	p := &runtimeProc{sess: NewSession(), out: &syncBuffer{}, exited: make(chan struct{})}
	ln, err := ListenLoopback(ctx, p.sess)
	if err != nil {
		tb.Fatal(err)
	}
	p.ln = ln
	p.cmd = exec.Command(argv[0], argv[1:]...)
	p.cmd.Env = lambdaEnv(ln.Addr(), taskRoot, handler)
	p.cmd.Dir = taskRoot
	p.cmd.Stdout = p.out
	p.cmd.Stderr = p.out
	if err := p.cmd.Start(); err != nil {
		tb.Fatalf("start runtime %v: %v", argv, err)
	}
	go func() {
		defer close(p.exited)
		p.sess.Exited(p.cmd.Wait())
	}()
	tb.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.exited
		p.sess.Close()
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := p.ln.Close(cctx); err != nil {
			tb.Errorf("close listener: %v", err)
		}
	})
	return p
}

// waitOutput waits until the runtime's output holds want and returns "",
// or returns the output seen when d runs out. The runtime writes its log
// and posts its answer independently, so the answer can come first.
func (p *runtimeProc) waitOutput(want string, d time.Duration) string {
	deadline := time.Now().Add(d)
	for {
		out := p.out.String()
		if strings.Contains(out, want) {
			return ""
		}
		if time.Now().After(deadline) {
			return out
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitReady waits for the runtime's init, failing the test on an error.
func (p *runtimeProc) waitReady(tb testing.TB) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := p.sess.WaitReady(ctx); err != nil {
		tb.Fatalf("runtime init: %v\noutput:\n%s", err, p.out)
	}
}

var requestSeq struct {
	sync.Mutex
	n int
}

func newRequestID() string {
	requestSeq.Lock()
	defer requestSeq.Unlock()
	requestSeq.n++
	return fmt.Sprintf("8476a536-e9f4-11e8-9739-%012d", requestSeq.n)
}

const testFunctionARN = "arn:aws:lambda:us-east-1:000000000000:function:hello"

// invoke runs one invocation with a fresh request ID and the given timeout.
func (p *runtimeProc) invoke(tb testing.TB, payload string, timeout time.Duration) (*Result, error) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout+20*time.Second)
	defer cancel()
	return p.sess.Invoke(ctx, Invocation{
		RequestID:   newRequestID(),
		Payload:     []byte(payload),
		FunctionARN: testFunctionARN,
		Timeout:     timeout,
	})
}

// mustInvoke is invoke for invocations that must get an answer.
func (p *runtimeProc) mustInvoke(tb testing.TB, payload string) *Result {
	tb.Helper()
	res, err := p.invoke(tb, payload, 10*time.Second)
	if err != nil {
		tb.Fatalf("invoke %s: %v\noutput:\n%s", payload, err, p.out)
	}
	return res
}

// waitExit waits for the runtime process to end.
func (p *runtimeProc) waitExit(tb testing.TB) {
	tb.Helper()
	select {
	case <-p.exited:
	case <-time.After(20 * time.Second):
		tb.Fatalf("runtime did not exit\noutput:\n%s", p.out)
	}
}

var goHello struct {
	once sync.Once
	path string
	err  error
}

// goHelloBinary builds testfunctions/gohello once per test binary.
func goHelloBinary(tb testing.TB) string {
	tb.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		tb.Skip("no go toolchain on PATH to build the aws-lambda-go test function")
	}
	goHello.once.Do(func() {
		dir, err := os.MkdirTemp("", "lambdart-gohello-")
		if err != nil {
			goHello.err = err
			return
		}
		goHello.path = filepath.Join(dir, "bootstrap")
		cmd := exec.Command(goTool, "build", "-o", goHello.path, "./testfunctions/gohello")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			goHello.err = fmt.Errorf("go build gohello: %w\n%s", err, out)
		}
	})
	if goHello.err != nil {
		tb.Fatal(goHello.err)
	}
	return goHello.path
}

// startGoFunction runs gohello as a provided.al2023 function.
func startGoFunction(tb testing.TB) *runtimeProc {
	tb.Helper()
	bin := goHelloBinary(tb)
	taskRoot := tb.TempDir()
	data, err := os.ReadFile(bin)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(taskRoot, "bootstrap"), data, 0o755); err != nil {
		tb.Fatal(err)
	}
	rt, err := NewCatalog().RuntimeFor(context.Background(), "provided.al2023")
	if err != nil {
		tb.Fatal(err)
	}
	return startRuntime(tb, rt.Command("", taskRoot), taskRoot, "bootstrap")
}

// startInterpreted runs a Python or Node.js function from files written
// into a fresh task root, skipping when the host lacks the interpreter.
func startInterpreted(tb testing.TB, family Family, handler string, files map[string]string) *runtimeProc {
	tb.Helper()
	return startHostRuntime(tb, hostRuntime(tb, family), handler, files)
}

// startHostRuntime runs rt's bootstrap (written to a fresh directory) over
// a task root holding files.
func startHostRuntime(tb testing.TB, rt Runtime, handler string, files map[string]string) *runtimeProc {
	tb.Helper()
	taskRoot := writeTaskRoot(tb, files)
	runtimeDir := tb.TempDir()
	if err := rt.WriteFiles(runtimeDir); err != nil {
		tb.Fatal(err)
	}
	return startRuntime(tb, rt.Command(runtimeDir, taskRoot), taskRoot, handler)
}

var hostRuntimes struct {
	once     sync.Once
	byFamily map[Family]Runtime
	errs     map[Family]error
}

// hostRuntime finds the Lambda runtime that matches the host's python3 or
// node, skipping the test where there is none.
func hostRuntime(tb testing.TB, family Family) Runtime {
	tb.Helper()
	hostRuntimes.once.Do(func() {
		hostRuntimes.byFamily = make(map[Family]Runtime)
		hostRuntimes.errs = make(map[Family]error)
		ctx := context.Background()
		for fam, probe := range map[Family][]string{
			FamilyPython: {"python3", "-c", `import sys; print("python%d.%d" % sys.version_info[:2])`},
			FamilyNodeJS: {"node", "-e", `console.log("nodejs" + process.versions.node.split(".")[0] + ".x")`},
		} {
			out, err := exec.CommandContext(ctx, probe[0], probe[1:]...).Output()
			if err != nil {
				hostRuntimes.errs[fam] = err
				continue
			}
			rt, err := NewCatalog().RuntimeFor(ctx, strings.TrimSpace(string(out)))
			if err != nil {
				hostRuntimes.errs[fam] = err
				continue
			}
			hostRuntimes.byFamily[fam] = rt
		}
	})
	rt, ok := hostRuntimes.byFamily[family]
	if !ok {
		var execErr *exec.Error
		if errors.As(hostRuntimes.errs[family], &execErr) {
			tb.Skipf("host has no %s interpreter: %v", family, hostRuntimes.errs[family])
		}
		tb.Fatalf("host %s runtime: %v", family, hostRuntimes.errs[family])
	}
	return rt
}

// writeTaskRoot writes a function's files into a fresh task root.
func writeTaskRoot(tb testing.TB, files map[string]string) string {
	tb.Helper()
	taskRoot := tb.TempDir()
	for name, content := range files {
		path := filepath.Join(taskRoot, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	return taskRoot
}

// contextInvocation is an invocation carrying the client context, Cognito
// identity and trace ID Lambda passes on, for the context tests.
func contextInvocation() Invocation {
	return Invocation{
		RequestID: newRequestID(), Payload: []byte(`{}`), FunctionARN: testFunctionARN, Timeout: 10 * time.Second,
		ClientContext:   `{"client":{"app_title":"shop"},"custom":{"k":"v"},"env":{}}`,
		CognitoIdentity: `{"cognitoIdentityId":"us-east-1:abc","cognitoIdentityPoolId":"us-east-1:pool"}`,
		TraceID:         "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1",
	}
}
