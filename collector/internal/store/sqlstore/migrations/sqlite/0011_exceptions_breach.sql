-- 0011: approved exceptions and breach assessments.

-- exceptions are approved exceptions (unntak): a rule and an exact finding
-- subject that the rules do not report while the exception is active (not
-- revoked, not expired). id is UNNTAK-<year>-<n>. Times are Unix
-- nanoseconds; revoked_at is 0 unless revoked.
CREATE TABLE exceptions (
	id           TEXT PRIMARY KEY,
	year         INTEGER NOT NULL,
	n            INTEGER NOT NULL CHECK (n > 0),
	rule         TEXT NOT NULL CHECK (rule <> ''),
	subject      TEXT NOT NULL CHECK (subject <> ''),
	reason       TEXT NOT NULL CHECK (reason <> ''),
	approved_by  TEXT NOT NULL,
	created_at   INTEGER NOT NULL,
	expires      INTEGER NOT NULL CHECK (expires > created_at),
	revoked_at   INTEGER NOT NULL DEFAULT 0,
	revoked_by   TEXT NOT NULL DEFAULT '',
	deviation_id TEXT NOT NULL DEFAULT '',
	UNIQUE (year, n)
) STRICT;
CREATE INDEX exceptions_active ON exceptions (revoked_at, expires);

-- exception_seq is the last n handed out per year.
CREATE TABLE exception_seq (
	year INTEGER PRIMARY KEY,
	n    INTEGER NOT NULL CHECK (n > 0)
) STRICT;

-- breach_decisions holds the one current breach decision per deviation; a
-- later decision replaces it (the timeline and the audit log keep both).
CREATE TABLE breach_decisions (
	deviation_id TEXT PRIMARY KEY REFERENCES deviations (id),
	decision     TEXT NOT NULL CHECK (decision IN ('notify', 'no-notify')),
	rationale    TEXT NOT NULL CHECK (rationale <> ''),
	art34        INTEGER NOT NULL CHECK (art34 IN (0, 1)),
	notified_at  INTEGER NOT NULL DEFAULT 0,
	reference    TEXT NOT NULL DEFAULT '',
	decided_by   TEXT NOT NULL,
	decided_at   INTEGER NOT NULL
) STRICT;

-- breach_escalations marks the deviations whose breach deadline passed
-- undecided, so that each is escalated once.
CREATE TABLE breach_escalations (
	deviation_id TEXT PRIMARY KEY REFERENCES deviations (id),
	at           INTEGER NOT NULL
) STRICT;
