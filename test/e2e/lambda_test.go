package e2e

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"
)

const lambdaRole = "arn:aws:iam::000000000000:role/lambda-e2e"

// zipOf builds a deployment package; names ending in "bootstrap" are
// executable.
func zipOf(t *testing.T, files map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range files {
		h := &zip.FileHeader{Name: name, Method: zip.Deflate}
		h.SetMode(0o644)
		if strings.HasSuffix(name, "bootstrap") {
			h.SetMode(0o755)
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(body)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

const pythonHandler = `import os

def handler(event, context):
    print("hello from python", event.get("name"))
    if event.get("fail"):
        raise ValueError("asked to fail")
    if event.get("sleep"):
        import time
        time.sleep(event["sleep"])
    return {"echo": event, "function": context.function_name,
            "memory": context.memory_limit_in_mb, "greeting": os.environ.get("GREETING", "")}
`

const nodeHandler = `exports.handler = async (event, context) => {
  console.log("hello from node", event.name);
  return { echo: event, function: context.functionName };
};
`

// requireLambdaRuntimes skips unless real sandboxes and the host runtimes
// the tests use are here.
func requireLambdaRuntimes(t *testing.T, interpreters ...string) {
	t.Helper()
	requireRealSandboxes(t)
	for _, p := range interpreters {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("Lambda runtime test needs %s (make test installs python3 and nodejs)", p)
		}
	}
}

// goHelloZip builds the aws-lambda-go test function as a provided.al2023
// package.
func goHelloZip(t *testing.T) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "bootstrap")
	build := exec.Command("go", "build", "-o", out, "github.com/nimbus-dev/nimbus/internal/lambdart/testfunctions/gohello")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build gohello: %v\n%s", err, b)
	}
	bin, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return zipOf(t, map[string][]byte{"bootstrap": bin})
}

func lambdaClient(n *Nimbus) *lambda.Client { return lambda.NewFromConfig(n.cfg()) }

func logsClient(n *Nimbus) *cloudwatchlogs.Client { return cloudwatchlogs.NewFromConfig(n.cfg()) }

func createFunction(t *testing.T, c *lambda.Client, in *lambda.CreateFunctionInput) *lambda.CreateFunctionOutput {
	t.Helper()
	if in.Role == nil {
		in.Role = aws.String(lambdaRole)
	}
	out, err := c.CreateFunction(context.Background(), in)
	if err != nil {
		t.Fatalf("CreateFunction %s: %v", aws.ToString(in.FunctionName), err)
	}
	w := lambda.NewFunctionActiveV2Waiter(c, func(o *lambda.FunctionActiveV2WaiterOptions) {
		o.MinDelay, o.MaxDelay = 50*time.Millisecond, 200*time.Millisecond
	})
	if err := w.Wait(context.Background(), &lambda.GetFunctionInput{FunctionName: in.FunctionName}, 30*time.Second); err != nil {
		t.Fatalf("function %s never became Active: %v", aws.ToString(in.FunctionName), err)
	}
	return out
}

func invoke(t *testing.T, c *lambda.Client, in *lambda.InvokeInput) *lambda.InvokeOutput {
	t.Helper()
	out, err := c.Invoke(context.Background(), in)
	if err != nil {
		t.Fatalf("Invoke %s: %v", aws.ToString(in.FunctionName), err)
	}
	return out
}

func apiErrorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// One representative scenario with Debian's AWS CLI: create a Python
// function from a zip, wait for it, invoke it with its log tail, change its
// environment, wait for the update, invoke again, delete it.
func TestLambdaCLI(t *testing.T) {
	requireLambdaRuntimes(t, "/usr/bin/python3")
	n := startRealNimbus(t, "")
	dir := t.TempDir()
	zipPath := filepath.Join(dir, "fn.zip")
	os.WriteFile(zipPath, zipOf(t, map[string][]byte{"app.py": []byte(pythonHandler)}), 0o644)
	var created struct{ FunctionName, FunctionArn, Runtime, State string }
	if _, err := n.cli(t, &created, "lambda", "create-function", "--function-name", "cli-py",
		"--runtime", "python3.11", "--handler", "app.handler", "--role", lambdaRole,
		"--zip-file", "fileb://"+zipPath); err != nil {
		t.Fatal(err)
	}
	if created.FunctionArn != "arn:aws:lambda:us-east-1:000000000000:function:cli-py" {
		t.Errorf("FunctionArn = %q", created.FunctionArn)
	}
	if _, err := n.cli(t, nil, "lambda", "wait", "function-active-v2", "--function-name", "cli-py"); err != nil {
		t.Fatal(err)
	}
	outFile := filepath.Join(dir, "out.json")
	var inv struct {
		StatusCode      int
		LogResult       string
		ExecutedVersion string
		FunctionError   string
	}
	if _, err := n.cli(t, &inv, "lambda", "invoke", "--function-name", "cli-py",
		"--cli-binary-format", "raw-in-base64-out", "--payload", `{"name":"cli"}`,
		"--log-type", "Tail", outFile); err != nil {
		t.Fatal(err)
	}
	body, _ := os.ReadFile(outFile)
	var reply struct {
		Echo     map[string]any
		Function string
		Memory   string
	}
	if err := json.Unmarshal(body, &reply); err != nil {
		t.Fatalf("reply %q: %v", body, err)
	}
	if inv.StatusCode != 200 || inv.FunctionError != "" || inv.ExecutedVersion != "$LATEST" ||
		reply.Echo["name"] != "cli" || reply.Function != "cli-py" || reply.Memory != "128" {
		t.Errorf("invoke = %+v, reply %s", inv, body)
	}
	tail, _ := base64.StdEncoding.DecodeString(inv.LogResult)
	for _, want := range []string{"hello from python cli", "REPORT RequestId:", "Init Duration:", "Memory Size: 128 MB"} {
		if !strings.Contains(string(tail), want) {
			t.Errorf("log tail lacks %q:\n%s", want, tail)
		}
	}

	// The function's prints and the REPORT line reach CloudWatch Logs, where
	// the CLI filters them.
	var filtered struct {
		Events []struct{ Message, LogStreamName string }
	}
	deadline := time.Now().Add(20 * time.Second)
	for len(filtered.Events) == 0 && time.Now().Before(deadline) {
		if _, err := n.cli(t, &filtered, "logs", "filter-log-events", "--log-group-name", "/aws/lambda/cli-py",
			"--filter-pattern", `?"hello from python" ?REPORT`); err != nil {
			t.Fatal(err)
		}
		if len(filtered.Events) < 2 {
			filtered.Events = nil
			time.Sleep(300 * time.Millisecond)
		}
	}
	if len(filtered.Events) != 2 || !strings.Contains(filtered.Events[0].Message, "hello from python cli") ||
		!strings.HasPrefix(filtered.Events[1].Message, "REPORT RequestId:") || !strings.Contains(filtered.Events[0].LogStreamName, "/[$LATEST]") {
		t.Errorf("the function's log in CloudWatch Logs: %+v", filtered.Events)
	}
	if _, err := n.cli(t, nil, "lambda", "update-function-configuration", "--function-name", "cli-py",
		"--environment", "Variables={GREETING=hi}"); err != nil {
		t.Fatal(err)
	}
	if _, err := n.cli(t, nil, "lambda", "wait", "function-updated-v2", "--function-name", "cli-py"); err != nil {
		t.Fatal(err)
	}
	if _, err := n.cli(t, &inv, "lambda", "invoke", "--function-name", "cli-py",
		"--cli-binary-format", "raw-in-base64-out", "--payload", `{"name":"again"}`, outFile); err != nil {
		t.Fatal(err)
	}
	body, _ = os.ReadFile(outFile)
	if !strings.Contains(string(body), `"greeting": "hi"`) {
		t.Errorf("the updated environment is not seen: %s", body)
	}
	if _, err := n.cli(t, nil, "lambda", "delete-function", "--function-name", "cli-py"); err != nil {
		t.Fatal(err)
	}
	stderr, err := n.cli(t, nil, "lambda", "get-function", "--function-name", "cli-py")
	if err == nil || !strings.Contains(stderr, "ResourceNotFoundException") {
		t.Errorf("get-function after delete: %v %s", err, stderr)
	}
}

