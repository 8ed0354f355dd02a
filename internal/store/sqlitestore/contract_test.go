package sqlitestore

import (
	"testing"

	"github.com/nimbus-dev/nimbus/internal/store"
	"github.com/nimbus-dev/nimbus/internal/store/storetest"
)

// TestContract runs the store contract with the settings a data directory
// gets (fsync on every commit).
func TestContract(t *testing.T) {
	storetest.Run(t, func(t testing.TB) store.Store {
		return OpenTemp(t, withFsync())
	})
}

// withFsync undoes OpenTemp's WithoutFsync.
func withFsync() Option { return func(o *options) { o.fsync = true } }
