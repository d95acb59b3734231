#!/usr/bin/env bash
# make bench-scale: the scale figures, collector and load generator
# side by side on this machine. Figures are printed, never asserted, except
# that a lost record or a failed enrollment makes the script fail at the end.
#
#   1. burst:  BURST agents (default 2 000) enroll at once, then report hello and inventory.
#   2. steady: AGENTS agents (default 10 000; the burst's are reused) report RATE records/s
#              each (default 5, i.e. 50 000 records/s offered) for STEADY (default 180s).
#   3. outage: the same fleet reports at OUTAGE_RATE (default 1/s each); the collector is
#              stopped with SIGTERM for OUTAGE (default 600s; OUTAGE=60s for a quick run) and
#              started again; the loadgen times the catch-up.
#   PostgreSQL: with SONEVAKT_PG_DSN set, steady runs again against a collector on PostgreSQL.
#
# After each phase the store is compared with what the loadgen saw acked: for every agent
# the collector holds seq 1..max exactly once and max == the agent's last seq.
# Collector CPU and RSS are sampled from /proc/PID/stat and /proc/PID/status every second.
# Knobs: AGENTS BURST RATE STEADY OUTAGE OUTAGE_RATE WARM PHASES ("burst steady outage pg") KEEP=1
# PREBUILT=DIR (binaries already built).
set -euo pipefail
cd "$(dirname "$0")/.."

AGENTS=${AGENTS:-10000}
BURST=${BURST:-2000}
RATE=${RATE:-5}
STEADY=${STEADY:-180s}
OUTAGE=${OUTAGE:-600s}
OUTAGE_RATE=${OUTAGE_RATE:-1}
PHASES=${PHASES:-burst steady outage pg}
GO=${GO:-go}

work=$(mktemp -d /tmp/sonevakt-bench-scale.XXXXXX)
if [ -n "${PREBUILT:-}" ]; then # a folder holding sonevakt-collector and sonevakt-loadgen
  bin=$PREBUILT
else
  bin=$work/bin
  mkdir -p "$bin"
  CGO_ENABLED=0 $GO build -trimpath -o "$bin/" ./collector/cmd/sonevakt-collector ./agent/cmd/sonevakt-loadgen
fi

CPID=""
SPID=""
cleanup() {
  [ -n "$SPID" ] && kill "$SPID" 2>/dev/null || true
  [ -n "$CPID" ] && kill "$CPID" 2>/dev/null && wait "$CPID" 2>/dev/null || true
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
AGENTS_ADDR=127.0.0.1:$(free_port)
WEB_ADDR=127.0.0.1:$(free_port)

# Every simulated agent comes from 127.0.0.1; the per-address enrollment limit
# (default 50 burst, 20/s) is meant for real networks, where a rollout comes
# from many addresses (or is raised for one NAT address, as here).
write_config() { # store-dsn
  {
    echo "enroll_burst: 100000"
    echo "enroll_rate: 10000"
    if [ -n "$1" ]; then echo "store: $1"; fi
  } >"$work/collector.yaml"
}

starts=0
start_collector() { # data-dir
  starts=$((starts + 1))
  local log=$work/collector.$starts.log
  "$bin/sonevakt-collector" serve --data "$1" --agents "$AGENTS_ADDR" --web "$WEB_ADDR" --config "$work/collector.yaml" >"$log" 2>&1 &
  CPID=$!
  for _ in $(seq 600); do
    grep -q "collector listening" "$log" 2>/dev/null && break
    kill -0 "$CPID" 2>/dev/null || { cat "$log"; echo "collector died"; exit 1; }
    sleep 0.1
  done
  # The sampler: time, utime+stime (ticks), RSS (kB), one line a second.
  (
    hz=$(getconf CLK_TCK)
    while [ -r /proc/$CPID/stat ]; do
      read -r -a st </proc/$CPID/stat || break
      rss=$(awk '/^VmRSS/ {print $2}' /proc/$CPID/status 2>/dev/null || echo 0)
      echo "$(date +%s) $((st[13] + st[14])) $hz ${rss:-0}"
      sleep 1
    done
  ) >>"$work/samples.$CPID" &
  SPID=$!
  echo "$CPID" >"$work/current.pid"
}

stop_collector() {
  kill -TERM "$CPID" 2>/dev/null || true
  wait "$CPID" 2>/dev/null || true
  kill "$SPID" 2>/dev/null || true
  wait "$SPID" 2>/dev/null || true
  CPID="" SPID=""
}

# usage PID FROM TO: mean CPU (% of one core) and peak RSS (MiB) of the collector in [FROM, TO].
usage() {
  awk -v from="$2" -v to="$3" '
    $1 >= from && $1 <= to { if (t0 == "") { t0 = $1; c0 = $2 } t1 = $1; c1 = $2; hz = $3; if ($4 > rss) rss = $4 }
    END { if (t1 > t0) printf "%.0f %.0f\n", (c1 - c0) / hz / (t1 - t0) * 100, rss / 1024; else printf "- %.0f\n", rss / 1024 }' "$work/samples.$1"
}

json() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d.get(sys.argv[2], ""))' "$1" "$2"; }

