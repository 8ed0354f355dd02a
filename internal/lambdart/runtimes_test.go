package lambdart

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
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

func TestRuntimeForRuby(t *testing.T) {
	if _, err := exec.LookPath("ruby"); err != nil {
		t.Skip("host has no ruby on its PATH (Debian: apt-get install ruby)")
	}
	out, err := exec.Command("ruby", "-e", "puts RUBY_VERSION").Output()
	if err != nil {
		t.Fatal(err)
	}
	host := strings.TrimSpace(string(out))
	cat := NewCatalog()
	// Every ruby3.x runs on the host's Ruby 3, whichever minor it has.
	for _, name := range []string{"ruby3.2", "ruby3.3", "ruby3.4"} {
		rt, err := cat.RuntimeFor(context.Background(), name)
		if err != nil || rt.Family != FamilyRuby || rt.HostVersion != host || !filepath.IsAbs(rt.Interpreter) {
			t.Errorf("RuntimeFor(%s) = %+v, %v; want the host's Ruby %s", name, rt, err, host)
			continue
		}
		if cmd := rt.Command("/var/runtime", "/var/task"); len(cmd) != 3 || cmd[0] != rt.Interpreter || cmd[2] != "/var/runtime/bootstrap.rb" {
			t.Errorf("ruby command %q", cmd)
		}
	}
	if real, err := filepath.EvalSymlinks("/usr/bin/ruby"); err == nil {
		if rt, _ := cat.RuntimeFor(context.Background(), "ruby3.3"); rt.Interpreter != real {
			t.Errorf("interpreter %s; want Debian's %s", rt.Interpreter, real)
		}
	}
}

