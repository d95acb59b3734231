package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

// PostgreSQL error codes the store maps to model errors.
const (
	pgUniqueViolation     = "23505"
	pgForeignKeyViolation = "23503"
)

// pgCode returns the SQLSTATE of a PostgreSQL error, or "".
func pgCode(err error) string {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// OpenPostgres opens the store on the PostgreSQL database dsn names
// (postgres://user:pass@host:5432/db?sslmode=verify-full, or the key=value
// form) and migrates its schema. Several collectors may open one database at
// once: migrations and every write transaction take the same advisory lock, so
// the replicas write one at a time, as the processes sharing a SQLite file do,
// and read side by side.
func OpenPostgres(ctx context.Context, dsn string, logger *slog.Logger) (*DB, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres store: %s: %w", redactDSN(dsn), model.ErrInvalid)
	}
	name := redactDSN(dsn)
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	// Times are stored as Unix nanoseconds, so the session time zone changes
	// nothing; the name shows who holds a connection in pg_stat_activity.
	cfg.RuntimeParams["application_name"] = "sonevakt-collector"
	db := &DB{path: name, dialect: Postgres, log: logger}
	db.w = sql.OpenDB(newPGConnector(cfg, true))
	db.w.SetMaxOpenConns(1)
	db.w.SetMaxIdleConns(1)
	db.w.SetConnMaxIdleTime(5 * time.Minute)
	// Readers cannot write, as SQLite's query_only readers cannot.
	rcfg := cfg.Copy()
	rcfg.RuntimeParams["default_transaction_read_only"] = "on"
	db.r = sql.OpenDB(newPGConnector(rcfg, false))
	n := max(4, runtime.GOMAXPROCS(0))
	db.r.SetMaxOpenConns(n)
	db.r.SetMaxIdleConns(n)
	db.r.SetConnMaxIdleTime(5 * time.Minute)

	if err := db.w.PingContext(ctx); err != nil {
		db.w.Close()
		db.r.Close()
		return nil, fmt.Errorf("open postgres store %s: %w", name, err)
	}
	if err := db.migrate(ctx); err != nil {
		db.w.Close()
		db.r.Close()
		return nil, fmt.Errorf("open postgres store %s: %w", name, err)
	}
	if err := db.chainAuditLog(ctx); err != nil {
		db.w.Close()
		db.r.Close()
		return nil, fmt.Errorf("open postgres store %s: %w", name, err)
	}
	db.pg = newPGState(cfg, logger)
	db.ingester = newIngester(db)
	return db, nil
}

// redactDSN hides a password in a DSN of either form.
func redactDSN(dsn string) string {
	cfg, err := pgconn.ParseConfig(dsn)
	if err != nil {
		return "(unparsable DSN)"
	}
	return fmt.Sprintf("postgres://%s@%s:%d/%s", cfg.User, cfg.Host, cfg.Port, cfg.Database)
}
