// Package store opens the collector's store from a DSN and hands back a
// model.Store. The store itself is sqlstore/, one implementation for two SQL
// dialects: SQLite (embedded, the default) and PostgreSQL; storetest/ is the
// conformance suite both pass. The interfaces and error kinds themselves live
// in model.
package store

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/collector/internal/store/sqlstore"
)

// Open opens the store that dsn names:
//
//	sqlite:/var/lib/sonevakt/sonevakt.db   SQLite file (sqlite:///abs/path works too)
//	/var/lib/sonevakt/sonevakt.db          a plain path ending in .db: SQLite
//	postgres://user@host/db                PostgreSQL (also postgresql://…)
func Open(ctx context.Context, dsn string, logger *slog.Logger) (model.Store, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	kind, path, err := parse(dsn)
	if err != nil {
		return nil, err
	}
	switch kind {
	case "sqlite":
		db, err := sqlstore.OpenSQLite(ctx, path, logger.With("driver", "sqlite"))
		if err != nil {
			return nil, err
		}
		return db, nil
	default: // "postgres"
		db, err := sqlstore.OpenPostgres(ctx, dsn, logger.With("driver", "postgres"))
		if err != nil {
			return nil, err
		}
		return db, nil
	}
}

// parse splits a DSN into its driver and, for SQLite, the file path.
func parse(dsn string) (kind, path string, err error) {
	switch {
	case strings.HasPrefix(dsn, "sqlite:"):
		path = strings.TrimPrefix(dsn, "sqlite:")
		if strings.HasPrefix(path, "//") {
			path = path[2:] // sqlite:///abs/path
		}
		if path == "" {
			return "", "", fmt.Errorf("open store %q: no file path after sqlite: %w", dsn, model.ErrInvalid)
		}
		return "sqlite", path, nil
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return "postgres", "", nil
	case strings.HasSuffix(dsn, ".db") && !strings.Contains(dsn, "://"):
		return "sqlite", dsn, nil
	default:
		return "", "", fmt.Errorf("open store %q: want sqlite:PATH, PATH.db or postgres://…: %w", redact(dsn), model.ErrInvalid)
	}
}

// redact hides a password in a URL-shaped DSN, so it never reaches a log.
func redact(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		return u.Redacted()
	}
	if strings.Contains(dsn, "@") || strings.Contains(strings.ToLower(dsn), "password") {
		return "(DSN hidden)"
	}
	return dsn
}
