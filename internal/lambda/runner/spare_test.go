package runner

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nimbus-dev/nimbus/internal/lambdart"
)

const spareHandler = `
import os
def handler(event, context):
    return {"files": sorted(os.listdir("/var/task")), "my": os.environ.get("MY_VAR"), "uid": os.getuid(),
            "pid": os.getpid(), "cwd": os.getcwd(), "taskWritable": os.access("/var/task", os.W_OK),
            "stream": os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME"), "name": os.environ.get("AWS_LAMBDA_FUNCTION_NAME"),
            "envCount": len(os.environ), "launcherEnv": os.environ.get("PWD")}
`

type spareReply struct {
	Files        []string `json:"files"`
	My           string   `json:"my"`
	UID          int      `json:"uid"`
	PID          int      `json:"pid"`
	Cwd          string   `json:"cwd"`
	TaskWritable bool     `json:"taskWritable"`
	Stream       string   `json:"stream"`
	Name         string   `json:"name"`
	LauncherEnv  *string  `json:"launcherEnv"`
}

// readySpare waits for a ready spare of fn's shape and returns its ID.
func readySpare(t *testing.T, p *Pool, fn *Function) string {
	t.Helper()
	var id string
	eventually(t, 30*time.Second, "a warm spare ready", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		if list := p.spares.ready[shapeOf(fn)]; len(list) > 0 {
			id = list[len(list)-1].id
			return true
		}
		return false
	})
	return id
}

func invokeSpareFn(t *testing.T, p *Pool, fn *Function) (*Result, spareReply) {
	t.Helper()
	res := mustInvoke(t, p, fn, request(`{}`))
	var r spareReply
	if res.FunctionError != "" || json.Unmarshal(res.Payload, &r) != nil {
		t.Fatalf("%s: function error %q: %s", fn.Name, res.FunctionError, res.Payload)
	}
	return res, r
}

func TestWarmSpareServesAnotherFunctionOfItsShape(t *testing.T) {
	p := ociPool(t, Options{SparesPerShape: 1}) // one spare: "the" spare
	py := pythonRuntime(t)
	a := function("spare-a", py, "app.handler", codeDir(t, map[string]string{"app.py": spareHandler, "a.txt": "a"}))
	a.Environment = map[string]string{"MY_VAR": "a's"}
	b := function("spare-b", py, "app.handler", codeDir(t, map[string]string{"app.py": spareHandler, "b.txt": "b"}))
	b.Environment = map[string]string{"MY_VAR": "b's 'quoted' $HOME\nline"}

	// No spare before the shape's first cold start; one after it.
	if p.takeSpare(context.Background(), a) != nil {
		t.Fatal("a spare before any cold start")
	}
	if _, r := invokeSpareFn(t, p, a); r.My != "a's" {
		t.Fatalf("a's reply %+v", r)
	}
	spareID := readySpare(t, p, b)

	res, r := invokeSpareFn(t, p, b)
	if !res.ColdStart || res.InitDuration <= 0 {
		t.Errorf("b's first invoke: cold %v, init %v; want a cold start with an init duration", res.ColdStart, res.InitDuration)
	}
	// b runs in the spare, with exactly its own code, environment and user.
	if !strings.HasSuffix(r.Stream, strings.TrimPrefix(spareID, "lambda-")) {
		t.Errorf("b's log stream %q is not the spare %s's", r.Stream, spareID)
	}
	if strings.Join(r.Files, ",") != "app.py,b.txt" || r.My != b.Environment["MY_VAR"] || r.Name != "spare-b" {
		t.Errorf("b sees files %v, MY_VAR %q, name %q", r.Files, r.My, r.Name)
	}
	if r.UID != 993 || r.TaskWritable || r.Cwd != "/var/task" || r.LauncherEnv != nil {
		t.Errorf("uid %d, /var/task writable %v, cwd %q, launcher's PWD %v; want 993, false, /var/task, none", r.UID, r.TaskWritable, r.Cwd, r.LauncherEnv)
	}
	sbs, err := p.host.List(context.Background(), map[string]string{LabelFunction: b.Name, LabelRevision: b.Revision})
	if err != nil || len(sbs) != 1 || sbs[0].ID != spareID || !sbs[0].IP.IsValid() {
		t.Fatalf("b's sandboxes %+v (%v); want the networked spare %s", sbs, err, spareID)
	}
	// It stays b's: the next invoke is warm in the same process.
	if res2, r2 := invokeSpareFn(t, p, b); res2.ColdStart || r2.PID != r.PID {
		t.Errorf("second invoke of b: cold %v, pid %d vs %d", res2.ColdStart, r2.PID, r.PID)
	}
	// The claim started a new spare; a never reuses b's sandbox.
	if next := readySpare(t, p, a); next == spareID {
		t.Fatalf("spare %s offered again after b claimed it", next)
	}
}

func TestDeadSpareFallsBackToANewSandbox(t *testing.T) {
	p := ociPool(t, Options{SparesPerShape: 1}) // one spare: "the" spare
	fn := function("spare-dead", pythonRuntime(t), "app.handler", codeDir(t, map[string]string{"app.py": spareHandler}))
	invokeSpareFn(t, p, fn)
	spareID := readySpare(t, p, fn)
	if err := p.host.Kill(context.Background(), spareID, int(unix.SIGKILL)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "spare exited", func() bool {
		sb, err := p.host.Get(context.Background(), spareID)
		return err == nil && sb.Exit != nil
	})
	fn.Revision = "r2"
	res, r := invokeSpareFn(t, p, fn)
	if !res.ColdStart || strings.HasSuffix(r.Stream, strings.TrimPrefix(spareID, "lambda-")) {
		t.Errorf("cold %v in stream %s; want a cold start in a new sandbox, not the dead spare %s", res.ColdStart, r.Stream, spareID)
	}
	eventually(t, 30*time.Second, "dead spare removed", func() bool {
		_, err := p.host.Get(context.Background(), spareID)
		return err != nil
	})
}

