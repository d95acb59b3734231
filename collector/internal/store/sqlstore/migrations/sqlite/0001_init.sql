-- 0001: the first schema. Times are Unix nanoseconds (UTC), 0 for "never".
-- Sequence numbers are the agents' uint64 seqs, stored as INTEGER (< 2^63).

CREATE TABLE enroll_tokens (
	id          TEXT PRIMARY KEY,
	secret_hash BLOB NOT NULL,
	created_at  INTEGER NOT NULL,
	expires_at  INTEGER NOT NULL,
	max_uses    INTEGER NOT NULL CHECK (max_uses >= 0),
	uses_left   INTEGER NOT NULL CHECK (uses_left >= 0 AND uses_left <= max_uses),
	created_by  TEXT NOT NULL DEFAULT ''
) STRICT;

CREATE TABLE agents (
	id             TEXT PRIMARY KEY,
	fingerprint    TEXT NOT NULL,
	hostname       TEXT NOT NULL DEFAULT '',
	cert_serial    TEXT NOT NULL DEFAULT '',
	cert_not_after INTEGER NOT NULL DEFAULT 0,
	enrolled_at    INTEGER NOT NULL,
	revoked_at     INTEGER NOT NULL DEFAULT 0,
	last_seen      INTEGER NOT NULL DEFAULT 0,
	version        TEXT NOT NULL DEFAULT '',
	addr           TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX agents_fingerprint ON agents (fingerprint);
CREATE INDEX agents_hostname ON agents (hostname, id);

-- records holds every record as the agent sent it. Bodies can reach 4 MiB,
-- so this stays a rowid table (WITHOUT ROWID suits small rows only). Indexes
-- beyond the key cost ingest speed; add them with the queries that need them.
CREATE TABLE records (
	agent_id    TEXT NOT NULL REFERENCES agents (id),
	seq         INTEGER NOT NULL CHECK (seq > 0),
	kind        TEXT NOT NULL,
	observed_at INTEGER NOT NULL,
	received_at INTEGER NOT NULL,
	enc         INTEGER NOT NULL DEFAULT 0,
	body        BLOB NOT NULL,
	PRIMARY KEY (agent_id, seq)
) STRICT;

-- agent_stats is kept by Ingest in the same transaction as the records, so
-- the hosts list never counts the records table.
CREATE TABLE agent_stats (
	agent_id TEXT PRIMARY KEY REFERENCES agents (id),
	records  INTEGER NOT NULL DEFAULT 0,
	min_seq  INTEGER NOT NULL DEFAULT 0,
	max_seq  INTEGER NOT NULL DEFAULT 0
) STRICT;

-- hosts holds the newest host facts (JSON of wire.Host) an agent reported.
CREATE TABLE hosts (
	agent_id TEXT PRIMARY KEY REFERENCES agents (id),
	facts    TEXT NOT NULL,
	facts_at INTEGER NOT NULL
) STRICT;

CREATE TABLE users (
	name          TEXT PRIMARY KEY,
	password_hash TEXT NOT NULL,
	role          TEXT NOT NULL,
	created_at    INTEGER NOT NULL,
	failed_logins INTEGER NOT NULL DEFAULT 0,
	locked_until  INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE sessions (
	id_hash    BLOB PRIMARY KEY,
	user_name  TEXT NOT NULL REFERENCES users (name) ON UPDATE CASCADE ON DELETE CASCADE,
	csrf       TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX sessions_user ON sessions (user_name);
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE api_tokens (
	id         TEXT PRIMARY KEY,
	hash       BLOB NOT NULL,
	role       TEXT NOT NULL,
	name       TEXT NOT NULL DEFAULT '',
	created_at INTEGER NOT NULL,
	created_by TEXT NOT NULL DEFAULT '',
	last_used  INTEGER NOT NULL DEFAULT 0
) STRICT;

-- audit_log is append-only: the triggers refuse every UPDATE and DELETE.
-- AUTOINCREMENT keeps seqs from ever being reused.
CREATE TABLE audit_log (
	seq     INTEGER PRIMARY KEY AUTOINCREMENT,
	at      INTEGER NOT NULL,
	actor   TEXT NOT NULL,
	action  TEXT NOT NULL,
	subject TEXT NOT NULL DEFAULT '',
	detail  TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX audit_log_at ON audit_log (at);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
	SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE refused');
END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
	SELECT RAISE(ABORT, 'audit_log is append-only: DELETE refused');
END;

-- policies keeps every policy pushed to agents (body: JSON of wire.Policy);
-- the highest version is current.
CREATE TABLE policies (
	version INTEGER PRIMARY KEY CHECK (version > 0),
	body    TEXT NOT NULL
) STRICT;
