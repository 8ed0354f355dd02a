// Package sqlitestore is the embedded store.Store: one SQLite database file
// (pure-Go modernc.org/sqlite) in WAL mode.
//
// Writes go through a single connection, serialized by a semaphore that also
// orders Watch events by commit; reads use a pool of connections, each
// reading a WAL snapshot, so Views never wait for Updates or for each other.
// Commits use synchronous=FULL: in WAL mode the WAL is fsync'd on every
// commit, so an Update that has returned survives a process kill and a power
// loss. (synchronous=NORMAL would survive a process kill too, since the
// written WAL pages sit in the kernel's page cache, but not an OS crash;
// WithoutFsync chooses it for throwaway databases.)
//
// An exclusive flock on "<path>-lock" keeps a second nimbus from opening the
// same database: Watch only sees this process's commits, so two writers
// would silently starve each other's watchers.
//
// Use:
//
//	s, err := sqlitestore.Open(ctx, filepath.Join(dataDir, "nimbus.db"))
//	...
//	defer s.Close()
//	err = s.Update(ctx, func(tx store.Tx) error {
//		_, err := tx.Create(key, instance)
//		return err
//	})
//
// Tests of the layers above take a throwaway store from OpenTemp(t).
package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/nimbus-dev/nimbus/internal/store"
)

// Store is a store.Store backed by one SQLite file.
type Store struct {
	path   string
	opts   options
	lock   *os.File
	writer *sql.DB // Updates, one at a time: SQLite has one writer anyway
	reader *sql.DB // query_only connections for Views

	// Each pool has one connection more than transactions may hold (see
	// writeSem, readSem): statements are prepared on the *sql.DB the first
	// time a transaction needs them, which takes a connection of the pool
	// while the transaction holds its own. Without the spare, a full pool
	// would wait for itself.

	writerStmts *stmtCache
	readerStmts *stmtCache

	// writeSem serializes Updates (so they can wait under a ctx) and makes
	// event publication follow commit order.
	writeSem chan struct{}
	// readSem bounds concurrent Views to the reader connections.
	readSem chan struct{}

	// txMu is held shared by every transaction and exclusively by Close, so
	// Close waits for transactions in flight.
	txMu   sync.RWMutex
	closed atomic.Bool

	watchers watchers
}

var _ store.Store = (*Store)(nil)

// Option configures Open.
type Option func(*options)

type options struct {
	readers     int
	watchBuffer int
	clock       func() time.Time
	fsync       bool
}

// WithReaders sets how many read connections Views share (default: the
// larger of 4 and GOMAXPROCS).
func WithReaders(n int) Option { return func(o *options) { o.readers = n } }

// WithWatchBuffer sets how many events a watcher may fall behind before its
// backlog is replaced by a Resync event (default 4096).
func WithWatchBuffer(n int) Option { return func(o *options) { o.watchBuffer = n } }

// WithClock sets the clock for Created/Updated timestamps (tests).
func WithClock(now func() time.Time) Option { return func(o *options) { o.clock = now } }

// WithoutFsync commits with synchronous=NORMAL: commits still survive a
// process crash, but not an OS crash or power loss. For throwaway databases
// (tests), never for a data directory.
func WithoutFsync() Option { return func(o *options) { o.fsync = false } }

