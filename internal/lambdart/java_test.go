package lambdart

import (
	"archive/zip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// javaFixture is what the Java tests share, built once per test binary
// because javac takes seconds: each host Java runtime with its compiled
// bootstrap, and one task root holding every test handler.
var javaFixture struct {
	once        sync.Once
	dir         string            // removed by TestMain
	runtimes    []Runtime         // java17, java21, java25 as the host has them
	runtimeDirs map[string]string // by runtime name
	taskRoot    string
	skip        string
	err         error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if javaFixture.dir != "" {
		_ = os.RemoveAll(javaFixture.dir)
	}
	os.Exit(code)
}

// hostJava builds the Java fixture, skipping where the host has no JDK.
func hostJava(tb testing.TB) (runtimes []Runtime, taskRoot string) {
	tb.Helper()
	javaFixture.once.Do(func() {
		ctx := context.Background()
		cat := NewCatalog()
		for _, name := range []string{"java17", "java21", "java25"} {
			if rt, err := cat.RuntimeFor(ctx, name); err == nil {
				javaFixture.runtimes = append(javaFixture.runtimes, rt)
			}
		}
		if len(javaFixture.runtimes) == 0 {
			javaFixture.skip = "host has no JDK 17, 21 or 25 with a javac (Debian: apt-get install openjdk-17-jdk-headless)"
			return
		}
		javaFixture.err = buildJavaFixture()
	})
	if javaFixture.skip != "" {
		tb.Skip(javaFixture.skip)
	}
	if javaFixture.err != nil {
		tb.Fatal(javaFixture.err)
	}
	return javaFixture.runtimes, javaFixture.taskRoot
}

func buildJavaFixture() error {
	dir, err := os.MkdirTemp("", "lambdart-java-")
	if err != nil {
		return err
	}
	javaFixture.dir = dir
	javaFixture.runtimeDirs = map[string]string{}
	for _, rt := range javaFixture.runtimes {
		rtDir := filepath.Join(dir, "runtime-"+rt.Name)
		if err := rt.WriteFiles(rtDir); err != nil {
			return err
		}
		javaFixture.runtimeDirs[rt.Name] = rtDir
	}
	// The test function as a zip would unpack it: the handlers' classes at
	// the root, aws-lambda-java-core (a stand-in) in lib/, and a fat jar at
	// the root.
	classes := filepath.Join(dir, "classes")
	var sources []string
	err = filepath.WalkDir("testfunctions/java", func(path string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(path, ".java") {
			sources = append(sources, path)
		}
		return err
	})
	if err != nil {
		return err
	}
	javac := javaFixture.runtimes[0].Compiler
	args := append([]string{"--release", "17", "-d", classes}, sources...)
	if out, err := exec.Command(javac, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("javac test function: %w\n%s", err, out)
	}
	taskRoot := filepath.Join(dir, "task")
	if err := os.MkdirAll(filepath.Join(taskRoot, "lib"), 0o755); err != nil {
		return err
	}
	if err := os.Rename(filepath.Join(classes, "example"), filepath.Join(taskRoot, "example")); err != nil {
		return err
	}
	if err := writeJar(filepath.Join(taskRoot, "lib", "aws-lambda-java-core-1.2.3.jar"), classes, "com"); err != nil {
		return err
	}
	if err := writeJar(filepath.Join(taskRoot, "packed-all.jar"), classes, "fat"); err != nil {
		return err
	}
	javaFixture.taskRoot = taskRoot
	return nil
}

// writeJar zips the tree under root/top into a jar (a zip; no manifest
// needed on a classpath).
func writeJar(jarPath, root, top string) error {
	f, err := os.Create(jarPath)
	if err != nil {
		return err
	}
	zw := zip.NewWriter(f)
	err = filepath.WalkDir(filepath.Join(root, top), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		w, err := zw.Create(filepath.ToSlash(rel))
		if err != nil {
			return err
		}
		src, err := os.Open(path)
		if err != nil {
			return err
		}
		defer src.Close()
		_, err = io.Copy(w, src)
		return err
	})
	if cerr := zw.Close(); err == nil {
		err = cerr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func startJava(tb testing.TB, rt Runtime, taskRoot, handler string) *runtimeProc {
	tb.Helper()
	return startRuntime(tb, rt.Command(javaFixture.runtimeDirs[rt.Name], taskRoot), taskRoot, handler)
}

// jsonEqual compares two JSON documents by value: a bean's properties come
// in no particular order.
func jsonEqual(a, b []byte) bool {
	var va, vb any
	return json.Unmarshal(a, &va) == nil && json.Unmarshal(b, &vb) == nil && reflect.DeepEqual(va, vb)
}

func TestJavaHandlers(t *testing.T) {
	runtimes, taskRoot := hostJava(t)
	order := `{"id":"o-1","quantity":10,"unknown":true,"lines":[{"sku":"a","price":1.5},{"sku":"b","price":2}]}`
	for _, rt := range runtimes {
		t.Run(rt.Name, func(t *testing.T) {
			for _, tc := range []struct {
				name, handler, payload, want string
			}{
				{"bean in, bean out", "example.Orders::place", order, `{"orderId":"o-1","total":35.0,"bulk":true}`},
				{"record out", "example.Orders::summarize", order, `{"id":"o-1","lines":2}`},
				{"string in, context typed Object", "example.Orders::shout", `"hi"`, `"HI (no context)"`},
				{"static method, boxed number", "example.Orders::twice", `21`, `42`},
				{"stream handler", "example.Orders::echo", `{"n":1}`, `{"bytes":7,"fn":"hello"}`},
				{"class in a jar at the root", "fat.Packed::count", `[1,2,3]`, `6`},
				{"bytes as base64", "example.Orders::reverse", `"AQID"`, `"AwIB"`},
				{"value types as strings", "example.Orders::schedule",
					`{"id":"0f8fad5b-d9cb-469f-a165-70867728950e","day":"2026-02-28","callback":"https://example.com/cb"}`,
					`{"id":"0f8fad5b-d9cb-469f-a165-70867728950e","next":"2026-03-01","host":"example.com","window":"PT1H30M",` +
						`"note":"leave at door","missing":null,"at":1700000000000}`},
			} {
				t.Run(tc.name, func(t *testing.T) {
					p := startJava(t, rt, taskRoot, tc.handler)
					for i := 0; i < 2; i++ { // twice: the second on a warm runtime
						res := p.mustInvoke(t, tc.payload)
						if res.FunctionError != "" || !jsonEqual(res.Payload, []byte(tc.want)) {
							t.Fatalf("invoke %d: %q %s; want %s\n%s", i, res.FunctionError, res.Payload, tc.want, p.out)
						}
					}
				})
			}
		})
	}
}

func TestJavaRequestHandlerContext(t *testing.T) {
	runtimes, taskRoot := hostJava(t)
	p := startJava(t, runtimes[0], taskRoot, "example.Hello")
	res, err := p.sess.Invoke(t.Context(), Invocation{
		RequestID: newRequestID(), Payload: []byte(`{"a":[1,"two",null,{"b":false}]}`), FunctionARN: testFunctionARN,
		Timeout:         10 * time.Second,
		ClientContext:   `{"client":{"app_title":"shop"},"custom":{"k":"v"},"env":{"locale":"en"}}`,
		CognitoIdentity: `{"cognitoIdentityId":"us-east-1:abc","cognitoIdentityPoolId":"us-east-1:pool"}`,
		TenantID:        "tenant-7",
	})
	if err != nil {
		t.Fatalf("invoke: %v\n%s", err, p.out)
	}
	var got map[string]any
	if err := json.Unmarshal(res.Payload, &got); err != nil || res.FunctionError != "" {
		t.Fatalf("invoke: %q %s (%v)\n%s", res.FunctionError, res.Payload, err, p.out)
	}
	if ev, _ := json.Marshal(got["event"]); string(ev) != `{"a":[1,"two",null,{"b":false}]}` {
		t.Errorf("event came back as %s", ev)
	}
	want := map[string]any{
		"functionName": "hello", "functionVersion": "$LATEST", "arn": testFunctionARN, "memory": float64(128),
		"logGroup": "/aws/lambda/hello", "logStream": "2026/01/01/[$LATEST]0123456789abcdef",
		"tenant": "tenant-7", "describe": "hello/$LATEST", // a default method of the user's Context runs as written
		"identityId": "us-east-1:abc", "identityPool": "us-east-1:pool", "appTitle": "shop",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("context %s = %v; want %v", k, got[k], v)
		}
	}
	if c, _ := got["custom"].(map[string]any); c["k"] != "v" {
		t.Errorf("client context custom = %v", got["custom"])
	}
	if e, _ := got["env"].(map[string]any); e["locale"] != "en" {
		t.Errorf("client context environment = %v", got["env"])
	}
	id, _ := got["requestId"].(string)
	if !strings.HasPrefix(id, "8476a536-") {
		t.Errorf("requestId %v", got["requestId"])
	}
	if rem, _ := got["remaining"].(float64); rem <= 5000 || rem > 10000 {
		t.Errorf("getRemainingTimeInMillis = %v; want within the 10 s timeout", got["remaining"])
	}
	if out := p.waitOutput("hello from java "+id+"\n", 5*time.Second); out != "" {
		t.Errorf("the LambdaLogger line is not in the log:\n%s", out)
	}
}

func TestJavaErrors(t *testing.T) {
	runtimes, taskRoot := hostJava(t)
	t.Run("exception", func(t *testing.T) {
		p := startJava(t, runtimes[0], taskRoot, "example.Orders::fail")
		res := p.mustInvoke(t, `{"order":"o-42"}`)
		if res.FunctionError != "Unhandled" || res.ErrorType != "java.lang.IllegalStateException" {
			t.Fatalf("result %q %q %s; want an Unhandled java.lang.IllegalStateException\n%s", res.FunctionError, res.ErrorType, res.Payload, p.out)
		}
		var doc struct {
			ErrorDocument
			Cause *ErrorDocument `json:"cause"`
		}
		if err := json.Unmarshal(res.Payload, &doc); err != nil {
			t.Fatal(err)
		}
		if doc.ErrorType != "java.lang.IllegalStateException" || doc.ErrorMessage != "no such order: o-42" {
			t.Errorf("document %s", res.Payload)
		}
		if len(doc.StackTrace) != 2 || !strings.HasPrefix(doc.StackTrace[0], "example.Orders.check(Orders.java:") ||
			!strings.HasPrefix(doc.StackTrace[1], "example.Orders.fail(Orders.java:") {
			t.Errorf("stack trace %q; want the function's two frames only", doc.StackTrace)
		}
		if doc.Cause == nil || doc.Cause.ErrorType != "java.lang.IllegalArgumentException" || doc.Cause.ErrorMessage != "bad id" {
			t.Errorf("cause %+v", doc.Cause)
		}
		if out := p.waitOutput(`"errorType":"java.lang.IllegalStateException"`, 5*time.Second); out != "" {
			t.Errorf("log lacks the error document:\n%s", out)
		}
		// Still warm after a handled error.
		if res := p.mustInvoke(t, `{"order":"o-43"}`); !strings.Contains(string(res.Payload), "o-43") {
			t.Errorf("second invoke %q %s", res.FunctionError, res.Payload)
		}
	})
	t.Run("stack overflow ends the runtime", func(t *testing.T) {
		p := startJava(t, runtimes[0], taskRoot, "example.Orders::recurse")
		res := p.mustInvoke(t, `0`)
		if res.FunctionError != "Unhandled" || res.ErrorType != "java.lang.StackOverflowError" {
			t.Fatalf("result %q %q %.300s", res.FunctionError, res.ErrorType, res.Payload)
		}
		p.waitExit(t) // a JVM out of stack or memory is not trusted again
	})
	t.Run("event of the wrong type", func(t *testing.T) {
		p := startJava(t, runtimes[0], taskRoot, "example.Orders::twice")
		res := p.mustInvoke(t, `{"n":21}`)
		if res.FunctionError != "Unhandled" || res.ErrorType != "java.lang.RuntimeException" ||
			!strings.Contains(string(res.Payload), "An error occurred during JSON parsing") {
			t.Fatalf("result %q %q %s", res.FunctionError, res.ErrorType, res.Payload)
		}
		if res := p.mustInvoke(t, `21`); string(res.Payload) != "42" {
			t.Errorf("invoke after the bad event: %s", res.Payload)
		}
	})
}

func TestJavaInitErrors(t *testing.T) {
	runtimes, taskRoot := hostJava(t)
	for _, tc := range []struct {
		name, handler, wantType, wantMessage string
	}{
		{"missing class", "example.Nope", "java.lang.ClassNotFoundException", "Class not found: example.Nope"},
		{"missing method", "example.Orders::nothere", "java.lang.NoSuchMethodException",
			"No public method named nothere with appropriate method signature found on class example.Orders"},
		{"class initializer throws", "example.BadInit", "java.lang.IllegalStateException", "no config: TABLE_NAME unset"},
		{"malformed handler", "example.Orders::", "java.lang.IllegalArgumentException", "Invalid handler"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startJava(t, runtimes[0], taskRoot, tc.handler)
			var ie *InitError
			if err := p.sess.WaitReady(t.Context()); !errors.As(err, &ie) {
				t.Fatalf("WaitReady = %v; want *InitError\n%s", err, p.out)
			}
			if ie.ErrorType != tc.wantType || !strings.Contains(string(ie.Payload()), tc.wantMessage) {
				t.Errorf("init error %s %s; want %s containing %q", ie.ErrorType, ie.Payload(), tc.wantType, tc.wantMessage)
			}
			p.waitExit(t)
		})
	}
}