# check_store DATA TSV: the store against the loadgen's view (TSV: agent_id
# first_seq last_seq committed). Lost: an agent's acked seqs 1..committed not
# all stored. Wrong: after a full drain (last == committed) the store must
# hold exactly seq 1..last. Records still in spools (an interrupted run) are
# counted apart; express-lane records may then sit beyond a gap.
check_store() {
  local db=$1/sonevakt.db q
  if [ -f "$db" ]; then
    sqlite3 -bail :memory: >"$work/stats.tsv" <<SQL || { echo "store check: sqlite3 failed"; return 1; }
ATTACH 'file:$db?mode=ro' AS s;
CREATE TABLE a (agent TEXT PRIMARY KEY, first INT, last INT, committed INT);
.mode tabs
.import '$2' a
SELECT a.agent, a.last, a.committed, coalesce(st.records, 0), coalesce(st.min_seq, 0), coalesce(st.max_seq, 0),
  (SELECT count(*) FROM s.records r WHERE r.agent_id = a.agent AND r.seq <= a.committed)
FROM a LEFT JOIN s.agent_stats st ON st.agent_id = a.agent;
SQL
  elif [ -n "${SONEVAKT_PG_DSN:-}" ]; then
    # Aggregate check only: acked-but-missing is then judged from the counts.
    psql "$SONEVAKT_PG_DSN" -At -F $'\t' -c 'SELECT agent_id, records, min_seq, max_seq FROM agent_stats' |
      awk -F'\t' 'NR == FNR { r[$1] = $2; lo[$1] = $3; hi[$1] = $4; next }
        { n = ($1 in r) ? r[$1] : 0; print $1 "\t" $3 "\t" $4 "\t" n "\t" lo[$1] + 0 "\t" hi[$1] + 0 "\t" (n >= $4 && lo[$1] + 0 <= 1 ? $4 : n) }' - "$2" >"$work/stats.tsv"
  else
    echo "store check skipped (no store found)"; return 0
  fi
  awk -F'\t' -v want="$(grep -c . "$2")" '
    $1 == "" { next }
    { n++; stored += $4 }
    $7 < $3 { lost += $3 - $7; bad++; if (bad < 5) print "agent " $1 ": acked up to " $3 ", only " $7 " of those stored" }
    $2 == $3 && ($4 != $2 || ($2 > 0 && $5 != 1) || $6 != $2) { bad++; if (bad < 5) print "agent " $1 ": drained at " $2 ", store holds " $4 " records, seq " $5 ".." $6 }
    $2 > $3 { pending += $2 - $3 }
    END { if (n != want) { printf "store check: compared %d agents of %d\n", n, want; exit 1 }
          printf "store check: %d agents, %d records stored, %d acked records missing, %d agents wrong, %d records not yet delivered (still in spools)\n", n, stored, lost, bad, pending; exit (bad > 0) }' \
    "$work/stats.tsv"
}

# One loadgen process holds about 4 descriptors per agent (UDP socket, spool
# lock and segment, transient files). Where the hard limit on open files is
# too low for the whole fleet in one process (and cannot be raised without
# CAP_SYS_RESOURCE), the fleet is split over several processes sharing the
# fleet dir; their summaries and latency histograms are merged exactly.
SHARD=${SHARD:-$(( ($(ulimit -Hn) - 1024) / 4 ))}

