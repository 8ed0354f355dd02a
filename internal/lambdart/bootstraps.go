package lambdart

import (
	_ "embed"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// The bootstraps nimbus ships, each a Runtime API client with no
// dependency beyond its interpreter's standard library.
var (
	//go:embed bootstrap/python/bootstrap.py
	pythonBootstrap []byte
	//go:embed bootstrap/nodejs/index.mjs
	nodeBootstrap []byte
	//go:embed bootstrap/ruby/bootstrap.rb
	rubyBootstrap []byte
	//go:embed bootstrap/java/NimbusBootstrap.java
	javaBootstrap []byte
	// nodeWarm is the CommonJS file a warm spare loads ahead of its
	// function (see index.mjs).
	nodeWarm = []byte("module.exports = {};\n")
)

// Files are the bootstrap files the runtime needs in its runtime directory
// (/var/runtime in a sandbox), by name; none for provided runtimes, whose
// bootstrap is the function's own. Java's is a source file that WriteFiles
// compiles.
func (r Runtime) Files() map[string][]byte {
	switch r.Family {
	case FamilyPython:
		return map[string][]byte{"bootstrap.py": pythonBootstrap}
	case FamilyNodeJS:
		return map[string][]byte{"index.mjs": nodeBootstrap, "warm.cjs": nodeWarm}
	case FamilyRuby:
		return map[string][]byte{"bootstrap.rb": rubyBootstrap}
	case FamilyJava:
		return map[string][]byte{"NimbusBootstrap.java": javaBootstrap}
	}
	return nil
}

// WriteFiles writes Files into dir, which it creates. For Java it then
// compiles the bootstrap with the host's javac (seconds), unless dir holds
// classes that javac already built from the same source.
func (r Runtime) WriteFiles(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write %s bootstrap: %w", r.Name, err)
	}
	for name, content := range r.Files() {
		if err := os.WriteFile(filepath.Join(dir, name), content, 0o644); err != nil {
			return fmt.Errorf("write %s bootstrap: %w", r.Name, err)
		}
	}
	if r.Family == FamilyJava {
		return r.compileJavaBootstrap(dir)
	}
	return nil
}

// SpareControlEnv names, in a runtime's environment, the control directory
// of a warm spare: the bootstrap then starts its interpreter and loads its
// own modules, waits until a line (or EOF: exit) can be read from the
// directory's "gate" FIFO, then replaces its whole environment with the
// object "env" of the directory's start.json and serves the function as if
// started with that environment.
const SpareControlEnv = "NIMBUS_SPARE_CONTROL"

// Preloads reports whether the runtime's bootstrap can start as a warm
// spare (see SpareControlEnv): nimbus's Python, Node.js and Ruby bootstraps
// can; a provided runtime's bootstrap is the function's, so it cannot, nor
// can Java's: a JVM's environment (System.getenv) is fixed when it starts,
// and its heap is sized from the function's memory.
func (r Runtime) Preloads() bool {
	return r.Family == FamilyPython || r.Family == FamilyNodeJS || r.Family == FamilyRuby
}

// ReadsAtStartup reports whether the runtime's interpreter (or the dynamic
// linker before it) reads the environment variable key only when it
// starts, so a preloaded bootstrap cannot honour a function's value of it.
func (r Runtime) ReadsAtStartup(key string) bool {
	switch {
	case strings.HasPrefix(key, "LD_"), strings.HasPrefix(key, "LC_"), key == "LANG", key == "TZ",
		key == "AWS_LAMBDA_EXEC_WRAPPER":
		return true
	case r.Family == FamilyPython:
		return strings.HasPrefix(key, "PYTHON")
	case r.Family == FamilyNodeJS:
		return strings.HasPrefix(key, "NODE_") || key == "UV_THREADPOOL_SIZE"
	case r.Family == FamilyRuby:
		// RubyGems, and with it GEM_PATH and GEM_HOME, loads only after a
		// claim (see bootstrap.rb).
		return strings.HasPrefix(key, "RUBY")
	case r.Family == FamilyJava:
		return key == "JAVA_TOOL_OPTIONS" || key == "_JAVA_OPTIONS" || key == "JDK_JAVA_OPTIONS"
	}
	return false
}

// Command is the argv that starts the runtime, given where Files were
// written (runtimeDir) and where the function's code is (taskRoot); the
// interpreter is the host's, so a sandbox must see it at the same path.
func (r Runtime) Command(runtimeDir, taskRoot string) []string {
	switch r.Family {
	case FamilyPython:
		return []string{r.Interpreter, "-u", filepath.Join(runtimeDir, "bootstrap.py")}
	case FamilyNodeJS:
		return []string{r.Interpreter, filepath.Join(runtimeDir, "index.mjs")}
	case FamilyRuby:
		// RubyGems loads only when the function needs it (see bootstrap.rb).
		return []string{r.Interpreter, "--disable-gems", filepath.Join(runtimeDir, "bootstrap.rb")}
	case FamilyJava:
		return []string{"/bin/sh", "-c", javaLauncher, "java", r.Interpreter, runtimeDir, taskRoot}
	}
	return []string{filepath.Join(taskRoot, "bootstrap")}
}

// javaLauncher starts the JVM as Lambda's Java runtimes do: C1 only and
// the JDK's class-data archive (a fast start matters more than peak speed
// for most functions), the serial collector, and a heap of 85% of the
// function's memory, which only the environment knows, hence a shell. The
// classpath is the bootstrap's classes, then the function's: classes at the
// zip's root, jars at its root (a fat jar) and in lib/. Its arguments are
// the java binary, the runtime directory and the task root.
const javaLauncher = `mem=${AWS_LAMBDA_FUNCTION_MEMORY_SIZE:-128}
case $mem in ''|*[!0-9]*) mem=128 ;; esac
exec "$1" -XX:+TieredCompilation -XX:TieredStopAtLevel=1 -Xshare:auto -XX:+UseSerialGC 	-Xmx$((mem * 85 / 100))m -Djava.net.preferIPv4Stack=true 	-cp "$2:$3:$3/*:$3/lib/*" NimbusBootstrap`
