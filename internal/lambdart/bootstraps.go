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
	// nodeWarm is the CommonJS file a warm spare loads ahead of its
	// function (see index.mjs).
	nodeWarm = []byte("module.exports = {};\n")
)

// Files are the bootstrap files the runtime needs in its runtime directory
// (/var/runtime in a sandbox), by name; none for provided runtimes, whose
// bootstrap is the function's own.
func (r Runtime) Files() map[string][]byte {
	switch r.Family {
	case FamilyPython:
		return map[string][]byte{"bootstrap.py": pythonBootstrap}
	case FamilyNodeJS:
		return map[string][]byte{"index.mjs": nodeBootstrap, "warm.cjs": nodeWarm}
	}
	return nil
}

// WriteFiles writes Files into dir, which it creates.
func (r Runtime) WriteFiles(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write %s bootstrap: %w", r.Name, err)
	}
	for name, content := range r.Files() {
		if err := os.WriteFile(filepath.Join(dir, name), content, 0o644); err != nil {
			return fmt.Errorf("write %s bootstrap: %w", r.Name, err)
		}
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
// spare (see SpareControlEnv): nimbus's own bootstraps can; a provided
// runtime's bootstrap is the function's, so it cannot.
func (r Runtime) Preloads() bool {
	return r.Family == FamilyPython || r.Family == FamilyNodeJS
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
	}
	return []string{filepath.Join(taskRoot, "bootstrap")}
}
