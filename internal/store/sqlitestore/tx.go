package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nimbus-dev/nimbus/internal/store"
)

// tx implements store.Tx over one database/sql transaction.
type tx struct {
	ctx      context.Context
	s        *Store
	sql      *sql.Tx
	stmts    *stmtCache
	bound    map[string]*sql.Stmt // see stmt
	writable bool

	// revision is the revision this Update will commit, drawn on its first
	// write; 0 while it has written nothing.
	revision int64
	// dirty is set by every write, sequences included; a clean Update
	// commits nothing.
	dirty  bool
	events []store.Event
}

var _ store.Tx = (*tx)(nil)

// stmt returns query's prepared statement bound to this transaction. Each
// binding is kept for the transaction's life: database/sql tracks every one
// until commit, so binding per call would grow that list with every write
// of a large transaction.
func (t *tx) stmt(query string) (*sql.Stmt, error) {
	if st, ok := t.bound[query]; ok {
		return st, nil
	}
	st, err := t.stmts.get(t.ctx, query)
	if err != nil {
		return nil, fmt.Errorf("prepare: %w", err)
	}
	if t.bound == nil {
		t.bound = make(map[string]*sql.Stmt)
	}
	bound := t.sql.StmtContext(t.ctx, st)
	t.bound[query] = bound
	return bound, nil
}

func (t *tx) exec(query string, args ...any) (sql.Result, error) {
	st, err := t.stmt(query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(t.ctx, args...)
}

// queryRow is for statements with one result row; a prepare failure
// surfaces from Scan.
func (t *tx) queryRow(query string, args ...any) *sql.Row {
	st, err := t.stmt(query)
	if err != nil {
		return t.sql.QueryRowContext(t.ctx, query, args...)
	}
	return st.QueryRowContext(t.ctx, args...)
}

const getSQL = `SELECT version, revision, created, updated, data FROM objects
WHERE kind = ? AND account = ? AND region = ? AND id = ?`

// Get implements store.Tx.
func (t *tx) Get(key store.Key, v any) (store.Meta, error) {
	if err := key.Validate(); err != nil {
		return store.Meta{}, err
	}
	var (
		m                store.Meta
		created, updated int64
		data             []byte
	)
	err := t.queryRow(getSQL, key.Kind, key.Account, key.Region, key.ID).
		Scan(&m.Version, &m.Revision, &created, &updated, &data)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Meta{}, fmt.Errorf("get %s: %w", key, store.ErrNotFound)
	}
	if err != nil {
		return store.Meta{}, fmt.Errorf("get %s: %w", key, err)
	}
	m.Created, m.Updated = fromNanos(created), fromNanos(updated)
	if v != nil {
		if err := json.Unmarshal(data, v); err != nil {
			return m, fmt.Errorf("get %s: decode: %w", key, err)
		}
	}
	return m, nil
}

// Create implements store.Tx.
func (t *tx) Create(key store.Key, v any) (store.Meta, error) {
	return t.write("create", key, v, 0, true)
}

// Put implements store.Tx.
func (t *tx) Put(key store.Key, v any, ifVersion int64) (store.Meta, error) {
	return t.write("put", key, v, ifVersion, false)
}

const (
	currentSQL = `SELECT version, created FROM objects
WHERE kind = ? AND account = ? AND region = ? AND id = ?`
	upsertSQL = `INSERT INTO objects (kind, account, region, id, version, revision, created, updated, data)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (kind, account, region, id) DO UPDATE SET
	version = excluded.version, revision = excluded.revision,
	updated = excluded.updated, data = excluded.data`
	deleteIndexSQL  = `DELETE FROM object_index WHERE kind = ? AND account = ? AND region = ? AND id = ?`
	uniqueHolderSQL = `SELECT id FROM object_index
WHERE kind = ? AND name = ? AND value = ? AND account = ? AND region = ? AND id <> ? LIMIT 1`
	insertIndexSQL = `INSERT OR IGNORE INTO object_index (kind, name, value, account, region, id, uniq)
VALUES (?, ?, ?, ?, ?, ?, ?)`
	deleteSQL = `DELETE FROM objects WHERE kind = ? AND account = ? AND region = ? AND id = ?`
)

// current returns the object's version and creation time, version 0 if it
// does not exist.
func (t *tx) current(key store.Key) (version, created int64, err error) {
	err = t.queryRow(currentSQL, key.Kind, key.Account, key.Region, key.ID).Scan(&version, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, 0, nil
	}
	return version, created, err
}

