package lambda

import (
	"archive/zip"
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

func TestUnpackZipStaysInsideItsDirectory(t *testing.T) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	add := func(name string, mode fs.FileMode, content string) {
		h := &zip.FileHeader{Name: name}
		h.SetMode(mode)
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(content))
	}
	add("../../escape.txt", 0o644, "no")
	add("link", fs.ModeSymlink|0o777, "/etc")
	add("link/passwd", 0o644, "would write through the link")
	add("bin/run", 0o755, "#!/bin/sh")
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	dir := filepath.Join(root, "pkg")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	err = unpackZip(zr, dir)
	if _, statErr := os.Stat(filepath.Join(root, "escape.txt")); statErr == nil {
		t.Fatal("an entry escaped the package directory")
	}
	if b, readErr := os.ReadFile(filepath.Join(dir, "escape.txt")); readErr != nil || string(b) != "no" {
		t.Errorf("../../escape.txt unpacked as %q %v, want inside the package", b, readErr)
	}
	// The file under link/ is written as a real directory before the link
	// is made, so the link cannot be created over it: unpacking fails
	// rather than write through /etc.
	if err == nil {
		if target, _ := os.Readlink(filepath.Join(dir, "link")); target == "/etc" {
			t.Fatal("a file was written below a symbolic link")
		}
	}
	if info, err := os.Stat(filepath.Join(dir, "bin", "run")); err != nil || info.Mode()&0o100 == 0 {
		t.Errorf("bin/run lost its execute bit: %v %v", info, err)
	}
}

func TestResetForgetsEverything(t *testing.T) {
	h := newHarness(t, nil)
	h.createFunction(t, "r", nil)
	invokeEvent(t, h, "r", `{}`)
	if err := h.api.Service().Reset(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := h.client.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("r")}); err == nil {
		t.Error("function survived a reset")
	}
	if n := countEvents(t, h); n != 0 {
		t.Errorf("%d events survived a reset", n)
	}
	if r := h.invoker.retiredNames(); len(r) != 1 || r[0] != "r" {
		t.Errorf("retired %v", r)
	}
	if _, err := os.Stat(filepath.Join(h.dataDir, "lambda", "code")); !os.IsNotExist(err) {
		t.Errorf("code directory survived a reset: %v", err)
	}
}
