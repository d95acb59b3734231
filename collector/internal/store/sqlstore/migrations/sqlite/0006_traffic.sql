-- 0006: cross-zone traffic and devices seen on the wire.

-- flow_hours is the projection of the agents' flows records: Ingest adds
-- every cross-zone flow of a flows record new to the store to the row of its
-- hour (Unix nanoseconds, truncated to the hour), agent, host pair,
-- protocol, service port and process, in the batch's transaction. Counts
-- add up, first and last widen. seq is the newest record that added to the
-- row. evaluated turns 1 once the rules have judged the row, in the
-- transaction that stores their findings; counts that grow after that do
-- not make it pending again.
CREATE TABLE flow_hours (
	id        INTEGER PRIMARY KEY,
	hour      INTEGER NOT NULL,
	agent_id  TEXT NOT NULL REFERENCES agents (id),
	src       TEXT NOT NULL,
	dst       TEXT NOT NULL,
	proto     TEXT NOT NULL,
	dport     INTEGER NOT NULL CHECK (dport BETWEEN 0 AND 65535),
	process   TEXT NOT NULL DEFAULT '',
	username  TEXT NOT NULL DEFAULT '',
	src_zone  TEXT NOT NULL,
	dst_zone  TEXT NOT NULL,
	packets   INTEGER NOT NULL DEFAULT 0,
	bytes     INTEGER NOT NULL DEFAULT 0,
	first     INTEGER NOT NULL,
	last      INTEGER NOT NULL,
	verdict   TEXT NOT NULL DEFAULT '',
	rule      TEXT NOT NULL DEFAULT '',
	seq       INTEGER NOT NULL,
	evaluated INTEGER NOT NULL DEFAULT 0 CHECK (evaluated IN (0, 1)),
	UNIQUE (hour, agent_id, src, dst, proto, dport, process)
) STRICT;
CREATE INDEX flow_hours_agent ON flow_hours (agent_id, hour);
CREATE INDEX flow_hours_zones ON flow_hours (hour, src_zone, dst_zone);
CREATE INDEX flow_hours_pending ON flow_hours (id) WHERE evaluated = 0;

-- zone_hours counts the traffic that stayed inside one zone, per hour,
-- agent and zone (wire.ZoneCount added up).
CREATE TABLE zone_hours (
	hour     INTEGER NOT NULL,
	agent_id TEXT NOT NULL REFERENCES agents (id),
	zone     TEXT NOT NULL,
	flows    INTEGER NOT NULL DEFAULT 0,
	packets  INTEGER NOT NULL DEFAULT 0,
	bytes    INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (hour, agent_id, zone)
) STRICT, WITHOUT ROWID;

-- capture_status is each agent's newest capture statistics per traffic
-- source; stats is the wire.CaptureStats as JSON, error its Error.
CREATE TABLE capture_status (
	agent_id TEXT NOT NULL REFERENCES agents (id),
	source   TEXT NOT NULL,
	at       INTEGER NOT NULL,
	error    TEXT NOT NULL DEFAULT '',
	stats    TEXT NOT NULL,
	PRIMARY KEY (agent_id, source)
) STRICT, WITHOUT ROWID;

-- neighbours holds every device seen on the wire, by MAC: the newest facts,
-- ips, seen_by (discovery protocols) and agents (agent ids that saw it) as
-- sorted JSON arrays, merged by Ingest from new neighbours records.
CREATE TABLE neighbours (
	mac          TEXT PRIMARY KEY,
	ips          TEXT NOT NULL DEFAULT '[]',
	name         TEXT NOT NULL DEFAULT '',
	vendor       TEXT NOT NULL DEFAULT '',
	vendor_class TEXT NOT NULL DEFAULT '',
	seen_by      TEXT NOT NULL DEFAULT '[]',
	first        INTEGER NOT NULL DEFAULT 0,
	last         INTEGER NOT NULL DEFAULT 0,
	port         TEXT NOT NULL DEFAULT '',
	platform     TEXT NOT NULL DEFAULT '',
	vlan         INTEGER NOT NULL DEFAULT 0,
	agents       TEXT NOT NULL DEFAULT '[]',
	updated_at   INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
