-- 0003: removable media and deviations.

-- media_log is the projection of the agents' media records: Ingest adds a
-- row for every media record new to the store, in the batch's transaction.
-- key is the medium's register key (vid:pid:serial), event the record's
-- wire.MediaEvent as JSON. evaluated turns 1 once the rules have judged the
-- event, in the transaction that stores their findings.
CREATE TABLE media_log (
	id          INTEGER PRIMARY KEY,
	agent_id    TEXT NOT NULL REFERENCES agents (id),
	seq         INTEGER NOT NULL,
	at          INTEGER NOT NULL,
	received_at INTEGER NOT NULL,
	action      TEXT NOT NULL,
	key         TEXT NOT NULL,
	class       TEXT NOT NULL DEFAULT '',
	event       TEXT NOT NULL,
	evaluated   INTEGER NOT NULL DEFAULT 0 CHECK (evaluated IN (0, 1)),
	UNIQUE (agent_id, seq)
) STRICT;
CREATE INDEX media_log_agent ON media_log (agent_id, id);
CREATE INDEX media_log_key ON media_log (key, id);
CREATE INDEX media_log_pending ON media_log (id) WHERE evaluated = 0;

-- media_register is the municipality's own media (S6.1), by register key.
CREATE TABLE media_register (
	key                 TEXT PRIMARY KEY,
	vid                 TEXT NOT NULL,
	pid                 TEXT NOT NULL,
	serial              TEXT NOT NULL,
	marking_id          TEXT NOT NULL DEFAULT '',
	owner_unit          TEXT NOT NULL DEFAULT '',
	classification      TEXT NOT NULL DEFAULT '',
	encryption_required INTEGER NOT NULL DEFAULT 0 CHECK (encryption_required IN (0, 1)),
	note                TEXT NOT NULL DEFAULT '',
	updated_at          INTEGER NOT NULL,
	updated_by          TEXT NOT NULL DEFAULT ''
) STRICT;

-- deviations holds the avvik cases. id is AVVIK-<year>-<n>; (year, n) orders
-- them. refs, assignees, facts and evidence are JSON. The partial unique
-- index keeps one open deviation per rule and subject, whichever process
-- writes; a closed or rejected one leaves room for a new one.
CREATE TABLE deviations (
	id            TEXT PRIMARY KEY,
	year          INTEGER NOT NULL,
	n             INTEGER NOT NULL CHECK (n > 0),
	rule          TEXT NOT NULL,
	subject       TEXT NOT NULL,
	agent_id      TEXT NOT NULL DEFAULT '', -- '' when none; not a reference
	title         TEXT NOT NULL,
	severity      TEXT NOT NULL,
	refs          TEXT NOT NULL DEFAULT '[]',
	status        TEXT NOT NULL CHECK (status IN ('ny', 'under behandling', 'lukket', 'avvist')),
	assignees     TEXT NOT NULL DEFAULT '[]',
	created_at    INTEGER NOT NULL,
	updated_at    INTEGER NOT NULL,
	due_at        INTEGER NOT NULL DEFAULT 0,
	first_seen    INTEGER NOT NULL,
	last_seen     INTEGER NOT NULL,
	count         INTEGER NOT NULL DEFAULT 1 CHECK (count > 0),
	personal_data INTEGER NOT NULL DEFAULT 0 CHECK (personal_data IN (0, 1)),
	breach_t0     INTEGER NOT NULL DEFAULT 0,
	breach_due    INTEGER NOT NULL DEFAULT 0,
	facts         TEXT NOT NULL DEFAULT '{}',
	evidence      TEXT NOT NULL DEFAULT '[]', -- the newest 50 occurrences' records
	UNIQUE (year, n)
) STRICT;
CREATE UNIQUE INDEX deviations_open ON deviations (rule, subject) WHERE status IN ('ny', 'under behandling');
CREATE INDEX deviations_created ON deviations (created_at, year, n);
CREATE INDEX deviations_subject ON deviations (subject, rule);
CREATE INDEX deviations_agent ON deviations (agent_id, created_at);

-- deviation_seq is the last n handed out per year.
CREATE TABLE deviation_seq (
	year INTEGER PRIMARY KEY,
	n    INTEGER NOT NULL CHECK (n > 0)
) STRICT;

-- deviation_timeline is append-only, as audit_log.
CREATE TABLE deviation_timeline (
	seq          INTEGER PRIMARY KEY AUTOINCREMENT,
	deviation_id TEXT NOT NULL REFERENCES deviations (id),
	at           INTEGER NOT NULL,
	actor        TEXT NOT NULL,
	type         TEXT NOT NULL,
	text         TEXT NOT NULL DEFAULT '',
	detail       TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX deviation_timeline_deviation ON deviation_timeline (deviation_id, seq);

CREATE TRIGGER deviation_timeline_no_update BEFORE UPDATE ON deviation_timeline
BEGIN
	SELECT RAISE(ABORT, 'deviation_timeline is append-only: UPDATE refused');
END;

CREATE TRIGGER deviation_timeline_no_delete BEFORE DELETE ON deviation_timeline
BEGIN
	SELECT RAISE(ABORT, 'deviation_timeline is append-only: DELETE refused');
END;
