package runner

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestPrepareRuntimeCompilesJavaBootstrap: preparing java17 compiles
// nimbus's Java bootstrap into the runner's runtime directory before any
// cold start, and preparing again (or a runtime the host lacks) is
// harmless.
func TestPrepareRuntimeCompilesJavaBootstrap(t *testing.T) {
	if _, err := exec.LookPath("javac"); err != nil {
		t.Skip("needs a JDK 17 (make test installs Debian's openjdk-17-jdk-headless)")
	}
	p, _ := fakePool(t, Options{})
	p.PrepareRuntime("java17")
	p.PrepareRuntime("java17")
	p.PrepareRuntime("ruby2.7") // retired: nothing to prepare
	class := filepath.Join(filepath.Dir(p.root.dir), "runtimes", "java17", "NimbusBootstrap.class")
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if _, err := os.Stat(class); err == nil {
			break
		}
		if time.Now().After(deadline) {
			entries, _ := os.ReadDir(filepath.Dir(class))
			t.Fatalf("no %s after PrepareRuntime; directory holds %v", class, entries)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	p.PrepareRuntime("java17") // after Close: ignored, no goroutine left behind
}
