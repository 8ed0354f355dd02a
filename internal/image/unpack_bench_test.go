package image

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// bench50MiB is a 50 MiB single-layer image shaped like a small
// distribution: a few large files, many small ones, half of the bytes
// compressible text and half random.
func bench50MiB(b *testing.B) (v1.Image, int64) {
	b.Helper()
	rng := rand.New(rand.NewSource(1))
	var entries []entry
	var total int64
	addFile := func(name string, size int) {
		body := make([]byte, size)
		if rng.Intn(2) == 0 {
			rng.Read(body)
		} else {
			for i := range body {
				body[i] = "abcdefghij \n"[rng.Intn(12)]
			}
		}
		entries = append(entries, fileEntry(name, string(body)))
		total += int64(size)
	}
	for d := 0; d < 40; d++ {
		entries = append(entries, dirEntry(fmt.Sprintf("usr/lib/d%02d/", d)))
	}
	for i := 0; i < 5; i++ {
		addFile(fmt.Sprintf("usr/lib/big%d.so", i), 5<<20)
	}
	for i := 0; total < 50<<20; i++ {
		addFile(fmt.Sprintf("usr/lib/d%02d/f%04d", i%40, i), 1024+rng.Intn(24*1024))
	}
	for i := 0; i < 200; i++ {
		entries = append(entries, symlinkEntry(fmt.Sprintf("usr/lib/d%02d/link%03d", i%40, i), "../big0.so"))
	}
	return ociImage(b, gzipLayer(b, layerTar(b, entries...))), total
}

// benchImage stores bench50MiB.
func benchImage(b *testing.B) (*Store, v1.Hash, int64) {
	b.Helper()
	src, total := bench50MiB(b)
	s := openTestStore(b)
	img, err := s.Import(context.Background(), writeLayout(b, src, "bench:50m"), "", nil)
	if err != nil {
		b.Fatal(err)
	}
	h, err := v1.NewHash(img.Digest)
	if err != nil {
		b.Fatal(err)
	}
	return s, h, total
}

func BenchmarkUnpack50MiB(b *testing.B) {
	s, h, total := benchImage(b)
	img, err := s.storedImage(h)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.SetBytes(total)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		dst := filepath.Join(b.TempDir(), "root")
		if _, err := s.unpackRoot(ctx, img, dst, NoProgress{}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		os.RemoveAll(dst)
		b.StartTimer()
	}
}

// BenchmarkImportDockerArchive50MiB is `nimbus image import` of a docker-save
// archive: copy the layer into the store, unpack it, index it.
func BenchmarkImportDockerArchive50MiB(b *testing.B) {
	src, total := bench50MiB(b)
	archive := writeDockerArchive(b, src, "bench/app:50m")
	ctx := context.Background()
	b.SetBytes(total)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s := openTestStore(b)
		b.StartTimer()
		if _, err := s.Import(ctx, archive, "", nil); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		os.RemoveAll(s.Dir())
		b.StartTimer()
	}
}