func TestStartScriptQuotes(t *testing.T) {
	got := startScript([]string{"A=it's", "B=$x `y`\nz"}, []string{"/var/runtime/bootstrap", "a b"})
	want := `cd /var/task && exec /usr/bin/env -i -- 'A=it'\''s' 'B=$x ` + "`y`\nz' '/var/runtime/bootstrap' 'a b'\n"
	if got != want {
		t.Errorf("startScript:\n%s\nwant:\n%s", got, want)
	}
}

// TestStartupVariablesSkipPreloadedSpare: a function that sets a variable
// the interpreter reads only at start-up gets a new sandbox, where the
// variable works, not a preloaded spare, where it could not.
func TestStartupVariablesSkipPreloadedSpare(t *testing.T) {
	p := ociPool(t, Options{SparesPerShape: 1}) // one spare: "the" spare
	py := pythonRuntime(t)
	plain := function("spare-plain", py, "app.handler", codeDir(t, map[string]string{"app.py": spareHandler}))
	invokeSpareFn(t, p, plain)
	spareID := readySpare(t, p, plain)

	fn := function("spare-pythonpath", py, "app.handler", codeDir(t, map[string]string{
		"app.py": "import extra\ndef handler(event, context):\n    return extra.WHERE\n",
	}))
	fn.Environment = map[string]string{"PYTHONPATH": "/var/task/lib"}
	if err := os.MkdirAll(filepath.Join(fn.CodeDir, "lib"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(fn.CodeDir, "lib", "extra.py"), []byte("WHERE = 'from PYTHONPATH'\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res := mustInvoke(t, p, fn, request(`{}`))
	if res.FunctionError != "" || string(res.Payload) != `"from PYTHONPATH"` || !res.ColdStart {
		t.Fatalf("function with PYTHONPATH: %s %s", res.FunctionError, res.Payload)
	}
	if sbs, _ := p.host.List(context.Background(), map[string]string{LabelFunction: fn.Name}); len(sbs) != 1 || sbs[0].ID == spareID {
		t.Errorf("the PYTHONPATH function runs in %+v; want a new sandbox, not the spare %s", sbs, spareID)
	}
	if again := readySpare(t, p, plain); again != spareID {
		t.Errorf("spare %s replaced by %s though nothing claimed it", spareID, again)
	}
}

// TestNodeSpare: a Node.js function served by a preloaded spare gets its
// own environment and working directory.
func TestNodeSpare(t *testing.T) {
	p := ociPool(t, Options{SparesPerShape: 1}) // one spare: "the" spare
	handler := `exports.handler = async () => ({ my: process.env.MY_VAR, cwd: process.cwd(), spare: process.env.` + lambdart.SpareControlEnv + ` ?? null, name: process.env.AWS_LAMBDA_FUNCTION_NAME });`
	a := function("node-spare-a", nodeRuntime(t), "index.handler", codeDir(t, map[string]string{"index.js": handler}))
	mustInvoke(t, p, a, request(`{}`))
	spareID := readySpare(t, p, a)
	b := function("node-spare-b", a.Runtime, "index.handler", codeDir(t, map[string]string{"index.js": handler}))
	b.Environment = map[string]string{"MY_VAR": "b's"}
	res := mustInvoke(t, p, b, request(`{}`))
	want := `{"my":"b's","cwd":"/var/task","spare":null,"name":"node-spare-b"}`
	if res.FunctionError != "" || string(res.Payload) != want || !res.ColdStart {
		t.Errorf("b answered %s %s; want %s", res.FunctionError, res.Payload, want)
	}
	if sbs, _ := p.host.List(context.Background(), map[string]string{LabelFunction: b.Name}); len(sbs) != 1 || sbs[0].ID != spareID {
		t.Errorf("b runs in %+v; want the spare %s", sbs, spareID)
	}
}

// TestBackToBackColdStartTakesStartingSpare: a cold start right after
// another, while the spare that replaces the first one's is still starting,
// waits for that spare rather than making a sandbox of its own.
func TestBackToBackColdStartTakesStartingSpare(t *testing.T) {
	p := ociPool(t, Options{SparesPerShape: 1}) // one spare: "the" spare
	fn := function("spare-b2b", "provided.al2023", "bootstrap", goHelloCode(t))
	mustInvoke(t, p, fn, request(`{}`))
	p.mu.Lock()
	starting := p.spares.starting[shapeOf(fn)] + len(p.spares.ready[shapeOf(fn)])
	p.mu.Unlock()
	if starting != 1 {
		t.Fatalf("%d spares starting or ready after the first cold start; want 1", starting)
	}
	fn.Revision = "r2"
	if res := mustInvoke(t, p, fn, request(`{}`)); !res.ColdStart || res.FunctionError != "" {
		t.Fatalf("second invoke: cold %v, %s", res.ColdStart, res.Payload)
	}
	sbs, _ := p.host.List(context.Background(), map[string]string{LabelFunction: fn.Name, LabelRevision: "r2"})
	if len(sbs) != 1 || sbs[0].Labels[LabelSpare] != "true" {
		t.Errorf("revision r2 runs in %+v; want a spare", sbs)
	}
}
