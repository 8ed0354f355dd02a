package oci

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestInstallShim: the shim binary is written once under a name from its
// content, executable, and a different binary (another nimbus version)
// gets a file of its own rather than replacing one a running shim uses.
func TestInstallShim(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "bin")
	v1 := []byte("#!/bin/sh\necho v1\n")
	path, err := installShim(dir, v1)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o755 || !strings.HasPrefix(filepath.Base(path), "nimbus-shim-") {
		t.Fatalf("installed %s: %v, %v", path, fi, err)
	}
	before := fi.ModTime()
	again, err := installShim(dir, v1)
	if err != nil || again != path {
		t.Fatalf("second install = %s, %v; want %s", again, err, path)
	}
	if fi, _ := os.Stat(path); !fi.ModTime().Equal(before) {
		t.Error("an installed shim was rewritten")
	}
	v2 := []byte("#!/bin/sh\necho v2\n")
	other, err := installShim(dir, v2)
	if err != nil || other == path {
		t.Fatalf("install of another binary = %s, %v", other, err)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, v1) {
		t.Error("the first shim's file changed")
	}
	// A damaged file of the right name is replaced.
	if err := os.WriteFile(path, []byte("torn"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := installShim(dir, v1); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, v1) {
		t.Errorf("damaged shim not replaced: %q", got)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".nimbus-shim-*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}
