-- 0013: the audit log becomes a hash chain, with signed checkpoints (S8).

-- hash is SHA-256 over the previous entry's hash and this entry's seq, at,
-- actor, action, subject and detail (evidence.EntryHash). New entries get it
-- in the transaction that appends them; entries written before this
-- migration get it in Go when the store opens (NULL until then).
ALTER TABLE audit_log ADD COLUMN hash BLOB;

-- The log stays append-only. The one update allowed is filling the hash of
-- an entry that has none, leaving every other column as it is.
DROP TRIGGER audit_log_no_update;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
WHEN NOT (OLD.hash IS NULL AND NEW.hash IS NOT NULL AND NEW.seq = OLD.seq AND NEW.at = OLD.at
	AND NEW.actor = OLD.actor AND NEW.action = OLD.action AND NEW.subject = OLD.subject AND NEW.detail = OLD.detail)
BEGIN
	SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE refused');
END;

-- audit_checkpoints are signed statements "entry seq had hash head at at",
-- signed with the collector's evidence key (fingerprint: SHA-256 of the raw
-- Ed25519 public key, hex). Append-only as audit_log.
CREATE TABLE audit_checkpoints (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	seq         INTEGER NOT NULL,
	head        BLOB NOT NULL,
	at          INTEGER NOT NULL,
	fingerprint TEXT NOT NULL,
	signature   BLOB NOT NULL
) STRICT;
CREATE INDEX audit_checkpoints_seq ON audit_checkpoints (seq, id);

CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN
	SELECT RAISE(ABORT, 'audit_checkpoints is append-only: UPDATE refused');
END;

CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN
	SELECT RAISE(ABORT, 'audit_checkpoints is append-only: DELETE refused');
END;

-- An evidence bundle reads deviation timelines and the media log by period.
CREATE INDEX deviation_timeline_at ON deviation_timeline (at);
CREATE INDEX media_log_at ON media_log (at, id);
