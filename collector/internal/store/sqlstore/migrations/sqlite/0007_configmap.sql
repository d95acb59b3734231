-- 0007: snapshots of the configuration map (S1.2, S1.3).

-- configmap_snapshots keeps the map as it stood at a moment: the whole map as
-- JSON, and its counts by state (JSON object) for the list. Rows are never
-- changed; AUTOINCREMENT keeps ids from being reused.
CREATE TABLE configmap_snapshots (
	id       INTEGER PRIMARY KEY AUTOINCREMENT,
	at       INTEGER NOT NULL,
	taken_by TEXT NOT NULL DEFAULT '',
	note     TEXT NOT NULL DEFAULT '',
	counts   TEXT NOT NULL DEFAULT '{}',
	map      BLOB NOT NULL
) STRICT;
CREATE INDEX configmap_snapshots_at ON configmap_snapshots (at);

-- HostIdentities reads every agent's hardware history; the partial index
-- keeps that from scanning the (mostly software) changes and costs ingest
-- nothing for other sections.
CREATE INDEX inventory_changes_hardware ON inventory_changes (key, agent_id, seq)
	WHERE section = 'hardware';
