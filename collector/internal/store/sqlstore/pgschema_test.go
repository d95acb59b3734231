package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/internal/pgtest"
)

// TestPostgresSchemaMatchesSQLite compares the schema a fresh PostgreSQL store
// has (migrations/postgres) with the one a fresh SQLite store reaches through
// its numbered migrations: the same tables; per table the same columns in the
// same order with the same type, NOT NULL and primary key; the same indexes
// (name, columns, unique, partial), unique constraints, foreign keys, CHECK
// constraints and triggers. Every PostgreSQL text column sorts as SQLite's
// BINARY collation does (COLLATE "C").
func TestPostgresSchemaMatchesSQLite(t *testing.T) {
	lite := mustOpen(t, filepath.Join(t.TempDir(), "s.db"))
	pg := openPG(t, pgtest.DSN(t))
	defer pg.Close()
	ctx := t.Context()

	want, err := sqliteSchema(ctx, lite.r)
	if err != nil {
		t.Fatalf("read the SQLite schema: %v", err)
	}
	got, err := postgresSchema(ctx, pg.r)
	if err != nil {
		t.Fatalf("read the PostgreSQL schema: %v", err)
	}
	if len(want) < 30 {
		t.Fatalf("the SQLite schema has only %d facts; the reading is broken", len(want))
	}
	for _, f := range want {
		if !slices.Contains(got, f) {
			t.Errorf("PostgreSQL lacks %s", f)
		}
	}
	for _, f := range got {
		if !slices.Contains(want, f) && !strings.HasSuffix(f, "_no_truncate") {
			t.Errorf("PostgreSQL has %s, SQLite does not", f)
		}
	}
	var bad []string
	if err := queryStrings(ctx, pg.r, &bad, `SELECT c.relname || '.' || a.attname || ' ' || coalesce(co.collname, '')
		FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		LEFT JOIN pg_collation co ON co.oid = a.attcollation
		WHERE n.nspname = current_schema() AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
			AND a.atttypid = 'text'::regtype AND c.relname <> 'schema_migrations' AND co.collname IS DISTINCT FROM 'C'`); err != nil {
		t.Fatal(err)
	}
	for _, b := range bad {
		t.Errorf("text column %s: want COLLATE \"C\" (SQLite's byte order)", b)
	}
}

// sqliteTypes maps SQLite's STRICT column types to PostgreSQL's.
var sqliteTypes = map[string]string{"INTEGER": "bigint", "TEXT": "text", "BLOB": "bytea", "REAL": "double precision"}

