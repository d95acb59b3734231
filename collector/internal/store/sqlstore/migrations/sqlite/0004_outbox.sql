-- 0004: the durable notification outbox.

-- notify_outbox holds every notification (e-mail, webhook) until it is
-- delivered or given up. id is the caller's idempotency key. next_at is when
-- the next attempt is due (also the lease a dispatcher takes while sending);
-- delivered_at is 0 until delivered; failed turns 1 when delivery is given up.
CREATE TABLE notify_outbox (
	id           TEXT PRIMARY KEY,
	channel      TEXT NOT NULL,
	recipient    TEXT NOT NULL,
	lang         TEXT NOT NULL DEFAULT '',
	subject      TEXT NOT NULL DEFAULT '',
	text         TEXT NOT NULL DEFAULT '',
	json         BLOB NOT NULL DEFAULT x'',
	created_at   INTEGER NOT NULL,
	next_at      INTEGER NOT NULL,
	attempts     INTEGER NOT NULL DEFAULT 0,
	last_error   TEXT NOT NULL DEFAULT '',
	delivered_at INTEGER NOT NULL DEFAULT 0,
	failed       INTEGER NOT NULL DEFAULT 0 CHECK (failed IN (0, 1))
) STRICT;
CREATE INDEX notify_outbox_due ON notify_outbox (next_at, id) WHERE delivered_at = 0 AND failed = 0;