func (t *tx) write(op string, key store.Key, v any, ifVersion int64, create bool) (store.Meta, error) {
	if err := t.checkWrite(key); err != nil {
		return store.Meta{}, fmt.Errorf("%s %s: %w", op, key, err)
	}
	data, err := json.Marshal(v)
	if err != nil {
		return store.Meta{}, fmt.Errorf("%s %s: encode: %w", op, key, err)
	}
	version, created, err := t.current(key)
	if err != nil {
		return store.Meta{}, fmt.Errorf("%s %s: %w", op, key, err)
	}
	switch {
	case create && version != 0:
		return store.Meta{}, fmt.Errorf("%s %s: %w", op, key, store.ErrAlreadyExists)
	case ifVersion != 0 && version == 0:
		return store.Meta{}, fmt.Errorf("%s %s: %w", op, key, store.ErrNotFound)
	case ifVersion != 0 && version != ifVersion:
		return store.Meta{}, fmt.Errorf("%s %s: version is %d, not %d: %w", op, key, version, ifVersion, store.ErrConflict)
	}
	rev, err := t.nextRevision()
	if err != nil {
		return store.Meta{}, fmt.Errorf("%s %s: %w", op, key, err)
	}
	now := t.s.opts.clock().UnixNano()
	if version == 0 {
		created = now
	}
	m := store.Meta{Version: version + 1, Revision: rev, Created: fromNanos(created), Updated: fromNanos(now)}
	if _, err := t.exec(upsertSQL, key.Kind, key.Account, key.Region, key.ID,
		m.Version, rev, created, now, data); err != nil {
		return store.Meta{}, fmt.Errorf("%s %s: %w", op, key, err)
	}
	if err := t.writeIndexes(key, v, version != 0); err != nil {
		return store.Meta{}, fmt.Errorf("%s %s: %w", op, key, err)
	}
	t.events = append(t.events, store.Event{Type: store.EventPut, Key: key, Version: m.Version, Revision: rev, Data: data})
	return m, nil
}

// writeIndexes replaces the object's secondary-index entries with those v
// declares.
func (t *tx) writeIndexes(key store.Key, v any, existed bool) error {
	if existed {
		if _, err := t.exec(deleteIndexSQL, key.Kind, key.Account, key.Region, key.ID); err != nil {
			return fmt.Errorf("clear index: %w", err)
		}
	}
	ix, ok := v.(store.Indexer)
	if !ok {
		return nil
	}
	for _, e := range ix.StoreIndexes() {
		if e.Name == "" {
			return fmt.Errorf("index entry without a name: %w", store.ErrInvalid)
		}
		if e.Unique {
			var holder string
			err := t.queryRow(uniqueHolderSQL, key.Kind, e.Name, e.Value, key.Account, key.Region, key.ID).Scan(&holder)
			if err == nil {
				return fmt.Errorf("index %s=%q is held by %s: %w", e.Name, e.Value, holder, store.ErrAlreadyExists)
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("index %s: %w", e.Name, err)
			}
		}
		if _, err := t.exec(insertIndexSQL, key.Kind, e.Name, e.Value, key.Account, key.Region, key.ID, e.Unique); err != nil {
			return fmt.Errorf("index %s: %w", e.Name, err)
		}
	}
	return nil
}

// Delete implements store.Tx.
func (t *tx) Delete(key store.Key, ifVersion int64) error {
	if err := t.checkWrite(key); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	version, _, err := t.current(key)
	if err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	switch {
	case version == 0:
		return fmt.Errorf("delete %s: %w", key, store.ErrNotFound)
	case ifVersion != 0 && version != ifVersion:
		return fmt.Errorf("delete %s: version is %d, not %d: %w", key, version, ifVersion, store.ErrConflict)
	}
	rev, err := t.nextRevision()
	if err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	if _, err := t.exec(deleteSQL, key.Kind, key.Account, key.Region, key.ID); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	if _, err := t.exec(deleteIndexSQL, key.Kind, key.Account, key.Region, key.ID); err != nil {
		return fmt.Errorf("delete %s: clear index: %w", key, err)
	}
	t.events = append(t.events, store.Event{Type: store.EventDelete, Key: key, Version: version, Revision: rev})
	return nil
}

func (t *tx) checkWrite(key store.Key) error {
	if !t.writable {
		return store.ErrReadOnly
	}
	return key.Validate()
}

const revisionSQL = `SELECT value FROM meta WHERE key = 'revision'`

// nextRevision returns the revision this transaction commits, drawing it on
// the first write. Only one Update runs at a time, so reading and bumping
// the counter inside the transaction cannot race.
func (t *tx) nextRevision() (int64, error) {
	if t.revision != 0 {
		return t.revision, nil
	}
	var cur int64
	if err := t.queryRow(revisionSQL).Scan(&cur); err != nil {
		return 0, fmt.Errorf("read revision: %w", err)
	}
	t.revision = cur + 1
	t.dirty = true
	return t.revision, nil
}