// sqliteSchema lists the schema as facts that postgresSchema states alike.
func sqliteSchema(ctx context.Context, q *sql.DB) ([]string, error) {
	var facts []string
	rows, err := q.QueryContext(ctx, `SELECT m.name, p.name, p.type, p."notnull", p.pk
		FROM sqlite_schema m, pragma_table_info(m.name) p
		WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\_%' ESCAPE '\' ORDER BY m.name, p.cid`)
	if err != nil {
		return nil, err
	}
	pos := map[string]int{}
	for rows.Next() {
		var table, col, typ string
		var notNull bool
		var pk int
		if err := rows.Scan(&table, &col, &typ, &notNull, &pk); err != nil {
			rows.Close()
			return nil, err
		}
		pgType, ok := sqliteTypes[typ]
		if !ok {
			rows.Close()
			return nil, fmt.Errorf("column %s.%s: type %q", table, col, typ)
		}
		pos[table]++
		facts = append(facts, fmt.Sprintf("column %s #%d %s %s notnull=%t pk=%d", table, pos[table], col, pgType, notNull || pk > 0, pk))
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var idx []string
	if err := queryStrings(ctx, q, &idx, `SELECT 'index ' || m.name || ' ' ||
			CASE i.origin WHEN 'u' THEN 'UNIQUE' ELSE i.name END || ' unique=' || CASE i."unique" WHEN 1 THEN 'true' ELSE 'false' END ||
			' partial=' || CASE i.partial WHEN 1 THEN 'true' ELSE 'false' END || ' (' ||
			(SELECT group_concat(name, ',') FROM (SELECT c.name FROM pragma_index_info(i.name) c ORDER BY c.seqno)) || ')'
		FROM sqlite_schema m, pragma_index_list(m.name) i
		WHERE m.type = 'table' AND i.origin <> 'pk'`); err != nil {
		return nil, err
	}
	var fks []string
	if err := queryStrings(ctx, q, &fks, `SELECT 'foreign key ' || m.name || '.' || f."from" || ' -> ' || f."table" || '.' || f."to" ||
			' on update ' || f.on_update || ' on delete ' || f.on_delete
		FROM sqlite_schema m, pragma_foreign_key_list(m.name) f WHERE m.type = 'table'`); err != nil {
		return nil, err
	}
	var trg []string
	if err := queryStrings(ctx, q, &trg, `SELECT 'trigger ' || tbl_name || ' ' || name FROM sqlite_schema WHERE type = 'trigger'`); err != nil {
		return nil, err
	}
	// CHECK constraints have no catalogue in SQLite: count them in the
	// tables' SQL, per table.
	var checks []string
	if err := queryStrings(ctx, q, &checks, `SELECT 'checks ' || name || ' ' ||
			((length(sql) - length(replace(sql, 'CHECK (', ''))) / length('CHECK ('))
		FROM sqlite_schema WHERE type = 'table' AND sql LIKE '%CHECK (%'`); err != nil {
		return nil, err
	}
	facts = append(append(append(append(facts, idx...), fks...), trg...), checks...)
	slices.Sort(facts)
	return facts, nil
}

// postgresSchema lists the PostgreSQL schema as sqliteSchema does, leaving
// out the primary keys' indexes (SQLite has none for a rowid key).
func postgresSchema(ctx context.Context, q *sql.DB) ([]string, error) {
	var facts []string
	queries := []string{
		`SELECT 'column ' || c.relname || ' #' || row_number() OVER (PARTITION BY c.relname ORDER BY a.attnum) || ' ' ||
			a.attname || ' ' || format_type(a.atttypid, NULL) || ' notnull=' || a.attnotnull::text || ' pk=' ||
			coalesce((SELECT array_position(i.indkey::int2[], a.attnum) - array_lower(i.indkey::int2[], 1) + 1
				FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary), 0)
		FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = current_schema() AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped`,
		`SELECT 'index ' || c.relname || ' ' ||
			CASE WHEN EXISTS (SELECT 1 FROM pg_constraint x WHERE x.conindid = i.indexrelid AND x.contype = 'u') THEN 'UNIQUE' ELSE ic.relname END ||
			' unique=' || i.indisunique::text || ' partial=' || (i.indpred IS NOT NULL)::text || ' (' ||
			(SELECT string_agg(a.attname, ',' ORDER BY k.ord) FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, ord)
				JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum) || ')'
		FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_class ic ON ic.oid = i.indexrelid
			JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = current_schema() AND NOT i.indisprimary`,
		`SELECT 'foreign key ' || c.relname || '.' || a.attname || ' -> ' || f.relname || '.' || fa.attname ||
			' on update ' || CASE x.confupdtype WHEN 'c' THEN 'CASCADE' WHEN 'r' THEN 'RESTRICT' WHEN 'n' THEN 'SET NULL' WHEN 'd' THEN 'SET DEFAULT' ELSE 'NO ACTION' END ||
			' on delete ' || CASE x.confdeltype WHEN 'c' THEN 'CASCADE' WHEN 'r' THEN 'RESTRICT' WHEN 'n' THEN 'SET NULL' WHEN 'd' THEN 'SET DEFAULT' ELSE 'NO ACTION' END
		FROM pg_constraint x JOIN pg_class c ON c.oid = x.conrelid JOIN pg_class f ON f.oid = x.confrelid
			JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = x.conkey[1]
			JOIN pg_attribute fa ON fa.attrelid = f.oid AND fa.attnum = x.confkey[1]
			JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE x.contype = 'f' AND n.nspname = current_schema()`,
		`SELECT 'trigger ' || c.relname || ' ' || g.tgname FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid
			JOIN pg_namespace n ON n.oid = c.relnamespace WHERE NOT g.tgisinternal AND n.nspname = current_schema()`,
		`SELECT 'checks ' || c.relname || ' ' || count(*) FROM pg_constraint x JOIN pg_class c ON c.oid = x.conrelid
			JOIN pg_namespace n ON n.oid = c.relnamespace WHERE x.contype = 'c' AND n.nspname = current_schema() GROUP BY c.relname`,
	}
	for _, query := range queries {
		if err := queryStrings(ctx, q, &facts, query); err != nil {
			return nil, err
		}
	}
	slices.Sort(facts)
	return facts, nil
}

// queryStrings appends the one text column query returns to dst.
func queryStrings(ctx context.Context, q *sql.DB, dst *[]string, query string) error {
	rows, err := q.QueryContext(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return err
		}
		*dst = append(*dst, s)
	}
	return rows.Err()
}

