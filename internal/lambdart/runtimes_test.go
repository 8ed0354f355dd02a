package lambdart

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/nimbus-dev/nimbus/internal/awserr"
)

func TestRuntimeForHost(t *testing.T) {
	py := hostRuntime(t, FamilyPython)
	if py.Interpreter == "" || !strings.HasPrefix(py.HostVersion, strings.TrimPrefix(py.Name, "python")+".") {
		t.Errorf("python runtime %+v: host version does not match the name", py)
	}
	// The interpreter is the real one, not a shim in front of it.
	out, err := exec.Command(py.Interpreter, "-c", "import sys; print(sys.executable)").Output()
	if err != nil || strings.TrimSpace(string(out)) != py.Interpreter {
		t.Errorf("interpreter %s reports %q (%v)", py.Interpreter, out, err)
	}
	// Debian's interpreter wins over a shim or a private build earlier on
	// the PATH: sandboxes see the host's /usr, not /root/.pyenv.
	if _, err := exec.Command("/usr/bin/python3", "-c", "import sys; assert sys.version_info[:2] == ("+strings.Replace(strings.TrimPrefix(py.Name, "python"), ".", ",", 1)+")").Output(); err == nil && !strings.HasPrefix(py.Interpreter, "/usr/bin/") {
		t.Errorf("python interpreter %s; want Debian's /usr/bin/python3, which has the same version", py.Interpreter)
	}
	if cmd := py.Command("/var/runtime", "/var/task"); len(cmd) != 3 || cmd[2] != "/var/runtime/bootstrap.py" {
		t.Errorf("python command %q", cmd)
	}
	node := hostRuntime(t, FamilyNodeJS)
	if node.Name != "nodejs"+strings.SplitN(node.HostVersion, ".", 2)[0]+".x" {
		t.Errorf("node runtime %+v", node)
	}
	if len(node.Files()["index.mjs"]) == 0 {
		t.Error("node bootstrap not embedded")
	}
}

func TestRuntimeForRefusals(t *testing.T) {
	ctx := context.Background()
	host := NewCatalog()
	noInterpreters := NewCatalog(WithLookPath(func(string) (string, error) { return "", exec.ErrNotFound }))
	for _, tc := range []struct {
		name     string
		catalog  *Catalog
		runtime  string
		wantCode string
		wantText []string
	}{
		{"python the host lacks", host, "python3.99", "InvalidParameterValueException", []string{"needs Python 3.99", "Install python3.99", "which has python3 3."}},
		{"node the host lacks", host, "nodejs99.x", "InvalidParameterValueException", []string{"needs Node.js 99", "which has Node.js "}},
		{"no python at all", noInterpreters, "python3.12", "InvalidParameterValueException", []string{"no usable python3 on its PATH"}},
		{"no node at all", noInterpreters, "nodejs20.x", "InvalidParameterValueException", []string{"no usable node on its PATH"}},
		{"retired", host, "python2.7", "InvalidParameterValueException", []string{"no longer supported"}},
		{"not shipped", host, "java11", "InvalidParameterValueException", []string{"not supported by nimbus yet", "java17 or later"}},
		{"retired java", host, "java8", "InvalidParameterValueException", []string{"no longer supported"}},
		{"unknown", host, "cobol85", "ValidationException", []string{"Value 'cobol85' at 'runtime'"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.catalog.RuntimeFor(ctx, tc.runtime)
			var ae *awserr.Error
			if !errors.As(err, &ae) || ae.Code != tc.wantCode || ae.Kind != awserr.Validation {
				t.Fatalf("RuntimeFor(%s) = %v; want %s", tc.runtime, err, tc.wantCode)
			}
			for _, s := range tc.wantText {
				if !strings.Contains(ae.Message, s) {
					t.Errorf("message %q lacks %q", ae.Message, s)
				}
			}
		})
	}
	for _, name := range []string{"provided", "provided.al2", "provided.al2023"} {
		rt, err := noInterpreters.RuntimeFor(ctx, name)
		if err != nil || rt.Family != FamilyProvided || rt.Files() != nil || rt.Command("", "/var/task")[0] != "/var/task/bootstrap" {
			t.Errorf("RuntimeFor(%s) = %+v, %v", name, rt, err)
		}
	}
}
