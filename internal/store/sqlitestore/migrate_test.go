package sqlitestore

import (
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nimbus-dev/nimbus/internal/store"
)

func openRaw(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func userVersion(t *testing.T, db *sql.DB) int {
	t.Helper()
	var v int
	if err := db.QueryRow("PRAGMA user_version").Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestMigrateAppliesEachMigrationOnceInOrder(t *testing.T) {
	db := openRaw(t, filepath.Join(t.TempDir(), "m.db"))
	// Migration 1 would fail if run twice (the table exists); migration 2
	// fails unless 1 ran before it.
	list := []string{
		`CREATE TABLE t (a INTEGER)`,
		`ALTER TABLE t ADD COLUMN b TEXT; INSERT INTO t (a, b) VALUES (1, 'x')`,
	}
	if v, err := migrate(t.Context(), db, list[:1]); err != nil || v != 1 {
		t.Fatalf("first migration: version %d, %v", v, err)
	}
	if got := userVersion(t, db); got != 1 {
		t.Fatalf("user_version %d after one migration", got)
	}
	if v, err := migrate(t.Context(), db, list); err != nil || v != 2 {
		t.Fatalf("second migration: version %d, %v", v, err)
	}
	if v, err := migrate(t.Context(), db, list); err != nil || v != 2 {
		t.Fatalf("migrating an up-to-date database: version %d, %v", v, err)
	}
	var b string
	if err := db.QueryRow(`SELECT b FROM t WHERE a = 1`).Scan(&b); err != nil || b != "x" {
		t.Fatalf("migrated table: %q, %v", b, err)
	}
}

func TestFailedMigrationLeavesNoTrace(t *testing.T) {
	db := openRaw(t, filepath.Join(t.TempDir(), "m.db"))
	list := []string{
		`CREATE TABLE t (a INTEGER)`,
		`CREATE TABLE u (a INTEGER); INSERT INTO missing VALUES (1)`,
	}
	if _, err := migrate(t.Context(), db, list); err == nil || !strings.Contains(err.Error(), "migration 2") {
		t.Fatalf("broken migration 2: err = %v", err)
	}
	if got := userVersion(t, db); got != 1 {
		t.Fatalf("user_version %d after a failed migration 2, want 1", got)
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM sqlite_master WHERE name = 'u'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("failed migration left table u behind (%d, %v)", n, err)
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nimbus.db")
	s, err := Open(t.Context(), path, WithoutFsync())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	newer := len(migrations) + 1
	if _, err := openRaw(t, path).Exec(fmt.Sprintf("PRAGMA user_version = %d", newer)); err != nil {
		t.Fatal(err)
	}
	_, err = Open(t.Context(), path)
	if !errors.Is(err, store.ErrNewerSchema) {
		t.Fatalf("Open of a version %d database: %v, want ErrNewerSchema", newer, err)
	}
	if !strings.Contains(err.Error(), fmt.Sprint(newer)) {
		t.Errorf("error %q does not name the database's version", err)
	}
}

func TestOpenCreatesDirectoriesAndReopens(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "b", "nimbus.db")
	k := store.Key{Account: "123456789012", Region: "us-east-1", Kind: "k", ID: "x"}
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	var m store.Meta
	err = s.Update(t.Context(), func(tx store.Tx) error {
		m, err = tx.Create(k, map[string]int{"n": 1})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open(t.Context(), path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	st, err := s.Stats(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if st.Revision != m.Revision || st.SchemaVersion != len(migrations) || st.Location != path || st.SizeBytes <= 0 {
		t.Fatalf("Stats after reopen = %+v, want revision %d, schema %d, location %s and a size",
			st, m.Revision, len(migrations), path)
	}
	var got map[string]int
	err = s.View(t.Context(), func(tx store.Tx) error {
		_, err := tx.Get(k, &got)
		return err
	})
	if err != nil || got["n"] != 1 {
		t.Fatalf("after reopen: %v, %v", got, err)
	}
}

func TestSecondOpenIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nimbus.db")
	s, err := Open(t.Context(), path, WithoutFsync())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(t.Context(), path); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	s.Close()
}

func TestOpenRejectsBadPaths(t *testing.T) {
	if _, err := Open(t.Context(), filepath.Join(t.TempDir(), "x?mode=ro")); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("path with '?': %v, want ErrInvalid", err)
	}
}
