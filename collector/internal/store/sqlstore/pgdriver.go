package sqlstore

import (
	"context"
	"database/sql/driver"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// writeLockKey is the PostgreSQL advisory lock every write transaction takes
// first. It gives PostgreSQL the store's SQLite model, one writer at a time,
// across every collector replica sharing the database: a read-then-write in a
// transaction (the next deviation number, an outbox claim, a dedupe check)
// sees no other writer between its read and its write. Readers never take it.
const writeLockKey = 0x536f6e65766b7401 // "Sonevkt" + 1

// pgConnector hands database/sql connections to PostgreSQL (pgx's database/sql
// driver) that speak the store's SQL: `?` placeholders become $1, $2 …, and
// with lock set, every transaction begins by taking the write lock.
type pgConnector struct {
	inner driver.Connector
	lock  bool
}

func newPGConnector(cfg *pgx.ConnConfig, lock bool) *pgConnector {
	return &pgConnector{inner: stdlib.GetConnector(*cfg), lock: lock}
}

func (c *pgConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.inner.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &pgConn{Conn: conn.(*stdlib.Conn), lock: c.lock}, nil
}

func (c *pgConnector) Driver() driver.Driver { return c.inner.Driver() }

// pgConn rewrites placeholders on the way in. Only the interfaces database/sql
// uses are implemented; each delegates to pgx.
type pgConn struct {
	*stdlib.Conn
	lock bool
}

var (
	_ driver.ConnBeginTx        = (*pgConn)(nil)
	_ driver.ExecerContext      = (*pgConn)(nil)
	_ driver.QueryerContext     = (*pgConn)(nil)
	_ driver.ConnPrepareContext = (*pgConn)(nil)
	_ driver.SessionResetter    = (*pgConn)(nil)
	_ driver.NamedValueChecker  = (*pgConn)(nil)
)

func (c *pgConn) Prepare(query string) (driver.Stmt, error) {
	return c.Conn.Prepare(dollarPlaceholders(query))
}

func (c *pgConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.Conn.PrepareContext(ctx, dollarPlaceholders(query))
}

// ExecContext and QueryContext leave a statement without arguments as it is:
// a migration is SQL as PostgreSQL reads it, function bodies and all.
func (c *pgConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if len(args) > 0 {
		query = dollarPlaceholders(query)
	}
	return c.Conn.ExecContext(ctx, query, args)
}

func (c *pgConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if len(args) > 0 {
		query = dollarPlaceholders(query)
	}
	return c.Conn.QueryContext(ctx, query, args)
}

func (c *pgConn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *pgConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	tx, err := c.Conn.BeginTx(ctx, opts)
	if err != nil || !c.lock || opts.ReadOnly {
		return tx, err
	}
	if _, err := c.Conn.ExecContext(ctx, "SELECT pg_advisory_xact_lock("+strconv.FormatInt(writeLockKey, 10)+")", nil); err != nil {
		_ = tx.Rollback()
		return nil, err
	}
	return tx, nil
}

// dollarPlaceholders turns each `?` outside quotes and comments into $1, $2 …
// The store's SQL never uses PostgreSQL's `?` JSON operators.
func dollarPlaceholders(q string) string {
	if strings.IndexByte(q, '?') < 0 {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	for i := 0; i < len(q); i++ {
		switch ch := q[i]; ch {
		case '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		case '\'', '"':
			j := i + 1
			for j < len(q) {
				if q[j] == ch {
					if j+1 < len(q) && q[j+1] == ch { // doubled quote inside
						j += 2
						continue
					}
					break
				}
				j++
			}
			if j >= len(q) {
				j = len(q) - 1
			}
			b.WriteString(q[i : j+1])
			i = j
		case '-':
			if i+1 < len(q) && q[i+1] == '-' {
				j := strings.IndexByte(q[i:], '\n')
				if j < 0 {
					j = len(q) - i - 1
				}
				b.WriteString(q[i : i+j+1])
				i += j
				continue
			}
			b.WriteByte(ch)
		default:
			b.WriteByte(ch)
		}
	}
	return b.String()
}

// CheckNamedValue binds a Go bool as the integer 0 or 1 the store's columns
// hold in both dialects, and a string with NUL bytes with U+FFFD in their
// place: PostgreSQL's text cannot hold NUL, and one agent-reported name with
// one must not make its batch fail for ever. (The record itself is kept as
// sent: bodies are bytea.) Everything else goes to pgx as it is.
func (c *pgConn) CheckNamedValue(nv *driver.NamedValue) error {
	switch v := nv.Value.(type) {
	case bool:
		nv.Value = int64(0)
		if v {
			nv.Value = int64(1)
		}
	case string:
		if strings.IndexByte(v, 0) >= 0 {
			nv.Value = strings.ReplaceAll(v, "\x00", "\uFFFD")
		}
	}
	return nil
}