// TestPostgresAppendOnly: the PL/pgSQL triggers refuse what SQLite's refuse,
// with the same message, and TRUNCATE too; an audit entry without a hash may
// get one, once.
func TestPostgresAppendOnly(t *testing.T) {
	db := openPG(t, pgtest.DSN(t))
	defer db.Close()
	ctx := t.Context()
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	f := model.NewDeviation{Finding: model.Finding{Rule: "unknown-media", Subject: "media:0781:5583:X", Title: "t", Severity: model.SeverityHigh, At: now}}
	if _, err := db.RecordFindings(ctx, []model.NewDeviation{f}, model.Judged{}, now); err != nil {
		t.Fatal(err)
	}
	seq, err := db.AppendAudit(ctx, model.AuditEvent{At: now, Actor: "system", Action: "test.event", Subject: "x"})
	if err != nil {
		t.Fatal(err)
	}
	before, err := db.ListAudit(ctx, 0, 10)
	if err != nil || len(before) == 0 || before[len(before)-1].Seq != seq {
		t.Fatalf("ListAudit = %+v, %v; want entries up to %d", before, err, seq)
	}
	if _, err := db.w.ExecContext(ctx, `INSERT INTO audit_checkpoints (seq, head, at, fingerprint, signature) VALUES (1, '\x00'::bytea, 1, 'f', '\x00'::bytea)`); err != nil {
		t.Fatal(err)
	}
	s := strconv.FormatInt(seq, 10)
	for _, q := range []string{
		`UPDATE audit_log SET detail = 'forged' WHERE seq = ` + s,
		`UPDATE audit_log SET seq = seq + 100`,
		`UPDATE audit_log SET hash = NULL WHERE seq = ` + s,
		`DELETE FROM audit_log WHERE seq = ` + s,
		`TRUNCATE audit_log`,
		`UPDATE deviation_timeline SET text = 'forged'`,
		`DELETE FROM deviation_timeline`,
		`TRUNCATE deviation_timeline`,
		`UPDATE audit_checkpoints SET seq = 2`,
		`DELETE FROM audit_checkpoints`,
		`TRUNCATE audit_checkpoints`,
	} {
		_, err := db.w.ExecContext(ctx, q)
		if err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s = %v, want an append-only refusal", q, err)
		}
	}
	if after, err := db.ListAudit(ctx, 0, 10); err != nil || !slices.EqualFunc(before, after, func(a, b model.AuditEvent) bool {
		return a == b
	}) {
		t.Errorf("ListAudit after refused changes = %+v, %v; want %+v", after, err, before)
	}

	// An entry from before the chain (hash NULL) may get its hash once.
	next := strconv.FormatInt(seq+1, 10)
	if _, err := db.w.ExecContext(ctx, `INSERT INTO audit_log (seq, at, actor, action) VALUES (`+next+`, 1, 'a', 'b')`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.w.ExecContext(ctx, `UPDATE audit_log SET hash = '\x01'::bytea WHERE seq = `+next); err != nil {
		t.Errorf("filling a missing hash = %v, want allowed", err)
	}
	if _, err := db.w.ExecContext(ctx, `UPDATE audit_log SET hash = '\x02'::bytea WHERE seq = `+next); err == nil || !strings.Contains(err.Error(), "append-only") {
		t.Errorf("replacing a hash = %v, want an append-only refusal", err)
	}
	// The store chooses every seq: an entry without one is refused, not numbered.
	if _, err := db.w.ExecContext(ctx, `INSERT INTO audit_log (at, actor, action) VALUES (1, 'a', 'b')`); err == nil {
		t.Error("audit entry without a seq was stored")
	}
}
