// Package sqlstore is the collector's store: one model.Store over
// database/sql that speaks two dialects. SQLite (modernc.org/sqlite, pure Go)
// is the embedded default: one file in WAL mode with synchronous=FULL, so a
// batch is on disk before it is acked. PostgreSQL (pgx) is for several
// collector replicas or a larger estate (postgres.go). The package owns the
// schema and its numbered migrations, one directory per dialect
// (migrations/sqlite/NNNN_name.sql, migrations/postgres/NNNN_name.sql,
// embedded), and both dialects pass the same conformance suite (storetest).
//
// One writer connection serialises writes inside the process; a pool of
// reader connections serves queries beside it. Other processes (a CLI creating
// a token while the collector runs) may open the same file at once: WAL lets
// them read beside the writer, and the busy timeout makes their writes wait
// for the lock instead of failing.
package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

// ErrSchemaTooNew is returned by Open for a database written by a newer
// collector than this one.
var ErrSchemaTooNew = errors.New("database schema is newer than this collector")

// busyTimeout is how long a statement waits for another connection's or
// process's lock before it fails with SQLITE_BUSY.
const busyTimeout = 10 * time.Second

//go:embed migrations
var migrationFS embed.FS

// Dialect names the SQL a DB speaks.
type Dialect string

const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// DB is the store. It is safe for concurrent use.
type DB struct {
	path    string // the SQLite file, or the PostgreSQL DSN with its password hidden
	dialect Dialect
	w       *sql.DB // the one writer connection; BEGIN IMMEDIATE (SQLite) or the write lock (PostgreSQL)
	r       *sql.DB // readers
	log     *slog.Logger
	pg      *pgState // PostgreSQL only: the listener behind Changes
	// ingester groups concurrent Ingest calls into one transaction.
	ingester *ingester
}

var _ model.Store = (*DB)(nil)

// Open opens the SQLite store at path, creating the file (mode 0600) and its
// schema when absent. The parent directory must exist. Open refuses a database
// whose schema is newer than this binary knows (ErrSchemaTooNew).
func OpenSQLite(ctx context.Context, path string, logger *slog.Logger) (*DB, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if path == "" || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("open sqlite store %q: path must be non-empty and without '?' or '#': %w", path, model.ErrInvalid)
	}
	if err := prepareFile(path, logger); err != nil {
		return nil, err
	}
	db := &DB{path: path, dialect: SQLite, log: logger}
	var err error
	pragmas := []string{
		"busy_timeout(" + strconv.FormatInt(busyTimeout.Milliseconds(), 10) + ")",
		"foreign_keys(ON)",
		"journal_mode(WAL)",
		"synchronous(FULL)", // WAL + FULL: a committed batch survives a power cut
	}
	if db.w, err = sql.Open("sqlite", dsn(path, pragmas, "_txlock=immediate")); err != nil {
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	db.w.SetMaxOpenConns(1)
	db.w.SetMaxIdleConns(1)
	db.w.SetConnMaxLifetime(0)
	db.w.SetConnMaxIdleTime(0)

	// Readers never write; query_only makes sure of it.
	if db.r, err = sql.Open("sqlite", dsn(path, []string{pragmas[0], pragmas[1], "query_only(1)"})); err != nil {
		db.w.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	db.r.SetMaxOpenConns(n)
	db.r.SetMaxIdleConns(n)

	if err := db.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	if err := db.chainAuditLog(ctx); err != nil { // entries from before migration 0013
		db.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	var mode string
	if err := db.w.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	if !strings.EqualFold(mode, "wal") {
		db.Close()
		return nil, fmt.Errorf("open sqlite store %s: journal mode is %q, want wal", path, mode)
	}
	db.ingester = newIngester(db)
	return db, nil
}

// dsn builds a modernc.org/sqlite data source name for a plain file path.
func dsn(path string, pragmas []string, extra ...string) string {
	q := make([]string, 0, len(pragmas)+len(extra))
	for _, p := range pragmas {
		q = append(q, "_pragma="+url.QueryEscape(p))
	}
	q = append(q, extra...)
	return path + "?" + strings.Join(q, "&")
}

// prepareFile checks the parent directory and creates the database file with
// mode 0600 when absent, before SQLite opens it (SQLite gives the -wal and
// -shm files the same mode). It must run before any connection opens the
// file: closing a descriptor drops the process's POSIX locks on it.
func prepareFile(path string, logger *slog.Logger) error {
	dir := filepath.Dir(path)
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("open sqlite store %s: %s is not a directory", path, dir)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case err == nil:
		return f.Close()
	case !errors.Is(err, fs.ErrExist):
		return fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	st, err = os.Stat(path)
	if err != nil {
		return fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("open sqlite store %s: not a regular file", path)
	}
	if st.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(path, 0o600); err != nil {
			logger.Warn("store file is readable by others", "path", path, "mode", st.Mode().Perm().String(), "err", err)
		} else {
			logger.Warn("store file was readable by others; now 0600", "path", path, "was", st.Mode().Perm().String())
		}
	}
	return nil
}

// Close closes both connection pools.
func (db *DB) Close() error {
	db.ingester.close()
	if db.dialect == Postgres {
		db.pg.close()
		return errors.Join(db.r.Close(), db.w.Close())
	}
	// Let SQLite refresh its planner statistics where they are stale; cheap.
	_, _ = db.w.Exec("PRAGMA optimize")
	return errors.Join(db.r.Close(), db.w.Close())
}

// Path returns the database file's path, or for PostgreSQL its DSN without
// the password.
func (db *DB) Path() string { return db.path }

// Dialect returns the SQL dialect the store speaks.
func (db *DB) Dialect() Dialect { return db.dialect }

// migration is one numbered schema change.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns a dialect's embedded migrations in order. Their numbers
// must run without gaps from the first. PostgreSQL's begin at 13, one file
// with the schema SQLite reached through migrations 1 to 13: from there on,
// a schema version means the same schema in both dialects.
func migrations(d Dialect) ([]migration, error) {
	dir := "migrations/" + string(d)
	ents, err := fs.ReadDir(migrationFS, dir)
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range ents {
		num, _, ok := strings.Cut(e.Name(), "_")
		if !ok || !strings.HasSuffix(e.Name(), ".sql") {
			return nil, fmt.Errorf("migration %s: name is not NNNN_name.sql", e.Name())
		}
		v, err := strconv.Atoi(num)
		if err != nil {
			return nil, fmt.Errorf("migration %s: %w", e.Name(), err)
		}
		b, err := migrationFS.ReadFile(dir + "/" + e.Name())
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: strings.TrimSuffix(e.Name(), ".sql"), sql: string(b)})
	}
	slices.SortFunc(ms, func(a, b migration) int { return a.version - b.version })
	if len(ms) == 0 {
		return nil, fmt.Errorf("no migrations in %s", dir)
	}
	for i, m := range ms {
		if want := ms[0].version + i; m.version != want {
			return nil, fmt.Errorf("migration %s: numbered %d, want %d", m.name, m.version, want)
		}
	}
	return ms, nil
}

