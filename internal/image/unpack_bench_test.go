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

// benchImage stores a 50 MiB single-layer image shaped like a small
// distribution: a few large files, many small ones, half of the bytes
// compressible text and half random.
func benchImage(b *testing.B) (*Store, v1.Hash, int64) {
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
	s := openTestStore(b)
	img, err := s.Import(context.Background(), writeLayout(b, ociImage(b, gzipLayer(b, layerTar(b, entries...))), "bench:50m"), "", nil)
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
