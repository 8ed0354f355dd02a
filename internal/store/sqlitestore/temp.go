package sqlitestore

import (
	"context"
	"path/filepath"
	"testing"
)

// OpenTemp opens a fresh store in t's temporary directory for tests of the
// layers above, and closes it when the test ends. It commits without fsync
// (WithoutFsync) since the database dies with the test.
func OpenTemp(t testing.TB, opts ...Option) *Store {
	t.Helper()
	path := filepath.Join(t.TempDir(), "nimbus.db")
	s, err := Open(context.Background(), path, append([]Option{WithoutFsync()}, opts...)...)
	if err != nil {
		t.Fatalf("open temporary store: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close temporary store: %v", err)
		}
	})
	return s
}