// Revision implements store.Tx.
func (t *tx) Revision() (int64, error) {
	if t.revision != 0 {
		return t.revision, nil
	}
	var cur int64
	if err := t.queryRow(revisionSQL).Scan(&cur); err != nil {
		return 0, fmt.Errorf("read revision: %w", err)
	}
	return cur, nil
}

const nextSequenceSQL = `INSERT INTO sequences (name, value) VALUES (?, 1)
ON CONFLICT (name) DO UPDATE SET value = value + 1
RETURNING value`

// NextSequence implements store.Tx.
func (t *tx) NextSequence(name string) (int64, error) {
	if !t.writable {
		return 0, fmt.Errorf("sequence %s: %w", name, store.ErrReadOnly)
	}
	if name == "" {
		return 0, fmt.Errorf("sequence: name is required: %w", store.ErrInvalid)
	}
	var v int64
	t.dirty = true
	if err := t.queryRow(nextSequenceSQL, name).Scan(&v); err != nil {
		return 0, fmt.Errorf("sequence %s: %w", name, err)
	}
	return v, nil
}

// List implements store.Tx.
func (t *tx) List(q store.Query, fn func(store.Object) error) error {
	if err := q.Validate(); err != nil {
		return err
	}
	query, args := listSQL(q)
	st, err := t.stmt(query)
	if err != nil {
		return fmt.Errorf("list %s: %w", q.Kind, err)
	}
	rows, err := st.QueryContext(t.ctx, args...)
	if err != nil {
		return fmt.Errorf("list %s: %w", q.Kind, err)
	}
	defer rows.Close()
	var (
		o                store.Object
		created, updated int64
		dest             []any
	)
	// Columns the query fixes are not read back: fewer conversions per row.
	if q.AllAccounts {
		dest = append(dest, &o.Key.Account)
	}
	if q.AllRegions {
		dest = append(dest, &o.Key.Region)
	}
	dest = append(dest, &o.Key.ID, &o.Meta.Version, &o.Meta.Revision, &created, &updated, &o.Data)
	for rows.Next() {
		o = store.Object{Key: store.Key{Account: q.Account, Region: q.Region, Kind: q.Kind}}
		if err := rows.Scan(dest...); err != nil {
			return fmt.Errorf("list %s: %w", q.Kind, err)
		}
		o.Meta.Created, o.Meta.Updated = fromNanos(created), fromNanos(updated)
		if err := fn(o); err != nil {
			if errors.Is(err, store.ErrStop) {
				return nil
			}
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list %s: %w", q.Kind, err)
	}
	return nil
}

// listSQL builds the statement for q. Its text depends only on which
// fields are set, so the statement cache holds a handful of variants.
func listSQL(q store.Query) (string, []any) {
	var (
		b     strings.Builder
		args  []any
		alias = "o."
	)
	b.WriteString("SELECT ")
	if q.AllAccounts {
		b.WriteString("o.account, ")
	}
	if q.AllRegions {
		b.WriteString("o.region, ")
	}
	b.WriteString("o.id, o.version, o.revision, o.created, o.updated, o.data\n")
	if q.Index != "" {
		b.WriteString(`FROM object_index i JOIN objects o
	ON o.kind = i.kind AND o.account = i.account AND o.region = i.region AND o.id = i.id
WHERE i.kind = ? AND i.name = ? AND i.value = ?`)
		args = append(args, q.Kind, q.Index, q.IndexValue)
		alias = "i."
	} else {
		b.WriteString(`FROM objects o WHERE o.kind = ?`)
		args = append(args, q.Kind)
	}
	if !q.AllAccounts {
		b.WriteString(" AND " + alias + "account = ?")
		args = append(args, q.Account)
	}
	if !q.AllRegions {
		b.WriteString(" AND " + alias + "region = ?")
		args = append(args, q.Region)
	}
	if q.Prefix != "" {
		b.WriteString(" AND " + alias + "id >= ?")
		args = append(args, q.Prefix)
		if end, ok := prefixEnd(q.Prefix); ok {
			b.WriteString(" AND " + alias + "id < ?")
			args = append(args, end)
		}
	}
	if q.After != "" {
		b.WriteString(" AND " + alias + "id > ?")
		args = append(args, q.After)
	}
	b.WriteString(" ORDER BY " + alias + "account, " + alias + "region, " + alias + "id")
	if q.Limit > 0 {
		b.WriteString(" LIMIT ?")
		args = append(args, q.Limit)
	}
	return b.String(), args
}

// prefixEnd is the smallest string greater than every string starting with
// p (byte-wise, as SQLite's BINARY collation compares), or false if there is
// none (p is all 0xff bytes).
func prefixEnd(p string) (string, bool) {
	b := []byte(p)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1]), true
		}
	}
	return "", false
}

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }
