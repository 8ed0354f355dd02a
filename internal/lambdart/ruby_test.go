package lambdart

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

const rbFunction = `
require 'json'

def handler(event:, context:)
  { 'event' => event, 'cwd' => Dir.pwd }
end

def describe(event:, context:)
  {
    'function_name' => context.function_name,
    'function_version' => context.function_version,
    'invoked_function_arn' => context.invoked_function_arn,
    'memory_limit_in_mb' => context.memory_limit_in_mb,
    'aws_request_id' => context.aws_request_id,
    'log_group_name' => context.log_group_name,
    'log_stream_name' => context.log_stream_name,
    'deadline_ms' => context.deadline_ms,
    'remaining' => context.get_remaining_time_in_millis,
    'custom' => context.client_context && context.client_context['custom'],
    'identity_id' => context.identity && context.identity['cognitoIdentityId'],
    'trace_id' => ENV['_X_AMZN_TRACE_ID'],
  }
end

class OrderMissing < StandardError; end

def fail(event:, context:)
  raise OrderMissing, "no such order: #{event['order']}"
end

def type_error(event:, context:)
  [1, 2, 3].first('two')
end
`

// hostRubyRuntime is the host's Ruby as ruby3.3, skipping the test where
// the host has none.
func hostRubyRuntime(tb testing.TB) Runtime {
	tb.Helper()
	if _, err := exec.LookPath("ruby"); err != nil {
		tb.Skip("host has no ruby on its PATH (Debian: apt-get install ruby)")
	}
	rt, err := NewCatalog().RuntimeFor(context.Background(), "ruby3.3")
	if err != nil {
		tb.Fatalf("RuntimeFor(ruby3.3): %v", err)
	}
	return rt
}

func startRuby(tb testing.TB, handler string, files map[string]string) *runtimeProc {
	tb.Helper()
	return startHostRuntime(tb, hostRubyRuntime(tb), handler, files)
}

func TestRubyHandlers(t *testing.T) {
	for _, tc := range []struct {
		name, handler string
		files         map[string]string
		payload, want string
	}{
		{"top-level method", "function.handler", map[string]string{"function.rb": rbFunction},
			`{"a":[1,2,{"b":null}]}`, `{"event":{"a":[1,2,{"b":null}]},"cwd":"TASKROOT"}`},
		{"scalar event", "function.handler", map[string]string{"function.rb": rbFunction},
			`"text"`, `{"event":"text","cwd":"TASKROOT"}`},
		{"class method in a module, file in a subdirectory", "app/orders.Shop::Orders.place", map[string]string{
			"app/orders.rb": "require_relative 'pricing'\nmodule Shop\n  class Orders\n" +
				"    def self.place(event:, context:)\n      { total: Pricing.total(event['n']), fn: context.function_name }\n    end\n  end\nend\n",
			"app/pricing.rb": "module Shop\n  module Pricing\n    def self.total(n) = n * 3\n  end\nend\n",
		}, `{"n":14}`, `{"total":42,"fn":"hello"}`},
		{"gem bundled into vendor/bundle (for another Ruby minor)", "function.handler", map[string]string{
			"function.rb": "require 'greeter'\ndef handler(event:, context:) = Greeter.greet(event['name'])\n",
			"vendor/bundle/ruby/3.3.0/gems/greeter-1.0.0/lib/greeter.rb": "module Greeter\n  def self.greet(name) = \"hello, #{name}\"\nend\n",
			"vendor/bundle/ruby/3.3.0/specifications/greeter-1.0.0.gemspec": "Gem::Specification.new do |s|\n  s.name = 'greeter'\n" +
				"  s.version = '1.0.0'\n  s.summary = 'test'\n  s.authors = ['nimbus']\n  s.files = ['lib/greeter.rb']\n  s.require_paths = ['lib']\nend\n",
		}, `{"name":"ruby"}`, `"hello, ruby"`},
		{"gem the host's Ruby bundles, required at load and in the handler", "function.handler", map[string]string{
			"function.rb": "require 'rexml/document'\ndef handler(event:, context:)\n  require 'minitest'\n" +
				"  [REXML::Document.new(event['xml']).root.name, defined?(Minitest) ? 'minitest' : nil]\nend\n",
		}, `{"xml":"<order id='1'/>"}`, `["order","minitest"]`},
		{"returns nil", "function.noop", map[string]string{"function.rb": "def noop(event:, context:)\nend\n"},
			`{}`, `null`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startRuby(t, tc.handler, tc.files)
			want := strings.ReplaceAll(tc.want, "TASKROOT", p.cmd.Dir)
			for i := 0; i < 2; i++ { // twice: the second on a warm runtime
				res := p.mustInvoke(t, tc.payload)
				if res.FunctionError != "" || string(res.Payload) != want {
					t.Fatalf("invoke %d: %q %s; want %s\n%s", i, res.FunctionError, res.Payload, want, p.out)
				}
			}
		})
	}
}

