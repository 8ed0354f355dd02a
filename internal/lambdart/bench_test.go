package lambdart

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// benchWarmInvoke measures one warm invoke round trip: Invoke hands the
// event to a runtime blocked in /next, the runtime runs the handler and
// posts its response, Invoke returns. It reports p50 and p99 besides the
// mean.
func benchWarmInvoke(b *testing.B, p *runtimeProc, payload string) {
	p.waitReady(b)
	p.mustInvoke(b, payload) // the first invoke warms the handler's code paths
	ids := make([]string, b.N)
	for i := range ids {
		ids[i] = newRequestID()
	}
	lat := make([]time.Duration, 0, b.N)
	ctx := b.Context()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		res, err := p.sess.Invoke(ctx, Invocation{
			RequestID: ids[i], Payload: []byte(payload), FunctionARN: testFunctionARN, Timeout: 10 * time.Second,
		})
		lat = append(lat, time.Since(start))
		if err != nil || res.FunctionError != "" {
			b.Fatalf("invoke: %v %+v", err, res)
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

func BenchmarkWarmInvokeGo(b *testing.B) {
	benchWarmInvoke(b, startGoFunction(b), `{"message":"hi"}`)
}

func BenchmarkWarmInvokePython(b *testing.B) {
	p := startInterpreted(b, FamilyPython, "app.handler", map[string]string{
		"app.py": "def handler(event, context):\n    return {'message': event['message']}\n",
	})
	benchWarmInvoke(b, p, `{"message":"hi"}`)
}

func BenchmarkWarmInvokeNode(b *testing.B) {
	p := startInterpreted(b, FamilyNodeJS, "index.handler", map[string]string{
		"index.js": "exports.handler = async (event) => ({ message: event.message });",
	})
	benchWarmInvoke(b, p, `{"message":"hi"}`)
}

// benchColdStart measures a cold start: from starting the runtime process
// to the answer of its first invoke, the session and its loopback listener
// included. Each iteration runs a fresh process and kills it after.
func benchColdStart(b *testing.B, argv []string, taskRoot, handler, payload string) {
	lat := make([]time.Duration, 0, b.N)
	ctx := b.Context()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		sess := NewSession(WithStartTime(start))
		ln, err := ListenLoopback(ctx, sess)
		if err != nil {
			b.Fatal(err)
		}
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Env = lambdaEnv(ln.Addr(), taskRoot, handler)
		cmd.Dir = taskRoot
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		res, err := sess.Invoke(ctx, Invocation{
			RequestID: newRequestID(), Payload: []byte(payload), FunctionARN: testFunctionARN, Timeout: 10 * time.Second,
		})
		lat = append(lat, time.Since(start))
		b.StopTimer()
		_ = cmd.Process.Kill()
		_ = cmd.Wait() // killed: its status says so
		sess.Close()
		if cerr := ln.Close(ctx); cerr != nil {
			b.Fatal(cerr)
		}
		if err != nil || res.FunctionError != "" {
			b.Fatalf("cold invoke: %v %+v", err, res)
		}
		b.StartTimer()
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
}

// coldStartFiles writes a function's files into a task root, and the
// runtime's bootstrap, returning the runtime's command.
func coldStartFiles(b *testing.B, family Family, files map[string]string) (argv []string, taskRoot string) {
	rt := hostRuntime(b, family)
	taskRoot = b.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(taskRoot, name), []byte(content), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	runtimeDir := b.TempDir()
	if err := rt.WriteFiles(runtimeDir); err != nil {
		b.Fatal(err)
	}
	return rt.Command(runtimeDir, taskRoot), taskRoot
}

func BenchmarkColdStartGo(b *testing.B) {
	taskRoot := b.TempDir()
	data, err := os.ReadFile(goHelloBinary(b))
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(taskRoot, "bootstrap"), data, 0o755); err != nil {
		b.Fatal(err)
	}
	benchColdStart(b, []string{filepath.Join(taskRoot, "bootstrap")}, taskRoot, "bootstrap", `{"message":"hi"}`)
}

func BenchmarkColdStartPython(b *testing.B) {
	argv, taskRoot := coldStartFiles(b, FamilyPython, map[string]string{
		"app.py": "def handler(event, context):\n    return {'message': event['message']}\n",
	})
	benchColdStart(b, argv, taskRoot, "app.handler", `{"message":"hi"}`)
}

func BenchmarkColdStartNode(b *testing.B) {
	argv, taskRoot := coldStartFiles(b, FamilyNodeJS, map[string]string{
		"index.js": "exports.handler = async (event) => ({ message: event.message });",
	})
	benchColdStart(b, argv, taskRoot, "index.handler", `{"message":"hi"}`)
}

const rbBenchFunction = "def handler(event:, context:)\n  { 'message' => event['message'] }\nend\n"

func BenchmarkWarmInvokeRuby(b *testing.B) {
	benchWarmInvoke(b, startRuby(b, "function.handler", map[string]string{"function.rb": rbBenchFunction}), `{"message":"hi"}`)
}

func BenchmarkWarmInvokeJava(b *testing.B) {
	runtimes, taskRoot := hostJava(b)
	benchWarmInvoke(b, startJava(b, runtimes[0], taskRoot, "example.Hello"), `{"message":"hi"}`)
}

func BenchmarkColdStartRuby(b *testing.B) {
	rt := hostRubyRuntime(b)
	taskRoot := writeTaskRoot(b, map[string]string{"function.rb": rbBenchFunction})
	runtimeDir := b.TempDir()
	if err := rt.WriteFiles(runtimeDir); err != nil {
		b.Fatal(err)
	}
	benchColdStart(b, rt.Command(runtimeDir, taskRoot), taskRoot, "function.handler", `{"message":"hi"}`)
}

// BenchmarkColdStartJava starts each JVM the host has for a Lambda Java
// runtime with the bootstrap already compiled, as every cold start but the
// first after nimbus's data directory was made does.
func BenchmarkColdStartJava(b *testing.B) {
	runtimes, taskRoot := hostJava(b)
	for _, rt := range runtimes {
		b.Run(rt.Name, func(b *testing.B) {
			argv := rt.Command(javaFixture.runtimeDirs[rt.Name], taskRoot)
			benchColdStart(b, argv, taskRoot, "example.Hello", `{"message":"hi"}`)
		})
	}
}