// Breadth with aws-sdk-go-v2 over real sandboxes: a Go (aws-lambda-go)
// function cold and warm, Node.js, function errors, timeouts, throttling,
// versions and aliases, and a function URL.
func TestLambdaSDK(t *testing.T) {
	requireLambdaRuntimes(t, "/usr/bin/python3", "/usr/bin/node")
	n := startRealNimbus(t, "")
	c := lambdaClient(n)
	ctx := context.Background()

	t.Run("go cold then warm", func(t *testing.T) {
		createFunction(t, c, &lambda.CreateFunctionInput{FunctionName: aws.String("go-hello"),
			Runtime: lambdatypes.RuntimeProvidedal2023, Handler: aws.String("bootstrap"),
			Code: &lambdatypes.FunctionCode{ZipFile: goHelloZip(t)}})
		for i, tail := range []bool{true, true} {
			in := &lambda.InvokeInput{FunctionName: aws.String("go-hello"), Payload: []byte(`{"message":"hi"}`)}
			if tail {
				in.LogType = lambdatypes.LogTypeTail
			}
			out := invoke(t, c, in)
			var r struct{ Message, RequestId, FunctionArn, Function string }
			json.Unmarshal(out.Payload, &r)
			if r.Message != "hi" || r.Function != "go-hello" || r.RequestId == "" ||
				r.FunctionArn != "arn:aws:lambda:us-east-1:000000000000:function:go-hello" {
				t.Errorf("invoke %d: %s", i, out.Payload)
			}
			log, _ := base64.StdEncoding.DecodeString(aws.ToString(out.LogResult))
			if cold := strings.Contains(string(log), "Init Duration"); cold != (i == 0) {
				t.Errorf("invoke %d: cold start reported %v:\n%s", i, cold, log)
			}
		}
		out := invoke(t, c, &lambda.InvokeInput{FunctionName: aws.String("go-hello"), Payload: []byte(`{"op":"error","message":"boom"}`)})
		if aws.ToString(out.FunctionError) != "Unhandled" || !strings.Contains(string(out.Payload), "boom") {
			t.Errorf("function error: %q %s", aws.ToString(out.FunctionError), out.Payload)
		}
	})

	t.Run("node", func(t *testing.T) {
		createFunction(t, c, &lambda.CreateFunctionInput{FunctionName: aws.String("node-hello"),
			Runtime: lambdatypes.RuntimeNodejs20x, Handler: aws.String("index.handler"),
			Code: &lambdatypes.FunctionCode{ZipFile: zipOf(t, map[string][]byte{"index.js": []byte(nodeHandler)})}})
		out := invoke(t, c, &lambda.InvokeInput{FunctionName: aws.String("node-hello"), Payload: []byte(`{"name":"n"}`)})
		if !strings.Contains(string(out.Payload), `"function":"node-hello"`) {
			t.Errorf("node reply: %s", out.Payload)
		}
	})

	t.Run("python errors and timeout", func(t *testing.T) {
		createFunction(t, c, &lambda.CreateFunctionInput{FunctionName: aws.String("py"),
			Runtime: lambdatypes.RuntimePython311, Handler: aws.String("app.handler"), Timeout: aws.Int32(1),
			Code: &lambdatypes.FunctionCode{ZipFile: zipOf(t, map[string][]byte{"app.py": []byte(pythonHandler)})}})
		out := invoke(t, c, &lambda.InvokeInput{FunctionName: aws.String("py"), Payload: []byte(`{"fail":true}`)})
		if aws.ToString(out.FunctionError) != "Unhandled" || !strings.Contains(string(out.Payload), `"errorType": "ValueError"`) &&
			!strings.Contains(string(out.Payload), `"errorType":"ValueError"`) {
			t.Errorf("python error: %q %s", aws.ToString(out.FunctionError), out.Payload)
		}
		out = invoke(t, c, &lambda.InvokeInput{FunctionName: aws.String("py"), Payload: []byte(`{"sleep":3}`)})
		if aws.ToString(out.FunctionError) != "Unhandled" || !strings.Contains(string(out.Payload), "Task timed out after 1.00 seconds") {
			t.Errorf("timeout: %q %s", aws.ToString(out.FunctionError), out.Payload)
		}
		// The sandbox that timed out is gone; the next invoke works.
		out = invoke(t, c, &lambda.InvokeInput{FunctionName: aws.String("py"), Payload: []byte(`{"name":"after"}`)})
		if out.FunctionError != nil || !strings.Contains(string(out.Payload), "after") {
			t.Errorf("invoke after a timeout: %s", out.Payload)
		}
		_, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("py"), Payload: []byte(`{not json`)})
		if apiErrorCode(err) != "InvalidRequestContentException" {
			t.Errorf("bad payload: %v", err)
		}
		_, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("nope")})
		if apiErrorCode(err) != "ResourceNotFoundException" {
			t.Errorf("missing function: %v", err)
		}
	})

	t.Run("throttling", func(t *testing.T) {
		if _, err := c.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("py"),
			ReservedConcurrentExecutions: aws.Int32(0)}); err != nil {
			t.Fatal(err)
		}
		_, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("py"), Payload: []byte(`{}`)})
		var tm *lambdatypes.TooManyRequestsException
		if !errors.As(err, &tm) || tm.Reason != lambdatypes.ThrottleReasonReservedFunctionConcurrentInvocationLimitExceeded {
			t.Errorf("reserved 0: %v", err)
		}
		if _, err := c.DeleteFunctionConcurrency(ctx, &lambda.DeleteFunctionConcurrencyInput{FunctionName: aws.String("py")}); err != nil {
			t.Fatal(err)
		}
		invoke(t, c, &lambda.InvokeInput{FunctionName: aws.String("py"), Payload: []byte(`{}`)})
	})

	t.Run("versions and aliases", func(t *testing.T) {
		v1, err := c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("py")})
		if err != nil || aws.ToString(v1.Version) != "1" {
			t.Fatalf("publish: %v %v", v1, err)
		}
		if _, err := c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("py"),
			Environment: &lambdatypes.Environment{Variables: map[string]string{"GREETING": "v2"}}}); err != nil {
			t.Fatal(err)
		}
		w := lambda.NewFunctionUpdatedV2Waiter(c, func(o *lambda.FunctionUpdatedV2WaiterOptions) {
			o.MinDelay, o.MaxDelay = 50*time.Millisecond, 200*time.Millisecond
		})
		if err := w.Wait(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("py")}, 30*time.Second); err != nil {
			t.Fatal(err)
		}
		v2, err := c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("py")})
		if err != nil || aws.ToString(v2.Version) != "2" {
			t.Fatalf("publish 2: %v %v", v2, err)
		}
		if _, err := c.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("py"), Name: aws.String("live"),
			FunctionVersion: aws.String("1")}); err != nil {
			t.Fatal(err)
		}
		out := invoke(t, c, &lambda.InvokeInput{FunctionName: aws.String("py"), Qualifier: aws.String("live"), Payload: []byte(`{}`)})
		if aws.ToString(out.ExecutedVersion) != "1" || strings.Contains(string(out.Payload), "v2") {
			t.Errorf("alias live -> 1 ran %q: %s", aws.ToString(out.ExecutedVersion), out.Payload)
		}
		out = invoke(t, c, &lambda.InvokeInput{FunctionName: aws.String("py:2"), Payload: []byte(`{}`)})
		if aws.ToString(out.ExecutedVersion) != "2" || !strings.Contains(string(out.Payload), "v2") {
			t.Errorf("py:2 ran %q: %s", aws.ToString(out.ExecutedVersion), out.Payload)
		}
		vs, err := c.ListVersionsByFunction(ctx, &lambda.ListVersionsByFunctionInput{FunctionName: aws.String("py")})
		if err != nil || len(vs.Versions) != 3 {
			t.Errorf("versions: %v %v", vs, err)
		}
	})

	t.Run("function url", func(t *testing.T) {
		cfg, err := c.CreateFunctionUrlConfig(ctx, &lambda.CreateFunctionUrlConfigInput{FunctionName: aws.String("node-hello"),
			AuthType: lambdatypes.FunctionUrlAuthTypeNone})
		if err != nil {
			t.Fatal(err)
		}
		// As on AWS, a URL of AuthType NONE answers only when the
		// function's policy lets everyone invoke it.
		req0, _ := http.NewRequest(http.MethodGet, n.URL+"/", nil)
		u0, _ := url.Parse(aws.ToString(cfg.FunctionUrl))
		req0.Host = u0.Host
		if resp, err := http.DefaultClient.Do(req0); err != nil || resp.StatusCode != http.StatusForbidden {
			t.Errorf("URL without a public permission: %v %v", resp, err)
		} else {
			resp.Body.Close()
		}
		if _, err := c.AddPermission(ctx, &lambda.AddPermissionInput{FunctionName: aws.String("node-hello"),
			StatementId: aws.String("public-url"), Action: aws.String("lambda:InvokeFunctionUrl"), Principal: aws.String("*"),
			FunctionUrlAuthType: lambdatypes.FunctionUrlAuthTypeNone}); err != nil {
			t.Fatal(err)
		}
		u, err := url.Parse(aws.ToString(cfg.FunctionUrl))
		if err != nil || !strings.Contains(u.Host, ".lambda-url.us-east-1.") {
			t.Fatalf("FunctionUrl %q: %v", aws.ToString(cfg.FunctionUrl), err)
		}
		req, _ := http.NewRequest(http.MethodPost, n.URL+"/path/x?q=1", strings.NewReader(`{"name":"url"}`))
		req.Host = u.Host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		// The handler echoes the payload format 2.0 event it got.
		var reply struct {
			Echo struct {
				Version, RawPath, RawQueryString, Body string
				RequestContext                         struct{ HTTP struct{ Method string } }
			}
		}
		json.Unmarshal(body, &reply)
		if resp.StatusCode != 200 || reply.Echo.Version != "2.0" || reply.Echo.RawPath != "/path/x" ||
			reply.Echo.RawQueryString != "q=1" || reply.Echo.RequestContext.HTTP.Method != "POST" {
			t.Errorf("function URL: %d %s", resp.StatusCode, body)
		}
	})
}

