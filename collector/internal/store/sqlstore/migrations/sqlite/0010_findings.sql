-- 0010: the state of standing conditions.

-- finding_state keeps, per rule and subject, whether a standing condition
-- (an unregistered host, a silent agent, a cloned identity, a supplier
-- account without a declaration) held at the last evaluation of its subject.
-- A condition that is restated while active adds nothing to its deviation;
-- one that clears and comes back goes through the deviations' dedupe again.
-- Times are Unix nanoseconds; cleared_at is 0 while active or never cleared.
CREATE TABLE finding_state (
	rule       TEXT NOT NULL,
	subject    TEXT NOT NULL,
	active     INTEGER NOT NULL CHECK (active IN (0, 1)),
	since      INTEGER NOT NULL,
	last_seen  INTEGER NOT NULL,
	cleared_at INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (rule, subject)
) STRICT, WITHOUT ROWID;
