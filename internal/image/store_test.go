package image

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"golang.org/x/sys/unix"
)

func digestOf(t testing.TB, img v1.Image) string {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

func TestImportDockerArchive(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	src := ociImage(t, gzipLayer(t, layerTar(t, dirEntry("bin/"), fileEntry("bin/app", "#!/bin/sh\n"))))
	path := writeDockerArchive(t, src, "example.com/team/app:v1")

	img, err := s.Import(ctx, path, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(img.Names) != 1 || img.Names[0] != "example.com/team/app:v1" {
		t.Errorf("names = %v, want the archive's tag", img.Names)
	}
	if got, err := os.ReadFile(filepath.Join(img.RootDir, "bin/app")); err != nil || string(got) != "#!/bin/sh\n" {
		t.Errorf("bin/app = %q, %v", got, err)
	}
	if img.Config.WorkingDir != "/srv" || strings.Join(img.Config.Env, " ") != "PATH=/bin MODE=test" {
		t.Errorf("config = %+v", img.Config)
	}
	// Layers are stored as the archive has them, uncompressed: the blob
	// digest is the config's diff ID.
	cf, _ := src.ConfigFile()
	if _, err := os.Stat(filepath.Join(s.blobDir(), cf.RootFS.DiffIDs[0].Hex)); err != nil {
		t.Errorf("layer not stored uncompressed under its diff ID: %v", err)
	}
	// Importing again under another name reuses every blob and the root.
	again, err := s.Import(ctx, path, "app:copy", nil)
	if err != nil {
		t.Fatal(err)
	}
	if again.Digest != img.Digest || len(again.Names) != 2 {
		t.Errorf("second import: digest %s names %v", again.Digest, again.Names)
	}
	if got := dirEntries(t, s.rootsDir()); len(got) != 1 {
		t.Errorf("roots = %v, want one shared root", got)
	}
}

func TestImportDockerArchiveWithSeveralImages(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	a := ociImage(t, gzipLayer(t, layerTar(t, fileEntry("which", "a"))))
	b := ociImage(t, gzipLayer(t, layerTar(t, fileEntry("which", "b"))))
	ta, _ := name.NewTag("multi/a:1")
	tb, _ := name.NewTag("multi/b:1")
	path := filepath.Join(t.TempDir(), "multi.tar")
	if err := tarball.MultiWriteToFile(path, map[name.Tag]v1.Image{ta: a, tb: b}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Import(ctx, path, "", nil); err == nil || !strings.Contains(err.Error(), "--name") {
		t.Fatalf("err = %v, want a request to choose with --name", err)
	}
	img, err := s.Import(ctx, path, "multi/b:1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(img.RootDir, "which")); string(got) != "b" {
		t.Errorf("imported the wrong image: which = %q", got)
	}
}

func TestImportOCILayoutTarballs(t *testing.T) {
	ctx := context.Background()
	src := ociImage(t, gzipLayer(t, layerTar(t, fileEntry("hello", "world"))))
	dir := writeLayout(t, src, "v2") // a bare tag, as buildkit writes it
	plain := filepath.Join(t.TempDir(), "hello.tar")
	tarDir(t, dir, plain)
	compressed := plain + ".gz"
	data, err := os.ReadFile(plain)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(data)
	zw.Close()
	if err := os.WriteFile(compressed, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{plain, compressed} {
		t.Run(filepath.Base(path), func(t *testing.T) {
			s := openTestStore(t)
			img, err := s.Import(ctx, path, "", nil)
			if err != nil {
				t.Fatal(err)
			}
			if img.Digest != digestOf(t, src) {
				t.Errorf("digest = %s, want %s", img.Digest, digestOf(t, src))
			}
			if len(img.Names) != 1 || img.Names[0] != "hello:v2" {
				t.Errorf("names = %v, want [hello:v2] from the file name and ref.name", img.Names)
			}
			if got, _ := os.ReadFile(filepath.Join(img.RootDir, "hello")); string(got) != "world" {
				t.Errorf("hello = %q", got)
			}
			if got := dirEntries(t, s.tmpDir()); len(got) != 0 {
				t.Errorf("temporary files left: %v", got)
			}
		})
	}
}

func TestImportRejectsOtherFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notes.txt")
	os.WriteFile(path, []byte("not an image"), 0o644)
	if _, err := openTestStore(t).Import(context.Background(), path, "x", nil); err == nil {
		t.Fatal("importing a text file succeeded")
	}
}

func TestPullFromRegistry(t *testing.T) {
	ctx := context.Background()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	src, err := random.Image(64*1024, 3)
	if err != nil {
		t.Fatal(err)
	}
	ref := u.Host + "/team/random:v3"
	parsed, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(parsed, src, remote.WithContext(ctx)); err != nil {
		t.Fatal(err)
	}

	s := openTestStore(t)
	var lines bytes.Buffer
	img, err := s.Pull(ctx, ref, NewProgress(&lines))
	if err != nil {
		t.Fatal(err)
	}
	if img.Digest != digestOf(t, src) {
		t.Errorf("digest = %s, want %s", img.Digest, digestOf(t, src))
	}
	if img.Layers != 3 || len(img.Names) != 1 || img.Names[0] != ref {
		t.Errorf("layers %d names %v", img.Layers, img.Names)
	}
	if !strings.Contains(lines.String(), "copy layers") || !strings.Contains(lines.String(), "stored "+img.Digest) {
		t.Errorf("progress lines:\n%s", lines.String())
	}
	// The unpacked root holds every file of every layer.
	layers, _ := src.Layers()
	if err := compareRootWithLayers(img.RootDir, layers); err != nil {
		t.Error(err)
	}

	if _, err := s.Pull(ctx, u.Host+"/team/missing:v1", nil); err == nil {
		t.Error("pulling a missing image succeeded")
	}
}

func TestListGetTagRemoveCollectGarbage(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	shared := gzipLayer(t, layerTar(t, fileEntry("shared", "s")))
	a := ociImage(t, shared, gzipLayer(t, layerTar(t, fileEntry("a", "a"))))
	b := ociImage(t, shared, gzipLayer(t, layerTar(t, fileEntry("b", "b"))))
	imgA, err := s.Import(ctx, writeLayout(t, a, "one/a:1"), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	imgB, err := s.Import(ctx, writeLayout(t, b, "one/b:1"), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	// Two manifests, two configs and three layers: the shared one is stored once.
	if got := len(dirEntries(t, s.blobDir())); got != 7 {
		t.Errorf("blobs = %d, want 7", got)
	}

	// The store is an OCI image layout other tools can read.
	idx, err := layout.ImageIndexFromPath(s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	h, _ := v1.NewHash(imgA.Digest)
	fromLayout, err := idx.Image(h)
	if err != nil {
		t.Fatalf("the store is not a readable OCI layout: %v", err)
	}
	if digestOf(t, fromLayout) != imgA.Digest {
		t.Errorf("layout image digest = %s", digestOf(t, fromLayout))
	}

	list, err := s.List(ctx)
	if err != nil || len(list) != 2 || list[0].Names[0] != "one/a:1" || list[1].Names[0] != "one/b:1" {
		t.Fatalf("list = %v, %v", list, err)
	}
	for _, ref := range []string{"one/a:1", imgA.Digest, imgA.Digest[:19], strings.TrimPrefix(imgA.Digest, "sha256:")[:12]} {
		got, err := s.Get(ctx, ref)
		if err != nil || got.Digest != imgA.Digest {
			t.Errorf("Get(%q) = %v, %v", ref, got, err)
		}
	}
	if _, err := s.Get(ctx, "one/nothing:1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(missing) err = %v, want ErrNotFound", err)
	}
	if _, err := s.Get(ctx, "Bad Name"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(bad name) err = %v, want ErrNotFound", err)
	}

	if _, err := s.Tag(ctx, "one/a:1", "alias"); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get(ctx, "alias:latest"); err != nil || got.Digest != imgA.Digest || len(got.Names) != 2 {
		t.Fatalf("alias = %+v, %v", got, err)
	}
	// Removing one of two names keeps the image.
	res, err := s.Remove(ctx, "one/a:1")
	if err != nil {
		t.Fatal(err)
	}
	if res.BlobsRemoved != 0 || res.RootsRemoved != 0 {
		t.Errorf("removing one of two names collected %+v", res)
	}
	// Removing the last name frees a's own blobs and root but not the
	// layer b shares.
	res, err = s.Remove(ctx, "alias")
	if err != nil {
		t.Fatal(err)
	}
	if res.BlobsRemoved != 3 || res.RootsRemoved != 1 {
		t.Errorf("gc = %+v, want 3 blobs (manifest, config, own layer) and 1 root", res)
	}
	if _, err := os.Stat(imgA.RootDir); !os.IsNotExist(err) {
		t.Errorf("a's root still exists: %v", err)
	}
	if got, err := s.Get(ctx, "one/b:1"); err != nil || got.RootDir != imgB.RootDir {
		t.Fatalf("b after removing a: %v", err)
	}
	if data, err := os.ReadFile(filepath.Join(imgB.RootDir, "shared")); err != nil || string(data) != "s" {
		t.Errorf("b's shared file: %q %v", data, err)
	}
	if _, err := s.Remove(ctx, "one/a:1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("removing a removed name: %v, want ErrNotFound", err)
	}
	// Removing by digest removes every name.
	if _, err := s.Tag(ctx, "one/b:1", "b2"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Remove(ctx, imgB.Digest); err != nil {
		t.Fatal(err)
	}
	if list, _ := s.List(ctx); len(list) != 0 {
		t.Errorf("images left: %v", list)
	}
	if got := dirEntries(t, s.blobDir()); len(got) != 0 {
		t.Errorf("blobs left: %v", got)
	}
}

func TestRetagCollectsTheOldImage(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	v1img := ociImage(t, gzipLayer(t, layerTar(t, fileEntry("v", "1"))))
	v2img := ociImage(t, gzipLayer(t, layerTar(t, fileEntry("v", "2"))))
	old, err := s.Import(ctx, writeLayout(t, v1img, "app:latest"), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Import(ctx, writeLayout(t, v2img, "app:latest"), "", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(old.RootDir); !os.IsNotExist(err) {
		t.Errorf("the nameless old image's root was kept: %v", err)
	}
	got, err := s.Get(ctx, "app")
	if err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(filepath.Join(got.RootDir, "v")); string(data) != "2" {
		t.Errorf("app:latest has v = %q, want 2", data)
	}
}

func TestGCKeepsMountedRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to bind-mount a root as a sandbox would")
	}
	ctx := context.Background()
	s := openTestStore(t)
	img, err := s.Import(ctx, writeLayout(t, ociImage(t, gzipLayer(t, layerTar(t, fileEntry("f", "f")))), "busy:1"), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	target := t.TempDir()
	if err := unix.Mount(img.RootDir, target, "", unix.MS_BIND, ""); err != nil {
		t.Skipf("bind mount not possible here: %v", err)
	}
	defer unix.Unmount(target, unix.MNT_DETACH)
	res, err := s.Remove(ctx, "busy:1")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.RootsInUse) != 1 || res.RootsRemoved != 0 {
		t.Fatalf("gc = %+v, want the mounted root kept", res)
	}
	if _, err := os.Stat(filepath.Join(img.RootDir, "f")); err != nil {
		t.Fatalf("mounted root was deleted: %v", err)
	}
	if err := unix.Unmount(target, unix.MNT_DETACH); err != nil {
		t.Fatal(err)
	}
	res, err = s.GC(ctx)
	if err != nil || res.RootsRemoved != 1 {
		t.Fatalf("gc after unmount = %+v, %v; want the root removed", res, err)
	}
}

func TestConcurrentImportsAndGC(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	src := ociImage(t, gzipLayer(t, layerTar(t, fileEntry("x", strings.Repeat("x", 100000)))))
	dir := writeLayout(t, src, "same:1")
	other := writeLayout(t, ociImage(t, gzipLayer(t, layerTar(t, fileEntry("y", "y")))), "other:1")
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := 0; i < 6; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, err := s.Import(ctx, dir, "", nil)
			errs <- err
		}()
		go func() {
			defer wg.Done()
			if _, err := s.Import(ctx, other, "", nil); err != nil {
				errs <- err
				return
			}
			_, err := s.Remove(ctx, "other:1")
			if errors.Is(err, ErrNotFound) {
				err = nil // another goroutine removed it first
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	img, err := s.Get(ctx, "same:1")
	if err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(filepath.Join(img.RootDir, "x")); err != nil || len(data) != 100000 {
		t.Errorf("x: %d bytes, %v", len(data), err)
	}
	if got := dirEntries(t, s.tmpDir()); len(got) != 0 {
		t.Errorf("tmp left: %v", got)
	}
}

func TestFailedUnpackLeavesNoRoot(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	good := gzipLayer(t, layerTar(t, fileEntry("first", "1")))
	// A truncated tar stream: the image is well-formed, its second layer is not.
	full := layerTar(t, fileEntry("second", strings.Repeat("2", 10000)))
	broken := gzipLayer(t, full[:3000])
	_, err := s.Import(ctx, writeLayout(t, ociImage(t, good, broken), "broken:1"), "", nil)
	if err == nil {
		t.Fatal("importing an image with a truncated layer succeeded")
	}
	if got := dirEntries(t, s.rootsDir()); len(got) != 0 {
		t.Errorf("roots after failed unpack: %v", got)
	}
	if got := dirEntries(t, s.tmpDir()); len(got) != 0 {
		t.Errorf("tmp after failed unpack: %v", got)
	}
	if _, err := s.Get(ctx, "broken:1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a failed image is gettable: %v", err)
	}
	// Its blobs are unreferenced and the next collection takes them.
	res, err := s.GC(ctx)
	if err != nil || res.BlobsRemoved == 0 {
		t.Errorf("gc after failure = %+v, %v", res, err)
	}
}

func TestGetRestoresMissingRoot(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	img, err := s.Import(ctx, writeLayout(t, ociImage(t, gzipLayer(t, layerTar(t, fileEntry("f", "f")))), "r:1"), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(img.RootDir); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "r:1"); err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(filepath.Join(img.RootDir, "f")); err != nil || string(data) != "f" {
		t.Errorf("restored root: %q %v", data, err)
	}
}

func TestNormalizeName(t *testing.T) {
	for in, want := range map[string]string{
		"busybox":                               "busybox:latest",
		"busybox:1.36":                          "busybox:1.36",
		"127.0.0.1:5000/team/app":               "127.0.0.1:5000/team/app:latest",
		"127.0.0.1:5000/team/app:v1":            "127.0.0.1:5000/team/app:v1",
		"app@sha256:" + strings.Repeat("a", 64): "app@sha256:" + strings.Repeat("a", 64),
	} {
		if got, err := NormalizeName(in); err != nil || got != want {
			t.Errorf("NormalizeName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "Upper", "a b", "x:", "a//b", "-x", "app/", "app:-x", "app@sha256:12", "app:a:b"} {
		if _, err := NormalizeName(bad); !errors.Is(err, ErrInvalidReference) {
			t.Errorf("NormalizeName(%q) err = %v, want ErrInvalidReference", bad, err)
		}
	}
}