// Event invocations are acknowledged only once queued durably: a kill -9
// right after the 202s loses none of them, and the restarted nimbus runs
// each, as the function's log in CloudWatch Logs shows.
func TestLambdaAsyncSurvivesKill(t *testing.T) {
	requireLambdaRuntimes(t, "/usr/bin/python3")
	dataDir := t.TempDir()
	n := startRealNimbus(t, dataDir)
	c := lambdaClient(n)
	ctx := context.Background()
	createFunction(t, c, &lambda.CreateFunctionInput{FunctionName: aws.String("async-py"),
		Runtime: lambdatypes.RuntimePython311, Handler: aws.String("app.handler"),
		Code: &lambdatypes.FunctionCode{ZipFile: zipOf(t, map[string][]byte{"app.py": []byte(pythonHandler)})}})
	names := []string{"ev-one", "ev-two", "ev-three"}
	for _, name := range names {
		out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("async-py"),
			InvocationType: lambdatypes.InvocationTypeEvent, Payload: []byte(`{"name":"` + name + `","sleep":0.5}`)})
		if err != nil || out.StatusCode != 202 {
			t.Fatalf("Event invoke: %v %v", out, err)
		}
	}
	n.Kill()
	n = startRealNimbus(t, dataDir)
	logs := logsClient(n)
	deadline := time.Now().Add(60 * time.Second)
	for {
		seen := map[string]bool{}
		out, err := logs.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{
			LogGroupName: aws.String("/aws/lambda/async-py"), FilterPattern: aws.String(`"hello from python"`)})
		if err == nil {
			for _, e := range out.Events {
				for _, name := range names {
					if strings.Contains(aws.ToString(e.Message), name) {
						seen[name] = true
					}
				}
			}
		}
		if len(seen) == len(names) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after a kill -9 only %v of %v ran (last error %v)", seen, names, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// A failing Event invocation is retried twice (AWS's default) after the