loadgen() { # name agents args...
  local name=$1 n=$2; shift 2
  local k=0 first=0 pids=() rc=0
  while [ "$first" -lt "$n" ]; do
    local m=$(( n - first < SHARD ? n - first : SHARD ))
    "$bin/sonevakt-loadgen" --collector "$AGENTS_ADDR" --token "$TOKEN" --dir "$work/fleet" --json \
      --first "$first" --agents "$m" --acked-out "$work/$name.$k.tsv" --lat-out "$work/$name.$k.lat" \
      "${@//%READY%/$k}" \
      >"$work/$name.$k.json" 2>"$work/$name.$k.err" &
    pids+=($!)
    first=$((first + m)) k=$((k + 1))
  done
  for p in "${pids[@]}"; do wait "$p" || rc=1; done
  cat "$work/$name".*.tsv >"$work/$name.tsv"
  python3 - "$work" "$name" "$k" <<'PY' || { echo "loadgen $name: no summary"; tail -5 "$work/$name".*.err; exit 1; }
import json, sys
work, name, k = sys.argv[1], sys.argv[2], int(sys.argv[3])
parts = [json.load(open(f"{work}/{name}.{i}.json")) for i in range(k)]
out = dict(parts[0])
total = lambda key: sum(p.get(key, 0) or 0 for p in parts)
for key in ["agents", "enrolled", "enrolled_new", "enroll_failed", "enroll_first_failed", "enroll_retries", "connected",
            "reconnects", "restarts", "sent", "acked", "batches", "lost", "spool_left", "dropped", "refused",
            "records_per_s", "backlog", "heap_mib", "goroutines"]:
    out[key] = total(key)
for key in ["enroll_p50_ms", "enroll_p99_ms", "enroll_s", "connect_s", "duration_s", "drain_s", "outage_s", "catchup_s", "gen_end_unix"]:
    out[key] = max(p.get(key, 0) or 0 for p in parts)  # enroll quantiles: the worst shard's
out["gen_start_unix"] = min(p["gen_start_unix"] for p in parts)
out["ok"] = all(p["ok"] for p in parts)
out["problems"] = sum((p.get("problems") or [] for p in parts), [])
out["shards"] = k
hist, mx = {}, 0
for i in range(k):
    for line in open(f"{work}/{name}.{i}.lat"):
        a, b = line.split()
        if a == "max":
            mx = max(mx, int(b))
        else:
            hist[int(a)] = hist.get(int(a), 0) + int(b)
n = sum(hist.values())
def q(x):
    if n == 0:
        return 0
    rank, seen = max(1, -(-int(x * n * 1000000) // 1000000)), 0
    for edge in sorted(hist):
        seen += hist[edge]
        if seen >= rank:
            return min(edge, mx) / 1000
    return mx / 1000
out["ack_p50_ms"], out["ack_p99_ms"], out["ack_max_ms"] = q(0.5), q(0.99), mx / 1000
json.dump(out, open(f"{work}/{name}.json", "w"), indent=2)
PY
  return $rc
}

failed=0
rows=()
row() { # phase agents enrolled/failed records_per_s p50 p99 cpu rss extra
  rows+=("$(printf '%-16s %7s %15s %12s %8s %8s %8s %8s  %s' "$@")")
}

phase_result() { # name phase-label data-dir
  local name=$1 label=$2 data=$3 rc=$4
  local f=$work/$name.json
  read -r cpu rss < <(usage "$(cat "$work/current.pid")" "$(json "$f" gen_start_unix)" "$(json "$f" gen_end_unix)")
  local extra="sent $(json "$f" sent) acked $(json "$f" acked) in $(json "$f" batches) batches, lost $(json "$f" lost), connected $(json "$f" connected)"
  [ "$name" = outage ] && extra="$extra outage $(json "$f" outage_s)s backlog $(json "$f" backlog) catch-up $(json "$f" catchup_s)s"
  [ "$name" = burst ] && extra="$extra enroll p50/p99 $(json "$f" enroll_p50_ms)/$(json "$f" enroll_p99_ms) ms, all in $(json "$f" enroll_s)s, first try failed $(json "$f" enroll_first_failed), retries $(json "$f" enroll_retries)"
  if ! check_store "$data" "$work/$name.tsv" | tee "$work/$name.check"; then failed=1; extra="$extra STORE MISMATCH"; fi
  [ "$rc" = 0 ] || { failed=1; extra="$extra LOADGEN FAILED: $(python3 -c 'import json,sys; print("; ".join(json.load(open(sys.argv[1])).get("problems") or []))' "$f")"; }
  row "$label" "$(json "$f" agents)" "$(json "$f" enrolled)/$(json "$f" enroll_failed)" "$(json "$f" records_per_s | cut -d. -f1)" \
    "$(json "$f" ack_p50_ms)" "$(json "$f" ack_p99_ms)" "$cpu" "$rss" "$extra"
}

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
echo "go:      $($GO version)"
echo "date:    $(date -u +%Y-%m-%dT%H:%MZ)"
echo "knobs:   AGENTS=$AGENTS BURST=$BURST RATE=$RATE STEADY=$STEADY OUTAGE=$OUTAGE OUTAGE_RATE=$OUTAGE_RATE"
echo "work:    $work"
echo

data=$work/collector
write_config ""
start_collector "$data"
TOKEN=$("$bin/sonevakt-collector" token create --data "$data" --uses $((AGENTS + BURST + 100)) --ttl 24h 2>/dev/null)

for phase in $PHASES; do
  case $phase in
  burst)
    echo "== burst: $BURST agents enroll at once"
    rc=0; loadgen burst "$BURST" --mode burst --duration 10m || rc=$?
    phase_result burst "burst $BURST" "$data" $rc
    ;;
  steady)
    echo "== steady: $AGENTS agents, $RATE records/s each, $STEADY"
    rc=0; loadgen steady "$AGENTS" --mode steady --rate "$RATE" --duration "$STEADY" --drain 10m || rc=$?
    phase_result steady "steady sqlite" "$data" $rc
    ;;
  outage)
    echo "== outage: $AGENTS agents at $OUTAGE_RATE records/s each; collector stopped for $OUTAGE"
    outage_s=$(python3 -c 'import re,sys; m=re.fullmatch(r"(\d+)([smh]?)", sys.argv[1]); print(int(m[1])*{"":1,"s":1,"m":60,"h":3600}[m[2]])' "$OUTAGE")
    rm -f "$work"/outage.*.ready
    loadgen outage "$AGENTS" --mode outage --rate "$OUTAGE_RATE" --duration $((outage_s + 3600))s --drain 10m \
      --ready-file "$work/outage.ready.%READY%" &
    lpid=$!
    # Wait until every shard has its agents started and reporting, then a
    # while more so that the start-up (hello, full inventory) is stored.
    shards=$(( (AGENTS + SHARD - 1) / SHARD ))
    for _ in $(seq 1800); do
      [ "$(ls "$work"/outage.ready.* 2>/dev/null | wc -l)" -ge "$shards" ] && break
      sleep 1
    done
    sleep "${WARM:-60}"
    echo "   stopping the collector (SIGTERM) at $(date -u +%T)"
    stop_collector
    sleep "$outage_s"
    echo "   starting the collector at $(date -u +%T)"
    start_collector "$data"
    rc=0; wait $lpid || rc=$?
    phase_result outage "outage $OUTAGE" "$data" $rc
    ;;
  pg)
    # The collector's store: the postgres:// DSN in its config's store key.
    # The fleet re-enrolls into the new collector (its own CA), so a fresh
    # fleet dir is used.
    if [ -z "${SONEVAKT_PG_DSN:-}" ]; then
      echo "== PostgreSQL: skipped (set SONEVAKT_PG_DSN=postgres://… to run steady against it)"
      continue
    fi
    echo "== steady on PostgreSQL: $AGENTS agents, $RATE records/s each, $STEADY"
    stop_collector
    write_config "$SONEVAKT_PG_DSN"
    data=$work/collector-pg
    rm -rf "$work/fleet"
    start_collector "$data"
    TOKEN=$("$bin/sonevakt-collector" token create --data "$data" --store "$SONEVAKT_PG_DSN" --uses $((AGENTS + 100)) --ttl 24h 2>/dev/null)
    rc=0; loadgen steady-pg "$AGENTS" --mode steady --rate "$RATE" --duration "$STEADY" --drain 10m || rc=$?
    phase_result steady-pg "steady postgres" "$data" $rc
    ;;
  esac
done

echo
printf '%-16s %7s %15s %12s %8s %8s %8s %8s  %s\n' phase agents enrolled/failed records/s "p50 ms" "p99 ms" "cpu %" "rss MiB" "notes"
for r in "${rows[@]}"; do echo "$r"; done
echo
echo "records/s: acked records per second of generating (offered: agents x rate); p50/p99: record spooled -> ack committed;"
echo "cpu: collector, % of one core, mean over the generating window; rss: collector peak. Budgets: p99 < 100 ms, 50 000 records/s,"
echo "every enrollment succeeds, nothing lost."
exit $failed
