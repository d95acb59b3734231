package sqlstore

import (
	"path/filepath"
	"testing"

	"github.com/sonevakt/sonevakt/internal/pgtest"
)

// eachDialect runs fn as a subtest per dialect, each on a fresh, empty
// store: a new SQLite file, and a new PostgreSQL database (internal/pgtest;
// the PostgreSQL subtest skips, or fails under CI=true, without a server).
// The store is closed when the subtest ends.
func eachDialect(t *testing.T, fn func(t *testing.T, db *DB)) {
	t.Helper()
	eachDialectHandles(t, func(t *testing.T, open func() *DB) { fn(t, open()) })
}

// eachDialectHandles is eachDialect for tests that need more than one
// handle on the same data (a restart, two replicas): open opens a new handle
// at every call, each closed when the subtest ends (closing again one the
// test closed is harmless).
func eachDialectHandles(t *testing.T, fn func(t *testing.T, open func() *DB)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "sonevakt.db")
		fn(t, func() *DB {
			return openClosing(t, func() (*DB, error) { return OpenSQLite(t.Context(), path, testLogger(t)) })
		})
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := pgtest.DSN(t)
		fn(t, func() *DB {
			return openClosing(t, func() (*DB, error) { return OpenPostgres(t.Context(), dsn, testLogger(t)) })
		})
	})
}

// openClosing opens a store and closes it when t ends.
func openClosing(t *testing.T, open func() (*DB, error)) *DB {
	t.Helper()
	db, err := open()
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
