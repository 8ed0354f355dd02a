package store

import "errors"

// Sentinel errors. Implementations wrap them with context; callers test with
// errors.Is and map them to AWS codes only at the protocol edge.
var (
	// ErrNotFound: no object under the key.
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists: Create on a key that is taken, or a unique index
	// value already held by another object.
	ErrAlreadyExists = errors.New("already exists")
	// ErrConflict: the object's version is not the one the caller expected.
	ErrConflict = errors.New("conflict")
	// ErrInvalid: a malformed key or query.
	ErrInvalid = errors.New("invalid argument")
	// ErrReadOnly: a write inside View.
	ErrReadOnly = errors.New("read-only transaction")
	// ErrClosed: the store has been closed.
	ErrClosed = errors.New("store closed")
	// ErrNewerSchema: the database was written by a newer nimbus whose
	// schema this one does not know; upgrade nimbus or use another data
	// directory.
	ErrNewerSchema = errors.New("database schema is newer than this nimbus")
	// ErrStop, returned by a List callback, ends the listing without error.
	ErrStop = errors.New("stop listing")
)