func TestRubyContext(t *testing.T) {
	p := startRuby(t, "function.describe", map[string]string{"function.rb": rbFunction})
	before := time.Now()
	res, err := p.sess.Invoke(t.Context(), contextInvocation())
	if err != nil || res.FunctionError != "" {
		t.Fatalf("invoke: %v %s\n%s", err, res.Payload, p.out)
	}
	var got map[string]any
	if err := json.Unmarshal(res.Payload, &got); err != nil {
		t.Fatalf("%s: %v", res.Payload, err)
	}
	want := map[string]any{
		"function_name": "hello", "function_version": "$LATEST", "invoked_function_arn": testFunctionARN,
		"memory_limit_in_mb": "128", "log_group_name": "/aws/lambda/hello",
		"log_stream_name": "2026/01/01/[$LATEST]0123456789abcdef", "identity_id": "us-east-1:abc",
		"trace_id": "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("context %s = %v; want %v", k, got[k], v)
		}
	}
	if c, _ := got["custom"].(map[string]any); c["k"] != "v" {
		t.Errorf("client_context custom = %v", got["custom"])
	}
	if id, _ := got["aws_request_id"].(string); !strings.HasPrefix(id, "8476a536-") {
		t.Errorf("aws_request_id %v", got["aws_request_id"])
	}
	deadline, _ := got["deadline_ms"].(float64)
	if d := time.UnixMilli(int64(deadline)); d.Before(before.Add(9*time.Second)) || d.After(time.Now().Add(10*time.Second)) {
		t.Errorf("deadline_ms %v; want about 10 s after the invoke", got["deadline_ms"])
	}
	if rem, _ := got["remaining"].(float64); rem <= 5000 || rem > 10000 {
		t.Errorf("get_remaining_time_in_millis = %v; want within the 10 s timeout", got["remaining"])
	}
}

func TestRubyErrors(t *testing.T) {
	for _, tc := range []struct {
		handler, wantType, wantMessage string
	}{
		{"function.fail", "Function<OrderMissing>", "no such order: o-42"},
		{"function.type_error", "Function<TypeError>", "no implicit conversion of String into Integer"},
	} {
		t.Run(tc.handler, func(t *testing.T) {
			p := startRuby(t, tc.handler, map[string]string{"function.rb": rbFunction})
			res := p.mustInvoke(t, `{"order":"o-42"}`)
			if res.FunctionError != "Unhandled" || res.ErrorType != tc.wantType {
				t.Fatalf("result %q %q %s; want an Unhandled %s", res.FunctionError, res.ErrorType, res.Payload, tc.wantType)
			}
			var doc ErrorDocument
			if err := json.Unmarshal(res.Payload, &doc); err != nil {
				t.Fatal(err)
			}
			if doc.ErrorType != tc.wantType || doc.ErrorMessage != tc.wantMessage {
				t.Errorf("document %+v; want %s %q", doc, tc.wantType, tc.wantMessage)
			}
			trace := strings.Join(doc.StackTrace, "\n")
			if !strings.Contains(trace, "/function.rb:") || strings.Contains(trace, "bootstrap.rb") {
				t.Errorf("stack trace %q; want the function's frames only", doc.StackTrace)
			}
			if out := p.waitOutput(`"errorType":"`+tc.wantType+`"`, 5*time.Second); out != "" {
				t.Errorf("log lacks the error document:\n%s", out)
			}
			// Still warm after a handled error.
			if res := p.mustInvoke(t, `{"order":"o-43"}`); res.FunctionError != "Unhandled" {
				t.Errorf("second invoke %q %s", res.FunctionError, res.Payload)
			}
		})
	}
}

