package lambdart

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

const pyHandler = `
import json, os

def handler(event, context):
    return {"event": event, "cwd": os.getcwd()}

def fail(event, context):
    raise ValueError("no such order: %s" % event["order"])

def describe(event, context):
    return {
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "aws_request_id": context.aws_request_id,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "remaining": context.get_remaining_time_in_millis(),
        "region": os.environ["AWS_REGION"],
        "app_title": context.client_context.client.app_title,
        "custom": context.client_context.custom,
        "identity_id": context.identity.cognito_identity_id,
        "trace_id": os.environ.get("_X_AMZN_TRACE_ID"),
    }

def big(event, context):
    return "x" * event["size"]
`

func TestPythonSuccess(t *testing.T) {
	p := startInterpreted(t, FamilyPython, "app.handler", map[string]string{
		"app.py": "from lib.util import shout\n" + pyHandler,
		// Imports resolve from LAMBDA_TASK_ROOT.
		"lib/__init__.py": "",
		"lib/util.py":     "def shout(s):\n    return s.upper()\n",
	})
	p.waitReady(t)
	for _, payload := range []string{`{"a":1}`, `[1,2,3]`, `"text"`} {
		res := p.mustInvoke(t, payload)
		var got struct {
			Event any    `json:"event"`
			Cwd   string `json:"cwd"`
		}
		if res.FunctionError != "" || json.Unmarshal(res.Payload, &got) != nil {
			t.Fatalf("invoke %s: %+v %s", payload, res, res.Payload)
		}
		want, _ := json.Marshal(got.Event)
		if string(want) != strings.ReplaceAll(payload, " ", "") {
			t.Errorf("event %s came back as %s", payload, want)
		}
	}
}

func TestPythonException(t *testing.T) {
	p := startInterpreted(t, FamilyPython, "app.fail", map[string]string{"app.py": pyHandler})
	res := p.mustInvoke(t, `{"order":"o-42"}`)
	if res.FunctionError != "Unhandled" || res.ErrorType != "ValueError" {
		t.Fatalf("result %+v %s; want an Unhandled ValueError", res, res.Payload)
	}
	var doc ErrorDocument
	if err := json.Unmarshal(res.Payload, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.ErrorMessage != "no such order: o-42" || doc.ErrorType != "ValueError" {
		t.Errorf("document %+v", doc)
	}
	if len(doc.StackTrace) == 0 || !strings.Contains(doc.StackTrace[0], "app.py") || strings.Contains(strings.Join(doc.StackTrace, ""), "bootstrap.py") {
		t.Errorf("stack trace %q; want the user's frames only", doc.StackTrace)
	}
	if out := p.waitOutput("[ERROR] ValueError: no such order: o-42\nTraceback (most recent call last):", 5*time.Second); out != "" {
		t.Errorf("log lacks the error and its traceback:\n%s", out)
	}
	// The runtime stays warm after a handled exception.
	if res := p.mustInvoke(t, `{"order":"o-43"}`); !strings.Contains(string(res.Payload), "o-43") {
		t.Errorf("second invoke %s", res.Payload)
	}
}

func TestPythonInitErrors(t *testing.T) {
	for _, tc := range []struct {
		name, handler, source, wantType, wantMessage string
	}{
		{"syntax error", "app.handler", "def handler(event, context)\n    return 1\n", "Runtime.UserCodeSyntaxError", "Syntax error in module 'app'"},
		{"missing module", "nothere.handler", "", "Runtime.ImportModuleError", "Unable to import module 'nothere'"},
		{"missing function", "app.nope", "def handler(e, c):\n    return 1\n", "Runtime.HandlerNotFound", "Handler 'nope' missing on module 'app'"},
		{"raises on import", "app.handler", "raise RuntimeError('no config')\n", "RuntimeError", "no config"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startInterpreted(t, FamilyPython, tc.handler, map[string]string{"app.py": tc.source})
			err := p.sess.WaitReady(t.Context())
			var ie *InitError
			if !errors.As(err, &ie) {
				t.Fatalf("WaitReady = %v; want *InitError\n%s", err, p.out)
			}
			if ie.ErrorType != tc.wantType || !strings.Contains(string(ie.Payload()), tc.wantMessage) {
				t.Errorf("init error %s %s; want %s containing %q", ie.ErrorType, ie.Payload(), tc.wantType, tc.wantMessage)
			}
			if got, ok := p.sess.InitError(); !ok || got != ie {
				t.Errorf("InitError() = %v, %v", got, ok)
			}
			// An invoke of a failed runtime gets the init error.
			if _, err := p.invoke(t, `{}`, 1e9); !errors.As(err, &ie) {
				t.Errorf("invoke after init error: %v", err)
			}
			p.waitExit(t)
			if p.sess.State() != InitFailed {
				t.Errorf("state after exit %s; want InitFailed kept", p.sess.State())
			}
		})
	}
}

func TestPythonContext(t *testing.T) {
	p := startInterpreted(t, FamilyPython, "app.describe", map[string]string{"app.py": pyHandler})
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
		"log_stream_name": "2026/01/01/[$LATEST]0123456789abcdef", "region": "us-east-1",
		"app_title": "shop", "identity_id": "us-east-1:abc", "trace_id": "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("context %s = %v; want %v", k, got[k], v)
		}
	}
	if c, _ := got["custom"].(map[string]any); c["k"] != "v" {
		t.Errorf("client_context.custom = %v", got["custom"])
	}
	if id, _ := got["aws_request_id"].(string); !strings.HasPrefix(id, "8476a536-") {
		t.Errorf("aws_request_id %v", got["aws_request_id"])
	}
	// mustInvoke gives 10 s.
	if rem, _ := got["remaining"].(float64); rem <= 5000 || rem > 10000 {
		t.Errorf("get_remaining_time_in_millis() = %v; want within the 10 s timeout", got["remaining"])
	}
}

func TestPythonLargePayloads(t *testing.T) {
	p := startInterpreted(t, FamilyPython, "app.big", map[string]string{"app.py": pyHandler})
	// A 5 MB answer to a 1 MB event passes.
	event := `{"size":5000000,"pad":"` + strings.Repeat("p", 1<<20) + `"}`
	res := p.mustInvoke(t, event)
	if res.FunctionError != "" || len(res.Payload) != 5000002 {
		t.Fatalf("5 MB response: error %q, %d bytes", res.FunctionError, len(res.Payload))
	}
	// Over 6 MB the invoke fails as Lambda's does; the runtime stays warm.
	res = p.mustInvoke(t, `{"size":7000000}`)
	if res.FunctionError != "Unhandled" || res.ErrorType != "Function.ResponseSizeTooLarge" {
		t.Fatalf("7 MB response: %q %q %.200s", res.FunctionError, res.ErrorType, res.Payload)
	}
	if res := p.mustInvoke(t, `{"size":3}`); string(res.Payload) != `"xxx"` {
		t.Errorf("invoke after too-large: %s", res.Payload)
	}
}