// retry delay, or as often as the function's event invoke config says.
func TestLambdaAsyncRetries(t *testing.T) {
	requireLambdaRuntimes(t, "/usr/bin/python3")
	n := startRealNimbus(t, "", "--lambda-retry-delay", "200ms")
	c := lambdaClient(n)
	ctx := context.Background()
	for _, name := range []string{"fails-default", "fails-once"} {
		createFunction(t, c, &lambda.CreateFunctionInput{FunctionName: aws.String(name),
			Runtime: lambdatypes.RuntimePython311, Handler: aws.String("app.handler"),
			Code: &lambdatypes.FunctionCode{ZipFile: zipOf(t, map[string][]byte{"app.py": []byte(pythonHandler)})}})
	}
	if _, err := c.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{FunctionName: aws.String("fails-once"),
		MaximumRetryAttempts: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"fails-default", "fails-once"} {
		if _, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(name), InvocationType: lambdatypes.InvocationTypeEvent,
			Payload: []byte(`{"name":"` + name + `","fail":true}`)}); err != nil {
			t.Fatal(err)
		}
	}
	logs := logsClient(n)
	attempts := func(name string) int {
		out, err := logs.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String("/aws/lambda/" + name),
			FilterPattern: aws.String(`"hello from python"`)})
		if err != nil {
			return 0
		}
		return len(out.Events)
	}
	deadline := time.Now().Add(45 * time.Second)
	for attempts("fails-default") < 3 || attempts("fails-once") < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("attempts: default %d (want 3), once %d (want 2)", attempts("fails-default"), attempts("fails-once"))
		}
		time.Sleep(200 * time.Millisecond)
	}
	// And no more: the second retry waits 400 ms, so give a stray one time.
	time.Sleep(1500 * time.Millisecond)
	if a, b := attempts("fails-default"), attempts("fails-once"); a != 3 || b != 2 {
		t.Errorf("attempts after the retries: default %d, once %d", a, b)
	}
}

