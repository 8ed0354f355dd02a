package lambdart

import (
	_ "embed"
	"fmt"
	"os"
	"path/filepath"
)

// The bootstraps nimbus ships, each a Runtime API client with no
// dependency beyond its interpreter's standard library.
var (
	//go:embed bootstrap/python/bootstrap.py
	pythonBootstrap []byte
	//go:embed bootstrap/nodejs/index.mjs
	nodeBootstrap []byte
)

// Files are the bootstrap files the runtime needs in its runtime directory
// (/var/runtime in a sandbox), by name; none for provided runtimes, whose
// bootstrap is the function's own.
func (r Runtime) Files() map[string][]byte {
	switch r.Family {
	case FamilyPython:
		return map[string][]byte{"bootstrap.py": pythonBootstrap}
	case FamilyNodeJS:
		return map[string][]byte{"index.mjs": nodeBootstrap}
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
