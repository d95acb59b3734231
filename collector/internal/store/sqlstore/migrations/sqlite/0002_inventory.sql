-- 0002: inventory. Ingest keeps these in the batch's transaction, and only
-- for inventory records new to the store, so a resent batch changes nothing.

-- inventory_current holds each agent's newest full snapshot: wire.Inventory
-- as deterministic CBOR, zstd-compressed when enc = 1 (as records bodies).
-- A row with hash '' and no snapshot only carries want_full: the agent sent
-- a delta before any snapshot arrived. want_full = 1 asks the agent for a full
-- snapshot in every ack, until one arrives.
CREATE TABLE inventory_current (
	agent_id  TEXT PRIMARY KEY REFERENCES agents (id),
	hash      TEXT NOT NULL DEFAULT '',
	at        INTEGER NOT NULL DEFAULT 0, -- observed_at of the record it came from
	seq       INTEGER NOT NULL DEFAULT 0, -- seq of that record
	enc       INTEGER NOT NULL DEFAULT 0,
	snapshot  BLOB,
	want_full INTEGER NOT NULL DEFAULT 0 CHECK (want_full IN (0, 1))
) STRICT;

-- inventory_changes is the history: one row per item added, removed or
-- changed between two snapshots (before/after: JSON of the item; '' for none).
-- The first snapshot of an agent is one row, section 'inventory'.
CREATE TABLE inventory_changes (
	id       INTEGER PRIMARY KEY,
	agent_id TEXT NOT NULL REFERENCES agents (id),
	at       INTEGER NOT NULL,
	seq      INTEGER NOT NULL,
	section  TEXT NOT NULL,
	op       TEXT NOT NULL CHECK (op IN ('added', 'removed', 'changed')),
	key      TEXT NOT NULL,
	before   TEXT NOT NULL DEFAULT '',
	after    TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX inventory_changes_agent ON inventory_changes (agent_id, seq, id);

-- software is every agent's current packages, one row each, rebuilt for an
-- agent whenever its software changes, for searches across hosts. name_fold
-- is the lower-cased name (Go's Unicode folding) that searches GLOB against.
CREATE TABLE software (
	agent_id     TEXT NOT NULL REFERENCES agents (id),
	name         TEXT NOT NULL,
	name_fold    TEXT NOT NULL,
	version      TEXT NOT NULL,
	arch         TEXT NOT NULL DEFAULT '',
	source       TEXT NOT NULL DEFAULT '',
	publisher    TEXT NOT NULL DEFAULT '',
	scope        TEXT NOT NULL DEFAULT '',
	install_date INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX software_name ON software (name_fold);
CREATE INDEX software_agent ON software (agent_id);
