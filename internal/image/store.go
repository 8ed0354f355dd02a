package image

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/singleflight"
)

// Store is the image store under one data directory. It is safe for
// concurrent use by many goroutines and by several processes sharing the
// data directory (file locks guard the index and garbage collection).
type Store struct {
	dir      string // <data>/images
	log      *slog.Logger
	platform v1.Platform
	busybox  string // host busybox-static binary

	debianMirror string // Bootstrap's archive; empty: from aptDir's sources
	aptDir       string

	// unpacks makes concurrent requests for one root share a single unpack.
	unpacks singleflight.Group
}

// Option configures a Store.
type Option func(*Store)

// WithLogger sets the logger; the default discards.
func WithLogger(l *slog.Logger) Option { return func(s *Store) { s.log = l } }

// WithPlatform sets the platform chosen from multi-platform images; the
// default is linux on the host's architecture.
func WithPlatform(p v1.Platform) Option { return func(s *Store) { s.platform = p } }

// WithBusyboxBinary sets the busybox-static binary EnsureBusybox packs; the
// default is /bin/busybox from Debian's busybox-static package.
func WithBusyboxBinary(path string) Option { return func(s *Store) { s.busybox = path } }

// Open opens (creating if needed) the store under dataDir/images and clears
// work left in progress by a crashed process.
func Open(dataDir string, opts ...Option) (*Store, error) {
	s := &Store{
		dir:      filepath.Join(dataDir, "images"),
		log:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		platform: v1.Platform{OS: "linux", Architecture: runtime.GOARCH},
		busybox:  defaultBusybox,
		aptDir:   "/etc/apt",
	}
	for _, o := range opts {
		o(s)
	}
	for _, d := range []string{s.dir, s.blobDir(), s.rootsDir(), s.tmpDir()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("open image store: %w", err)
		}
	}
	if _, err := os.Stat(filepath.Join(s.dir, "oci-layout")); os.IsNotExist(err) {
		if err := writeFileDurable(filepath.Join(s.dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644); err != nil {
			return nil, fmt.Errorf("open image store: %w", err)
		}
	}
	if _, err := os.Stat(s.indexPath()); os.IsNotExist(err) {
		if err := s.writeIndex(&v1.IndexManifest{}); err != nil {
			return nil, fmt.Errorf("open image store: %w", err)
		}
	}
	if err := s.clearStaleWork(); err != nil {
		return nil, fmt.Errorf("open image store: %w", err)
	}
	return s, nil
}

// Dir is the store's directory (an OCI image layout).
func (s *Store) Dir() string { return s.dir }

func (s *Store) blobDir() string   { return filepath.Join(s.dir, "blobs", "sha256") }
func (s *Store) rootsDir() string  { return filepath.Join(s.dir, "roots") }
func (s *Store) tmpDir() string    { return filepath.Join(s.dir, "tmp") }
func (s *Store) indexPath() string { return filepath.Join(s.dir, "index.json") }

// The gc lock is held shared by every operation that writes blobs or roots
// not yet referenced by the index, and exclusively by garbage collection, so
// GC never deletes an image that is being added. The index lock serialises
// read-modify-write of index.json. Order: gc lock, then index lock.
func (s *Store) gcLockPath() string    { return filepath.Join(s.dir, "gc.lock") }
func (s *Store) indexLockPath() string { return filepath.Join(s.dir, "index.lock") }

func (s *Store) blobPath(h v1.Hash) string { return filepath.Join(s.blobDir(), h.Hex) }
func (s *Store) rootPath(h v1.Hash) string { return filepath.Join(s.rootsDir(), h.Hex) }

// clearStaleWork removes temp files and half-unpacked roots a crashed process
// left, but only when no other process is working in the store right now.
func (s *Store) clearStaleWork() error {
	l, ok, err := tryLockFile(s.gcLockPath(), true)
	if err != nil || !ok {
		return err
	}
	defer l.unlock()
	entries, err := os.ReadDir(s.tmpDir())
	if err != nil {
		return fmt.Errorf("clear stale work: %w", err)
	}
	for _, e := range entries {
		if err := removeWorkDir(filepath.Join(s.tmpDir(), e.Name())); err != nil {
			return fmt.Errorf("clear stale work: %w", err)
		}
	}
	for _, d := range []string{s.blobDir(), s.dir} {
		entries, err := os.ReadDir(d)
		if err != nil {
			return fmt.Errorf("clear stale work: %w", err)
		}
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), ".tmp-") {
				os.Remove(filepath.Join(d, e.Name()))
			}
		}
	}
	return nil
}
