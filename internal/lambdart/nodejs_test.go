package lambdart

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestNodeHandlers(t *testing.T) {
	for _, tc := range []struct {
		name    string
		handler string
		files   map[string]string
		want    string
	}{
		{"commonjs async", "index.handler", map[string]string{
			"index.js": `exports.handler = async (event, context) => ({ got: event.n * 2, fn: context.functionName });`,
		}, `{"got":42,"fn":"hello"}`},
		{"commonjs callback", "index.handler", map[string]string{
			"index.js": `exports.handler = function (event, context, callback) {
  setTimeout(() => callback(null, { got: event.n * 2, remaining: context.getRemainingTimeInMillis() > 1000 }), 5);
};`,
		}, `{"got":42,"remaining":true}`},
		{"es module .mjs", "app.handler", map[string]string{
			"app.mjs": `import { helper } from "./lib/helper.mjs";
export const handler = async (event) => helper(event.n);`,
			"lib/helper.mjs": `export const helper = (n) => ({ got: n * 2 });`,
		}, `{"got":42}`},
		{"es module by package type", "src/app.handler", map[string]string{
			"package.json": `{"type":"module"}`,
			"src/app.js":   `export async function handler(event, context) { return { got: event.n * 2, arn: context.invokedFunctionArn }; }`,
		}, `{"got":42,"arn":"` + testFunctionARN + `"}`},
		{"nested export", "index.api.handler", map[string]string{
			"index.cjs": `module.exports = { api: { handler: async (e) => e.n * 2 } };`,
		}, `42`},
		{"async returning nothing", "index.handler", map[string]string{
			"index.js": `exports.handler = async () => {};`,
		}, `null`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startInterpreted(t, FamilyNodeJS, tc.handler, tc.files)
			for i := 0; i < 2; i++ { // twice: the second on a warm runtime
				res := p.mustInvoke(t, `{"n":21}`)
				if res.FunctionError != "" || string(res.Payload) != tc.want {
					t.Fatalf("invoke %d: %q %s; want %s\n%s", i, res.FunctionError, res.Payload, tc.want, p.out)
				}
			}
		})
	}
}

func TestNodeErrors(t *testing.T) {
	for _, tc := range []struct {
		name, source, wantType, wantMessage string
	}{
		{"thrown in async", `exports.handler = async () => { throw new TypeError("bad thing"); };`, "TypeError", "bad thing"},
		{"callback error", `exports.handler = (e, c, cb) => cb(new Error("via callback"));`, "Error", "via callback"},
		{"thrown sync", `exports.handler = function (e, c, cb) { throw new RangeError("sync"); };`, "RangeError", "sync"},
		{"rejected with string", `exports.handler = async () => Promise.reject("plain");`, "string", "plain"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startInterpreted(t, FamilyNodeJS, "index.handler", map[string]string{"index.js": tc.source})
			res := p.mustInvoke(t, `{}`)
			var doc struct {
				ErrorType    string   `json:"errorType"`
				ErrorMessage string   `json:"errorMessage"`
				Trace        []string `json:"trace"`
			}
			if err := json.Unmarshal(res.Payload, &doc); err != nil {
				t.Fatalf("%s: %v", res.Payload, err)
			}
			if res.FunctionError != "Unhandled" || res.ErrorType != tc.wantType || doc.ErrorType != tc.wantType || doc.ErrorMessage != tc.wantMessage {
				t.Fatalf("result %q %q %s; want %s %q", res.FunctionError, res.ErrorType, res.Payload, tc.wantType, tc.wantMessage)
			}
			if tc.wantType != "string" && (len(doc.Trace) < 2 || !strings.Contains(strings.Join(doc.Trace, "\n"), "index.js")) {
				t.Errorf("trace %q; want the stack through index.js", doc.Trace)
			}
			// Still warm.
			if res := p.mustInvoke(t, `{}`); res.FunctionError != "Unhandled" {
				t.Errorf("second invoke %q %s", res.FunctionError, res.Payload)
			}
		})
	}
}

func TestNodeInitErrors(t *testing.T) {
	for _, tc := range []struct {
		name, handler, source, wantType string
	}{
		{"missing file", "nothere.handler", "", "Runtime.ImportModuleError"},
		{"missing export", "index.nope", "exports.handler = async () => 1;", "Runtime.HandlerNotFound"},
		{"syntax error", "index.handler", "exports.handler = async () => {", "Runtime.UserCodeSyntaxError"},
		{"throws on load", "index.handler", `throw new Error("no config");`, "Error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startInterpreted(t, FamilyNodeJS, tc.handler, map[string]string{"index.js": tc.source})
			var ie *InitError
			if err := p.sess.WaitReady(t.Context()); !errors.As(err, &ie) {
				t.Fatalf("WaitReady = %v; want *InitError\n%s", err, p.out)
			}
			if ie.ErrorType != tc.wantType {
				t.Errorf("init error %s %s; want %s", ie.ErrorType, ie.Payload(), tc.wantType)
			}
			p.waitExit(t)
		})
	}
}

func TestNodeUncaughtExceptionEndsRuntime(t *testing.T) {
	p := startInterpreted(t, FamilyNodeJS, "index.handler", map[string]string{"index.js": `
exports.handler = () => new Promise(() => { setTimeout(() => { throw new Error("late failure"); }, 1); });`})
	res := p.mustInvoke(t, `{}`)
	if res.FunctionError != "Unhandled" || res.ErrorType != "Error" || !strings.Contains(string(res.Payload), "late failure") {
		t.Fatalf("result %q %q %s", res.FunctionError, res.ErrorType, res.Payload)
	}
	p.waitExit(t)
	var ee *ExitError
	if err := p.sess.Err(); !errors.As(err, &ee) || !strings.Contains(ee.Error(), "exit status 129") {
		t.Errorf("session end %v; want the runtime's exit status 129", err)
	}
}