// Open opens or creates the database at path, creating parent directories,
// and migrates it to this build's schema. It fails with store.ErrNewerSchema
// for a database written by a newer nimbus and with ErrLocked while another
// process has it open.
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
	o := options{
		readers:     max(4, runtime.GOMAXPROCS(0)),
		watchBuffer: 4096,
		clock:       time.Now,
		fsync:       true,
	}
	for _, opt := range opts {
		opt(&o)
	}
	if o.readers < 1 || o.watchBuffer < 1 {
		return nil, fmt.Errorf("open store %s: readers and watch buffer must be positive: %w", path, store.ErrInvalid)
	}
	if strings.ContainsAny(path, "?#") {
		// The driver reads everything after '?' as connection parameters.
		return nil, fmt.Errorf("open store %q: path must not contain '?' or '#': %w", path, store.ErrInvalid)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	lock, err := lockFile(path + "-lock")
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	s := &Store{path: path, opts: o, lock: lock, writeSem: make(chan struct{}, 1), readSem: make(chan struct{}, o.readers)}
	s.watchers.init(o.watchBuffer)
	if err := s.open(ctx); err != nil {
		s.closeDBs()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	return s, nil
}

func (s *Store) open(ctx context.Context) error {
	syncMode := "FULL"
	if !s.opts.fsync {
		syncMode = "NORMAL"
	}
	// The writer sets the persistent journal mode before any reader opens.
	writerDSN := s.path + "?_txlock=immediate" +
		"&_pragma=busy_timeout(10000)" +
		"&_pragma=journal_mode(WAL)" +
		"&_pragma=synchronous(" + syncMode + ")" +
		"&_pragma=journal_size_limit(67108864)"
	var err error
	if s.writer, err = sql.Open("sqlite", writerDSN); err != nil {
		return fmt.Errorf("writer: %w", err)
	}
	s.writer.SetMaxOpenConns(2)
	s.writer.SetMaxIdleConns(2)
	s.writer.SetConnMaxLifetime(0)
	s.writer.SetConnMaxIdleTime(0)
	var mode string
	if err := s.writer.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("writer: %w", err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("journal mode is %q, want wal (is the file system one SQLite can use WAL on?)", mode)
	}
	if _, err := migrate(ctx, s.writer, migrations); err != nil {
		return err
	}

	// Readers map the database file (mmap_size) so scans copy pages from
	// memory rather than making a pread per page, and keep a larger page
	// cache each (cache_size is in KiB when negative).
	readerDSN := s.path + "?_pragma=busy_timeout(10000)&_pragma=query_only(1)" +
		"&_pragma=mmap_size(268435456)&_pragma=cache_size(-8192)"
	if s.reader, err = sql.Open("sqlite", readerDSN); err != nil {
		return fmt.Errorf("readers: %w", err)
	}
	s.reader.SetMaxOpenConns(s.opts.readers + 1)
	s.reader.SetMaxIdleConns(s.opts.readers + 1)
	s.reader.SetConnMaxLifetime(0)
	s.reader.SetConnMaxIdleTime(0)
	if err := s.reader.PingContext(ctx); err != nil {
		return fmt.Errorf("readers: %w", err)
	}
	s.writerStmts = newStmtCache(s.writer)
	s.readerStmts = newStmtCache(s.reader)
	return nil
}

// Path is the database file.
func (s *Store) Path() string { return s.path }

// View implements store.Store.
func (s *Store) View(ctx context.Context, fn func(store.Tx) error) error {
	s.txMu.RLock()
	defer s.txMu.RUnlock()
	if s.closed.Load() {
		return store.ErrClosed
	}
	select {
	case s.readSem <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("view: wait for a reader: %w", ctx.Err())
	}
	defer func() { <-s.readSem }()
	sqlTx, err := s.reader.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("view: begin: %w", err)
	}
	// A read transaction has nothing to keep: always roll back, also when
	// fn panics.
	defer sqlTx.Rollback() //nolint:errcheck
	return fn(&tx{ctx: ctx, s: s, sql: sqlTx, stmts: s.readerStmts})
}

// Update implements store.Store.
func (s *Store) Update(ctx context.Context, fn func(store.Tx) error) error {
	s.txMu.RLock()
	defer s.txMu.RUnlock()
	if s.closed.Load() {
		return store.ErrClosed
	}
	select {
	case s.writeSem <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("update: wait for writer: %w", ctx.Err())
	}
	defer func() { <-s.writeSem }()

	sqlTx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("update: begin: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			sqlTx.Rollback() //nolint:errcheck // the error that got us here matters more
		}
	}()
	t := &tx{ctx: ctx, s: s, sql: sqlTx, stmts: s.writerStmts, writable: true}
	if err := fn(t); err != nil {
		return err
	}
	if !t.dirty {
		// Nothing written: nothing to make durable, no revision spent.
		return nil
	}
	if t.revision != 0 {
		if _, err := t.exec(`UPDATE meta SET value = ? WHERE key = 'revision'`, t.revision); err != nil {
			return fmt.Errorf("update: record revision: %w", err)
		}
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("update: commit: %w", err)
	}
	committed = true
	s.watchers.publish(t.events)
	return nil
}

// Watch implements store.Store.
func (s *Store) Watch(ctx context.Context, kinds ...string) (<-chan store.Event, error) {
	if s.closed.Load() {
		return nil, store.ErrClosed
	}
	return s.watchers.add(ctx, kinds), nil
}

// Stats implements store.Store.
func (s *Store) Stats(ctx context.Context) (store.Stats, error) {
	st := store.Stats{Backend: "sqlite", Location: s.path}
	err := s.View(ctx, func(t store.Tx) error {
		var err error
		if st.Revision, err = t.Revision(); err != nil {
			return err
		}
		return t.(*tx).queryRow("PRAGMA user_version").Scan(&st.SchemaVersion)
	})
	if err != nil {
		return st, fmt.Errorf("stats: %w", err)
	}
	for _, suffix := range []string{"", "-wal"} {
		if fi, err := os.Stat(s.path + suffix); err == nil {
			st.SizeBytes += fi.Size()
		}
	}
	return st, nil
}

// Close implements store.Store. It stops watchers (closing their channels),
// waits for transactions in flight and closes the database.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.watchers.closeAll()
	s.txMu.Lock()
	defer s.txMu.Unlock()
	return s.closeDBs()
}

func (s *Store) closeDBs() error {
	var errs []error
	for _, c := range []*stmtCache{s.writerStmts, s.readerStmts} {
		if c != nil {
			errs = append(errs, c.close())
		}
	}
	// Readers first: the last connection to close checkpoints the WAL.
	for _, db := range []*sql.DB{s.reader, s.writer} {
		if db != nil {
			errs = append(errs, db.Close())
		}
	}
	if s.lock != nil {
		errs = append(errs, s.lock.Close()) // closing the file releases the flock
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close store %s: %w", s.path, err)
	}
	return nil
}
