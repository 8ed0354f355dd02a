package sqlitestore

import (
	"testing"

	"github.com/nimbus-dev/nimbus/internal/store"
	"github.com/nimbus-dev/nimbus/internal/store/storetest"
)

// BenchmarkStore runs the shared store benchmarks with data-directory
// settings (fsync on every commit).
func BenchmarkStore(b *testing.B) {
	storetest.Benchmarks(b, func(t testing.TB) store.Store { return OpenTemp(t, withFsync()) })
}

// BenchmarkStoreNoFsync is the same without fsync, to separate the cost of
// the disk flush from SQLite's and nimbus's own work.
func BenchmarkStoreNoFsync(b *testing.B) {
	storetest.Benchmarks(b, func(t testing.TB) store.Store { return OpenTemp(t) })
}