// SchemaVersion returns the number of the newest migration this binary knows.
func SchemaVersion() int {
	ms, err := migrations(SQLite)
	if err != nil {
		return 0
	}
	return ms[len(ms)-1].version
}

// migrate applies pending migrations, each in its own IMMEDIATE transaction, so
// that two processes opening a new file at once apply each migration once.
func (db *DB) migrate(ctx context.Context) error {
	ms, err := migrations(db.dialect)
	if err != nil {
		return err
	}
	create := `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at INTEGER NOT NULL
	) STRICT`
	if db.dialect == Postgres {
		create = `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    BIGINT PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at BIGINT NOT NULL
	)`
	}
	// In a write transaction: on PostgreSQL the write lock keeps two
	// replicas starting at once from racing on the catalogue.
	if err := db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, create)
		return err
	}); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	current, err := db.schemaVersion(ctx)
	if err != nil {
		return err
	}
	newest := ms[len(ms)-1].version
	if current > newest {
		return fmt.Errorf("%w: the database is at schema version %d, this sonevakt-collector knows up to %d; run a newer sonevakt-collector (or restore a backup taken before the upgrade)",
			ErrSchemaTooNew, current, newest)
	}
	if current != 0 && current < ms[0].version-1 {
		return fmt.Errorf("the database is at schema version %d, older than this collector's first %s migration (%d)", current, db.dialect, ms[0].version)
	}
	for _, m := range ms {
		if m.version <= current {
			continue
		}
		applied, err := db.apply(ctx, m)
		if err != nil {
			return fmt.Errorf("migrate to %s: %w", m.name, err)
		}
		if applied {
			db.log.Info("schema migrated", "version", m.version, "name", m.name)
		}
	}
	return nil
}

func (db *DB) schemaVersion(ctx context.Context) (int, error) {
	var v int
	if err := db.w.QueryRowContext(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}

// apply runs one migration unless another process applied it first; applied
// reports whether this call did.
func (db *DB) apply(ctx context.Context, m migration) (applied bool, err error) {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM schema_migrations WHERE version = ?", m.version).Scan(&n); err != nil {
		return false, err
	}
	if n > 0 {
		return false, nil
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return false, err
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
		m.version, m.name, time.Now().UnixNano()); err != nil {
		return false, err
	}
	return true, tx.Commit()
}

// nanos stores t as Unix nanoseconds; the zero time is 0.
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// fromNanos reads back what nanos stored: 0 is the zero time, else UTC.
func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// blob keeps an empty byte slice from being bound as NULL.
func blob(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// sqliteCode returns the extended result code of a SQLite error, or 0.
func sqliteCode(err error) int {
	var e *sqlite.Error
	if errors.As(err, &e) {
		return e.Code()
	}
	return 0
}

// isDuplicate reports whether err is a primary-key or unique violation, in
// either dialect.
func isDuplicate(err error) bool {
	c := sqliteCode(err)
	return c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY || c == sqlite3.SQLITE_CONSTRAINT_UNIQUE ||
		pgCode(err) == pgUniqueViolation
}

// isForeignKey reports whether err is a foreign-key violation, in either
// dialect.
func isForeignKey(err error) bool {
	return sqliteCode(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY || pgCode(err) == pgForeignKeyViolation
}

// write runs fn in one IMMEDIATE transaction on the writer connection.
func (db *DB) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// exactlyOne turns an Exec result into ErrNotFound when no row matched.
func exactlyOne(res sql.Result, err error, what string) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", what, model.ErrNotFound)
	}
	return nil
}

// pick returns the SQLite or the PostgreSQL form of a fragment of SQL, for the
// few places where the dialects differ in more than placeholders.
func (db *DB) pick(sqlite, postgres string) string {
	if db.dialect == Postgres {
		return postgres
	}
	return sqlite
}

// globToLike turns the GLOB patterns inventory.NameGlob makes (`*`, `?`, and
// one-character classes such as `[?]` for a literal) into a LIKE pattern with
// backslash as its escape.
func globToLike(g string) string {
	var b strings.Builder
	for i := 0; i < len(g); i++ {
		switch c := g[i]; c {
		case '*':
			b.WriteByte('%')
		case '?':
			b.WriteByte('_')
		case '[':
			if i+2 < len(g) && g[i+2] == ']' { // [x]: the literal x
				c = g[i+1]
				i += 2
			}
			if c == '%' || c == '_' || c == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(c)
		case '%', '_', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