const rubyHandler = `require 'securerandom'

def lambda_handler(event:, context:)
  raise ArgumentError, "bad input #{event['fail']}" if event['fail']
  puts "hello from ruby #{RUBY_VERSION}"
  { 'echo' => event, 'function' => context.function_name, 'memory' => context.memory_limit_in_mb,
    'uuid' => SecureRandom.uuid.size }
end
`

const javaHandler = `package example;

import java.util.HashMap;
import java.util.Map;
import java.util.UUID;

public class Hello {
    public Map<String, Object> handleRequest(Map<String, Object> event) {
        if (event.containsKey("fail")) {
            throw new IllegalStateException("no " + event.get("fail"));
        }
        Map<String, Object> out = new HashMap<>();
        out.put("echo", event);
        out.put("uuid", UUID.randomUUID().toString().length());
        out.put("java", System.getProperty("java.specification.version"));
        return out;
    }
}
`

// javaHelloZip compiles javaHandler with the host's javac into a
// deployment package of class files.
func javaHelloZip(t *testing.T, javac string) []byte {
	t.Helper()
	src := filepath.Join(t.TempDir(), "example")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "Hello.java"), []byte(javaHandler), 0o644); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	if b, err := exec.Command(javac, "--release", "17", "-d", out, filepath.Join(src, "Hello.java")).CombinedOutput(); err != nil {
		t.Fatalf("javac: %v\n%s", err, b)
	}
	class, err := os.ReadFile(filepath.Join(out, "example", "Hello.class"))
	if err != nil {
		t.Fatal(err)
	}
	return zipOf(t, map[string][]byte{"example/Hello.class": class})
}

