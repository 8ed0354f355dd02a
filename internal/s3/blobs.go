package s3

import (
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"
)

// blobs holds object and part bytes as immutable files: every write goes
// to a new name, so a reader that opened a blob keeps reading the bytes it
// asked for while a newer write replaces the object. A blob is written to
// a temporary file, fsynced, then renamed into place and its directory
// fsynced; only then does the caller commit metadata naming it, so a crash
// at any point leaves either the old object or the new one, never a part.
// Blobs no record names (a crash between rename and commit, or between
// commit and removing the replaced blob) are swept at start.
type blobs struct {
	dir string // blobs by name
	tmp string // writes in progress
}

func openBlobs(root string) (*blobs, error) {
	b := &blobs{dir: filepath.Join(root, "blobs"), tmp: filepath.Join(root, "tmp")}
	// A write in progress when nimbus stopped was never acknowledged.
	if err := os.RemoveAll(b.tmp); err != nil {
		return nil, fmt.Errorf("clear s3 temporary files: %w", err)
	}
	for _, d := range []string{b.dir, b.tmp} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("s3 data directory: %w", err)
		}
	}
	return b, nil
}

// written is what a blob write measured.
type written struct {
	name string
	size int64
	md5  []byte
}

// copyBuffers are the buffers blob writes copy through: large enough that
// a 64 MiB object takes few rounds, small enough that many uploads at
// once hold little memory.
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 1<<20); return &b }}

// copyHashed copies r to f, feeding every byte to the hashes. It works in
// rounds over two buffers: while one chunk is hashed and written (each on
// a goroutine of its own, both waited for before the round ends), the
// caller's goroutine reads the next chunk, so reading, hashing and writing
// a large body use the cores there are rather than one. r's own errors
// come back unwrapped for bodyError to classify.
func copyHashed(f *os.File, r io.Reader, hashes []hash.Hash) (int64, error) {
	bufA, bufB := copyBuffers.Get().(*[]byte), copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(bufA)
	defer copyBuffers.Put(bufB)
	cur, next := *bufA, *bufB
	n, rerr := fill(r, cur)
	var total int64
	for n > 0 {
		var wg sync.WaitGroup
		var werr error
		chunk := cur[:n]
		wg.Add(2)
		go func() {
			defer wg.Done()
			for _, h := range hashes {
				h.Write(chunk)
			}
		}()
		go func(off int64) {
			defer wg.Done()
			if _, werr = f.Write(chunk); werr == nil {
				// Start writeback now, so the final fdatasync finds
				// the disk already busy with most of the object rather
				// than all of it; a hint, so its failure is ignored.
				_ = unix.SyncFileRange(int(f.Fd()), off, int64(len(chunk)), unix.SYNC_FILE_RANGE_WRITE)
			}
		}(total)
		var nextN int
		nextErr := rerr
		if rerr == nil {
			nextN, nextErr = fill(r, next)
		}
		wg.Wait()
		if werr != nil {
			return total, fmt.Errorf("write blob: %w", werr)
		}
		total += int64(n)
		cur, next = next, cur
		n, rerr = nextN, nextErr
	}
	if rerr != nil && rerr != io.EOF {
		return total, fmt.Errorf("read body: %w", rerr)
	}
	return total, nil
}

// fill reads into buf until it is full or r fails; io.EOF stays io.EOF
// (io.ReadFull would turn a short final chunk into ErrUnexpectedEOF, which
// is also how a body cut short reads).
func fill(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		k, err := r.Read(buf[n:])
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func newBlobName() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err)) // never fails on Linux
	}
	return hex.EncodeToString(b[:])
}

// write streams r into a new blob, hashing it with MD5 and the extra
// hashes, and returns once the blob is durable. Nothing is left behind
// when it fails.
func (b *blobs) write(r io.Reader, extra ...hash.Hash) (written, error) {
	f, err := os.CreateTemp(b.tmp, "w-*")
	if err != nil {
		return written{}, fmt.Errorf("create blob: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	sum := md5.New()
	n, err := copyHashed(f, r, append([]hash.Hash{sum}, extra...))
	if err != nil {
		return written{}, err
	}
	// fdatasync: a new file's size is data to it, and nothing else of
	// its metadata matters.
	if err := unix.Fdatasync(int(f.Fd())); err != nil {
		return written{}, fmt.Errorf("sync blob: %w", err)
	}
	if err := f.Close(); err != nil {
		return written{}, fmt.Errorf("close blob: %w", err)
	}
	name := newBlobName()
	if err := os.Rename(f.Name(), b.path(name)); err != nil {
		return written{}, fmt.Errorf("place blob: %w", err)
	}
	ok = true
	if err := syncDir(b.dir); err != nil {
		os.Remove(b.path(name))
		return written{}, err
	}
	return written{name: name, size: n, md5: sum.Sum(nil)}, nil
}

// link gives an existing blob a second name (CopyObject): blobs never
// change once written, so a copy shares the bytes.
func (b *blobs) link(src string) (string, error) {
	name := newBlobName()
	if err := os.Link(b.path(src), b.path(name)); err != nil {
		return "", fmt.Errorf("link blob: %w", err)
	}
	if err := syncDir(b.dir); err != nil {
		os.Remove(b.path(name))
		return "", err
	}
	return name, nil
}

func (b *blobs) path(name string) string { return filepath.Join(b.dir, name) }

func (b *blobs) open(name string) (*os.File, error) { return os.Open(b.path(name)) }

// remove deletes blobs no record names any more; a failure only leaves
// garbage for the next sweep.
func (b *blobs) remove(names ...string) {
	for _, n := range names {
		if n != "" {
			os.Remove(b.path(n))
		}
	}
}

// sweep removes every blob for which keep says false.
func (b *blobs) sweep(keep func(name string) bool) (int, error) {
	entries, err := os.ReadDir(b.dir)
	if err != nil {
		return 0, fmt.Errorf("list blobs: %w", err)
	}
	removed := 0
	for _, e := range entries {
		if keep(e.Name()) {
			continue
		}
		if err := os.Remove(b.path(e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
			return removed, fmt.Errorf("sweep blob: %w", err)
		}
		removed++
	}
	return removed, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
