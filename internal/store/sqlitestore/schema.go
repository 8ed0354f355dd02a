package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/nimbus-dev/nimbus/internal/store"
)

// The whole on-disk schema, as the ordered list of migrations that build it.
// The database's PRAGMA user_version is the number of migrations applied;
// Open applies the missing ones in order, each in its own transaction
// together with the user_version bump, and refuses a database whose
// user_version is higher than len(migrations) (written by a newer nimbus).
//
// Never edit a migration that has shipped: append a new one.
//
// Tables:
//
//	objects       one row per object; the primary key (kind, account, region,
//	              id) serves point reads and ordered listing of one partition
//	              or of all partitions of a kind. WITHOUT ROWID keeps rows in
//	              key order so a List is one range scan.
//	object_index  secondary-index entries; the primary key serves lookups by
//	              (kind, name, value) within or across partitions, the
//	              by_object index serves replacing an object's entries.
//	sequences     NextSequence counters.
//	meta          single values: "revision" is the store-wide commit counter.
var migrations = []string{
	// 1: initial schema.
	`
CREATE TABLE objects (
	kind     TEXT    NOT NULL,
	account  TEXT    NOT NULL,
	region   TEXT    NOT NULL,
	id       TEXT    NOT NULL,
	version  INTEGER NOT NULL,
	revision INTEGER NOT NULL,
	created  INTEGER NOT NULL, -- unix nanoseconds
	updated  INTEGER NOT NULL, -- unix nanoseconds
	data     BLOB    NOT NULL, -- JSON
	PRIMARY KEY (kind, account, region, id)
) WITHOUT ROWID;

CREATE TABLE object_index (
	kind    TEXT    NOT NULL,
	name    TEXT    NOT NULL,
	value   TEXT    NOT NULL,
	account TEXT    NOT NULL,
	region  TEXT    NOT NULL,
	id      TEXT    NOT NULL,
	uniq    INTEGER NOT NULL,
	PRIMARY KEY (kind, name, value, account, region, id)
) WITHOUT ROWID;
CREATE INDEX object_index_by_object ON object_index (kind, account, region, id);

CREATE TABLE sequences (
	name  TEXT    NOT NULL PRIMARY KEY,
	value INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE meta (
	key   TEXT    NOT NULL PRIMARY KEY,
	value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO meta (key, value) VALUES ('revision', 0);
`,
}

// migrate brings db up to len(list) migrations. It is separate from Open so
// tests can drive it with their own lists.
func migrate(ctx context.Context, db *sql.DB, list []string) (int, error) {
	var current int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&current); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	if current > len(list) {
		return current, fmt.Errorf("database schema version %d, this nimbus knows up to %d: %w",
			current, len(list), store.ErrNewerSchema)
	}
	for v := current; v < len(list); v++ {
		if err := applyMigration(ctx, db, v+1, list[v]); err != nil {
			return v, err
		}
	}
	return len(list), nil
}

// applyMigration runs one migration and records it atomically: SQLite keeps
// user_version in the database header, which is covered by the transaction.
func applyMigration(ctx context.Context, db *sql.DB, version int, ddl string) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migration %d: begin: %w", version, err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if _, err := tx.ExecContext(ctx, ddl); err != nil {
		return fmt.Errorf("migration %d: %w", version, err)
	}
	// PRAGMA takes no bound parameters; version is an int we control.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", version)); err != nil {
		return fmt.Errorf("migration %d: set user_version: %w", version, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migration %d: commit: %w", version, err)
	}
	return nil
}
