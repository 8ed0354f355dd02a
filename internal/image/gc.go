package image

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// GCResult says what a garbage collection did.
type GCResult struct {
	BlobsRemoved int
	BytesFreed   int64 // blob bytes
	RootsRemoved int
	// RootsInUse are unreferenced roots kept because a sandbox still has
	// them mounted; a later collection removes them.
	RootsInUse []string
}

// GC deletes blobs and unpacked roots that no named image references. It
// waits for imports in progress to finish.
func (s *Store) GC(ctx context.Context) (GCResult, error) {
	var res GCResult
	gc, err := lockFile(s.gcLockPath(), true)
	if err != nil {
		return res, err
	}
	defer gc.unlock()
	idx, err := s.snapshotIndex()
	if err != nil {
		return res, err
	}
	blobs := map[string]bool{}
	roots := map[string]bool{}
	for _, d := range idx.Manifests {
		roots[d.Digest.Hex] = true
		blobs[d.Digest.Hex] = true
		img, err := s.storedImage(d.Digest)
		if err != nil {
			return res, fmt.Errorf("gc: read image %s: %w", d.Digest, err)
		}
		m, err := img.Manifest()
		if err != nil {
			return res, fmt.Errorf("gc: read manifest %s: %w", d.Digest, err)
		}
		blobs[m.Config.Digest.Hex] = true
		for _, l := range m.Layers {
			blobs[l.Digest.Hex] = true
		}
	}

	entries, err := os.ReadDir(s.blobDir())
	if err != nil {
		return res, fmt.Errorf("gc: %w", err)
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if blobs[e.Name()] || strings.HasPrefix(e.Name(), ".tmp-") {
			continue
		}
		p := filepath.Join(s.blobDir(), e.Name())
		if fi, err := e.Info(); err == nil {
			res.BytesFreed += fi.Size()
		}
		if err := os.Remove(p); err != nil {
			return res, fmt.Errorf("gc: %w", err)
		}
		res.BlobsRemoved++
	}

	entries, err = os.ReadDir(s.rootsDir())
	if err != nil {
		return res, fmt.Errorf("gc: %w", err)
	}
	var mounts string
	for _, e := range entries {
		if roots[e.Name()] {
			continue
		}
		root := filepath.Join(s.rootsDir(), e.Name())
		if mounts == "" {
			if mounts, err = mountTable(); err != nil {
				return res, err
			}
		}
		if strings.Contains(mounts, root) {
			res.RootsInUse = append(res.RootsInUse, root)
			continue
		}
		// Move out of roots/ first: the root disappears in one step and a
		// crash mid-delete leaves only litter in tmp/, which Open clears.
		doomed, err := os.MkdirTemp(s.tmpDir(), "gc-")
		if err != nil {
			return res, fmt.Errorf("gc: %w", err)
		}
		if err := os.Rename(root, filepath.Join(doomed, "root")); err != nil {
			return res, fmt.Errorf("gc: %w", err)
		}
		if err := os.RemoveAll(doomed); err != nil {
			return res, fmt.Errorf("gc: %w", err)
		}
		res.RootsRemoved++
	}
	if res.BlobsRemoved > 0 || res.RootsRemoved > 0 {
		s.log.Info("image garbage collected", "blobs", res.BlobsRemoved, "bytes", res.BytesFreed, "roots", res.RootsRemoved)
	}
	return res, syncDir(s.blobDir())
}

// mountTable returns the mount points and options of every mount this
// process sees, unescaped: a root is in use when it is an overlay lower dir
// or a bind mount source of a running sandbox.
func mountTable() (string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", fmt.Errorf("read mount table: %w", err)
	}
	defer f.Close()
	var b strings.Builder
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		b.WriteString(unescapeMountInfo(sc.Text()))
		b.WriteByte('\n')
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("read mount table: %w", err)
	}
	b.WriteString(" ") // never empty, so the caller reads it once
	return b.String(), nil
}

// unescapeMountInfo undoes the kernel's octal escapes (\040 for a space).
func unescapeMountInfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var v byte
			ok := true
			for _, c := range s[i+1 : i+4] {
				if c < '0' || c > '7' {
					ok = false
					break
				}
				v = v*8 + byte(c-'0')
			}
			if ok {
				b.WriteByte(v)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