func TestJavaBootstrapCompiledOnce(t *testing.T) {
	runtimes, _ := hostJava(t)
	rt := runtimes[0]
	dir := javaFixture.runtimeDirs[rt.Name]
	class := filepath.Join(dir, "NimbusBootstrap.class")
	before, err := os.Stat(class)
	if err != nil {
		t.Fatal(err)
	}
	// A second WriteFiles (a nimbus restart) finds the classes current.
	start := time.Now()
	if err := rt.WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	after, err := os.Stat(class)
	if err != nil {
		t.Fatal(err)
	}
	if !after.ModTime().Equal(before.ModTime()) {
		t.Errorf("bootstrap recompiled (%v): mtime %v -> %v", time.Since(start), before.ModTime(), after.ModTime())
	}
	// Classes from another source or javac are rebuilt.
	other := t.TempDir()
	if err := os.CopyFS(other, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(other, javaStampFile), []byte("stale\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	stale := time.Now().Add(-time.Hour)
	if err := os.Chtimes(filepath.Join(other, "NimbusBootstrap.class"), stale, stale); err != nil {
		t.Fatal(err)
	}
	if err := rt.WriteFiles(other); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(other, "NimbusBootstrap.class")); err != nil || !fi.ModTime().After(stale) {
		t.Errorf("stale bootstrap not rebuilt: %v %v", fi.ModTime(), err)
	}
}