func TestRubyInitErrors(t *testing.T) {
	for _, tc := range []struct {
		name, handler, source, wantType, wantMessage string
	}{
		{"missing file", "nothere.handler", "", "Init<LoadError>", "cannot load such file"},
		{"missing method", "function.nope", "def handler(event:, context:) = 1\n", "Init<NoMethodError>", "Handler method 'nope' not found"},
		{"missing class", "function.Shop::Nope.handler", "module Shop; end\n", "Init<NameError>", "Shop::Nope"},
		{"syntax error", "function.handler", "def handler(event:, context:)\n  [1,\nend\n", "Init<SyntaxError>", "function.rb"},
		{"raises on load", "function.handler", "raise 'no config'\n", "Init<RuntimeError>", "no config"},
		{"malformed handler", "function", "", "Init<ArgumentError>", "Bad handler 'function'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startRuby(t, tc.handler, map[string]string{"function.rb": tc.source})
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

// startRubySpare starts the Ruby bootstrap as a warm spare: no function
// environment, no working directory in the task root, blocked on the gate
// FIFO of a fresh control directory.
func startRubySpare(t *testing.T) (p *runtimeProc, control string) {
	t.Helper()
	rt := hostRubyRuntime(t)
	runtimeDir := t.TempDir()
	if err := rt.WriteFiles(runtimeDir); err != nil {
		t.Fatal(err)
	}
	control = t.TempDir()
	if err := unix.Mkfifo(filepath.Join(control, "gate"), 0o600); err != nil {
		t.Fatal(err)
	}
	p = &runtimeProc{sess: NewSession(), out: &syncBuffer{}, exited: make(chan struct{})}
	ln, err := ListenLoopback(context.Background(), p.sess)
	if err != nil {
		t.Fatal(err)
	}
	p.ln = ln
	argv := rt.Command(runtimeDir, "/nonexistent")
	p.cmd = exec.Command(argv[0], argv[1:]...)
	p.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), SpareControlEnv + "=" + control}
	p.cmd.Dir = "/"
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(p.exited)
		p.sess.Exited(p.cmd.Wait())
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.exited
		p.sess.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := p.ln.Close(ctx); err != nil {
			t.Errorf("close listener: %v", err)
		}
	})
	return p, control
}

func TestRubySpareTakesTheFunctionsEnvironment(t *testing.T) {
	p, control := startRubySpare(t)
	taskRoot := writeTaskRoot(t, map[string]string{"function.rb": "def handler(event:, context:)\n" +
		"  { var: ENV['MY_VAR'], spare: ENV['NIMBUS_SPARE_CONTROL'], cwd: Dir.pwd, fn: context.function_name }\nend\n"})
	env := map[string]string{}
	for _, kv := range append(lambdaEnv(p.ln.Addr(), taskRoot, "function.handler"), "MY_VAR=mine") {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	start, err := json.Marshal(map[string]any{"env": env})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(control, "start.json"), start, 0o600); err != nil {
		t.Fatal(err)
	}
	// Opening the gate for writing waits for the spare to open it too.
	gate, err := os.OpenFile(filepath.Join(control, "gate"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gate.Write([]byte("\n")); err != nil {
		t.Fatal(err)
	}
	gate.Close()
	p.waitReady(t)
	res := p.mustInvoke(t, `{}`)
	want := `{"var":"mine","spare":null,"cwd":"` + taskRoot + `","fn":"hello"}`
	if res.FunctionError != "" || string(res.Payload) != want {
		t.Errorf("claimed spare answered %q %s; want %s\n%s", res.FunctionError, res.Payload, want, p.out)
	}
}

func TestRubySpareDroppedUnclaimedExits(t *testing.T) {
	p, control := startRubySpare(t)
	gate, err := os.OpenFile(filepath.Join(control, "gate"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	gate.Close() // EOF without a line
	p.waitExit(t)
	if p.cmd.ProcessState.ExitCode() != 0 {
		t.Errorf("unclaimed spare exited %v; want 0\n%s", p.cmd.ProcessState, p.out)
	}
}