// fakeJDK makes a Java installation under jvmDir that answers as a java
// would but only echoes its arguments.
func fakeJDK(t *testing.T, jvmDir, name, version string, withJavac bool) string {
	t.Helper()
	home := filepath.Join(jvmDir, name)
	if err := os.MkdirAll(filepath.Join(home, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	tools := []string{"java"}
	if withJavac {
		tools = append(tools, "javac")
	}
	for _, tool := range tools {
		if err := os.WriteFile(filepath.Join(home, "bin", tool), []byte("#!/bin/sh\necho \"$@\"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	release := "IMPLEMENTOR=\"Test\"\nJAVA_VERSION=\"" + version + "\"\n"
	if err := os.WriteFile(filepath.Join(home, "release"), []byte(release), 0o644); err != nil {
		t.Fatal(err)
	}
	return home
}

func TestRuntimeForJava(t *testing.T) {
	ctx := context.Background()
	jvmDir := t.TempDir()
	jdk21 := fakeJDK(t, jvmDir, "jdk-21", "21.0.4", true)
	fakeJDK(t, jvmDir, "jre-25", "25.0.1", false)
	if err := os.Symlink("jdk-21", filepath.Join(jvmDir, "java-1.21.0")); err != nil {
		t.Fatal(err)
	}
	noPath := func(string) (string, error) { return "", exec.ErrNotFound }
	cat := NewCatalog(WithJVMDir(jvmDir), WithLookPath(noPath))

	// Its configuration lives elsewhere, linked in, as Debian's does.
	etc := filepath.Join(t.TempDir(), "etc", "java-21", "security")
	if err := os.MkdirAll(etc, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(etc, "java.security"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(jdk21, "conf", "security"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(etc, "java.security"), filepath.Join(jdk21, "conf", "security", "java.security")); err != nil {
		t.Fatal(err)
	}
	parts := strings.SplitN(etc, "/", 4) // "", top, second, rest
	wantShared := "/" + parts[1] + "/" + parts[2]

	rt, err := cat.RuntimeFor(ctx, "java21")
	if err != nil || rt.Family != FamilyJava || rt.Interpreter != filepath.Join(jdk21, "bin", "java") ||
		rt.Compiler != filepath.Join(jdk21, "bin", "javac") || rt.HostVersion != "21.0.4" ||
		len(rt.HostPaths) != 1 || rt.HostPaths[0] != wantShared {
		t.Fatalf("RuntimeFor(java21) = %+v, %v; want host paths [%s]", rt, err, wantShared)
	}
	// The launcher sizes the heap from the function's memory and puts the
	// function's classes, root jars and lib/ jars after the bootstrap's.
	cmd := rt.Command("/var/runtime", "/var/task")
	run := exec.Command(cmd[0], cmd[1:]...)
	run.Env = []string{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=1024"}
	out, err := run.Output()
	if err != nil {
		t.Fatalf("launcher %q: %v", cmd, err)
	}
	for _, flag := range []string{"-Xmx870m", "-XX:TieredStopAtLevel=1", "-Xshare:auto", "-cp /var/runtime:/var/task:/var/task/*:/var/task/lib/* NimbusBootstrap"} {
		if !strings.Contains(string(out), flag) {
			t.Errorf("java started as %q; want %s", out, flag)
		}
	}

	for _, tc := range []struct {
		name, runtime string
		catalog       *Catalog
		wantText      []string
	}{
		{"JRE without javac", "java25", cat, []string{"needs a javac", "jre-25 has only a JRE"}},
		{"version the host lacks", "java17", cat, []string{"needs Java 17", "which has Java 21.0.4 (" + jdk21 + ")", "Java 25.0.1"}},
		{"no Java at all", "java17", NewCatalog(WithJVMDir(t.TempDir()), WithLookPath(noPath)), []string{"which has no Java"}},
		{"no ruby at all", "ruby3.3", NewCatalog(WithLookPath(noPath)), []string{"needs Ruby 3", "no usable ruby on its PATH"}},
		{"unknown java", "java19", cat, []string{"Value 'java19' at 'runtime'"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.catalog.RuntimeFor(ctx, tc.runtime)
			var ae *awserr.Error
			if !errors.As(err, &ae) || ae.Kind != awserr.Validation {
				t.Fatalf("RuntimeFor(%s) = %v; want a validation error", tc.runtime, err)
			}
			for _, s := range tc.wantText {
				if !strings.Contains(ae.Message, s) {
					t.Errorf("message %q lacks %q", ae.Message, s)
				}
			}
		})
	}
}

func TestRuntimeForHostJava(t *testing.T) {
	if _, err := exec.LookPath("javac"); err != nil {
		t.Skip("host has no javac on its PATH (Debian: apt-get install openjdk-17-jdk-headless)")
	}
	out, err := exec.Command("java", "-XshowSettings:properties", "-version").CombinedOutput()
	if err != nil {
		t.Fatal(err)
	}
	var home, version string
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "java.home = "); ok {
			home = v
		}
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "java.version = "); ok {
			version = v
		}
	}
	name := "java" + strings.SplitN(version, ".", 2)[0]
	rt, err := NewCatalog().RuntimeFor(context.Background(), name)
	if err != nil {
		t.Fatalf("RuntimeFor(%s) for the host's java %s (%s): %v", name, version, home, err)
	}
	if rt.Interpreter != filepath.Join(home, "bin", "java") || rt.HostVersion != version || rt.Compiler == "" {
		t.Errorf("RuntimeFor(%s) = %+v; want %s/bin/java, version %s", name, rt, home, version)
	}
	// Whatever the JDK's security configuration links to outside /usr (on
	// Debian, /etc/java-N-openjdk) is among the paths a sandbox must see.
	target, err := filepath.EvalSymlinks(filepath.Join(home, "conf", "security", "java.security"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(target, "/usr/") {
		shared := false
		for _, p := range rt.HostPaths {
			shared = shared || strings.HasPrefix(target, p+"/")
		}
		if !shared {
			t.Errorf("java.security is %s, outside the host paths %q", target, rt.HostPaths)
		}
	}
}