// TestLambdaRubyAndJava runs a ruby3.3 and a java17 function through the
// SDK on runc: answers with the Lambda context, and each runtime's error
// document for an exception.
func TestLambdaRubyAndJava(t *testing.T) {
	requireLambdaRuntimes(t)
	n := startRealNimbus(t, "")
	c := lambdaClient(n)

	t.Run("ruby", func(t *testing.T) {
		if _, err := exec.LookPath("ruby"); err != nil {
			t.Skip("ruby3.x functions need the host's Ruby (make test installs Debian's ruby)")
		}
		createFunction(t, c, &lambda.CreateFunctionInput{FunctionName: aws.String("rb"), MemorySize: aws.Int32(512),
			Runtime: lambdatypes.RuntimeRuby33, Handler: aws.String("lambda_function.lambda_handler"),
			Code: &lambdatypes.FunctionCode{ZipFile: zipOf(t, map[string][]byte{"lambda_function.rb": []byte(rubyHandler)})}})
		out := invoke(t, c, &lambda.InvokeInput{FunctionName: aws.String("rb"), Payload: []byte(`{"name":"r"}`),
			LogType: lambdatypes.LogTypeTail})
		var r struct {
			Echo     map[string]string
			Function string
			Memory   string
			UUID     int
		}
		if err := json.Unmarshal(out.Payload, &r); err != nil || out.FunctionError != nil || r.Echo["name"] != "r" ||
			r.Function != "rb" || r.Memory != "512" || r.UUID != 36 {
			t.Errorf("ruby reply: %s (%v, %q)", out.Payload, err, aws.ToString(out.FunctionError))
		}
		if log, _ := base64.StdEncoding.DecodeString(aws.ToString(out.LogResult)); !strings.Contains(string(log), "hello from ruby 3.") {
			t.Errorf("ruby log tail:\n%s", log)
		}
		out = invoke(t, c, &lambda.InvokeInput{FunctionName: aws.String("rb"), Payload: []byte(`{"fail":"x"}`)})
		var e struct{ ErrorMessage, ErrorType string }
		if json.Unmarshal(out.Payload, &e); aws.ToString(out.FunctionError) != "Unhandled" ||
			e.ErrorType != "Function<ArgumentError>" || e.ErrorMessage != "bad input x" {
			t.Errorf("ruby error: %q %s", aws.ToString(out.FunctionError), out.Payload)
		}
	})

	t.Run("java", func(t *testing.T) {
		javac, err := exec.LookPath("javac")
		if err != nil {
			t.Skip("java17 functions need a JDK 17 (make test installs Debian's openjdk-17-jdk-headless)")
		}
		createFunction(t, c, &lambda.CreateFunctionInput{FunctionName: aws.String("jv"), MemorySize: aws.Int32(1024),
			Runtime: lambdatypes.RuntimeJava17, Handler: aws.String("example.Hello::handleRequest"), Timeout: aws.Int32(30),
			Code: &lambdatypes.FunctionCode{ZipFile: javaHelloZip(t, javac)}})
		out := invoke(t, c, &lambda.InvokeInput{FunctionName: aws.String("jv"), Payload: []byte(`{"name":"j"}`)})
		var r struct {
			Echo map[string]string
			UUID int
			Java string
		}
		if err := json.Unmarshal(out.Payload, &r); err != nil || out.FunctionError != nil || r.Echo["name"] != "j" || r.UUID != 36 || r.Java != "17" {
			t.Errorf("java reply: %s (%v, %q)", out.Payload, err, aws.ToString(out.FunctionError))
		}
		out = invoke(t, c, &lambda.InvokeInput{FunctionName: aws.String("jv"), Payload: []byte(`{"fail":"y"}`)})
		var e struct{ ErrorMessage, ErrorType string }
		if json.Unmarshal(out.Payload, &e); aws.ToString(out.FunctionError) != "Unhandled" ||
			e.ErrorType != "java.lang.IllegalStateException" || e.ErrorMessage != "no y" {
			t.Errorf("java error: %q %s", aws.ToString(out.FunctionError), out.Payload)
		}
	})
}
