#!/usr/bin/env bash
# make bench: prints the benchmark figures with the machine they ran on.
# Figures are reported, never asserted; docs/BENCHMARKS.md keeps a dated copy.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/test-deps.sh bench
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
echo "go:      $(go version)"
echo "date:    $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "== collector ingest over real QUIC (mTLS) into SQLite, batches of 100, and the raw batched insert rate"
go test -run '^$' -bench 'BenchmarkIngestQUIC|BenchmarkRawInsert' -benchtime "${BENCHTIME:-3s}" ./collector/internal/ingest
echo
echo "== SQLite store"
go test -run '^$' -bench . -benchtime "${BENCHTIME:-3s}" ./collector/internal/store/sqlstore
echo
echo "== agent spool"
go test -run '^$' -bench . -benchtime "${BENCHTIME:-3s}" ./agent/internal/spool

echo
echo "== removable medium: loop attach (kernel uevent) -> agent -> QUIC -> rules -> deviation visible in the API, 200 insertions"
if [ "$(id -u)" = 0 ]; then
  (cd e2e && go test -run '^$' -bench BenchmarkMediaToDeviation -benchtime 200x .)
else
  echo "needs root for loop devices; skipped"
fi

echo
echo "== full inventory of this machine: sonevakt-agent next to fusioninventory-inventory (3 runs each, the last shown)"
make --no-print-directory build >/dev/null
measure() { # name, output file, command...
  local name=$1 out=$2; shift 2
  local tf; tf=$(mktemp)
  for _ in 1 2 3; do /usr/bin/time -v -o "$tf" "$@" >"$out" 2>/dev/null; done
  awk -v n="$name" -F': ' '
    /Elapsed \(wall clock\)/ { split($2, t, ":"); wall = (length(t) == 3 ? t[1]*3600 + t[2]*60 + t[3] : t[1]*60 + t[2]) }
    /User time/ { u = $2 } /System time/ { s = $2 } /Maximum resident set size/ { rss = $2 }
    END { printf "%-28s wall %6.2f s   cpu %6.2f s   peak RSS %6.1f MiB\n", n, wall, u + s, rss / 1024 }' "$tf"
  rm -f "$tf"
}
a=$(mktemp); f=$(mktemp)
measure "sonevakt-agent inventory" "$a" bin/sonevakt-agent inventory --json
if command -v fusioninventory-inventory >/dev/null; then
  measure "fusioninventory-inventory" "$f" fusioninventory-inventory
  echo "packages: sonevakt $(grep -c '"source": "dpkg"' "$a"), fusioninventory $(grep -c '<SOFTWARES>' "$f"), dpkg-query $(dpkg-query -W -f '${db:Status-Status}\n' | grep -cx installed)"
else
  echo "fusioninventory-inventory is not installed (Debian package fusioninventory-agent); no comparison"
fi
rm -f "$a" "$f"

echo
echo "== traffic: flows from a generated capture (2 000 000 packets, 100 000 flows) with zones, one core, next to softflowd and tcpdump"
scripts/bench-traffic.sh

echo
echo "== rules over the configuration map: 5 000 hosts, 500 000 inventory items, real SQLite"
echo "   (a full re-evaluation of host rules and software catalogue; ingest with rules off and on)"
go test -run '^$' -bench 'BenchmarkEvaluateHostsSQLite' -benchtime 5x ./collector/internal/deviation 2>&1 | grep -E '^Benchmark'
go test -run '^$' -bench 'BenchmarkIngestRules' -benchtime 1000x ./collector/internal/deviation 2>&1 | grep -E '^Benchmark'
go test -run '^$' -bench 'BenchmarkReconcile' ./collector/internal/configmap 2>&1 | grep -E '^Benchmark'
go test -run '^$' -bench 'BenchmarkSoftware' -benchtime 200x ./collector/internal/rules 2>&1 | grep -E '^Benchmark'
echo
echo "== the UI with 5 000 hosts: whole requests through the handler (budget 200 ms each)"
go test -run '^$' -bench 'BenchmarkRender|BenchmarkWriteSVG5000' -benchmem ./collector/internal/web 2>&1 | grep -E '^Benchmark'
echo
echo "== live updates: SSE fan-out to 100 open browsers over HTTP, 1 000 changes a minute (10x compressed)"
go test -run '^$' -bench 'BenchmarkSSEFanout|BenchmarkHubPublish' -benchtime 1000x ./collector/internal/web 2>&1 | grep -E '^Benchmark'
echo
echo "== evidence bundle (scale 0.01 of the issue's year; SONEVAKT_EVIDENCE_BENCH_SCALE=1 for all of it)"
go test -run '^$' -bench 'BenchmarkExport' -benchtime 1x -timeout 60m ./collector/internal/evidence 2>&1 | grep -E '^Benchmark'
echo
echo "== packages: make packages (deb and rpm for amd64 and arm64, the signed MSI)"
/usr/bin/time -f '   %e s wall' make --no-print-directory packages >/dev/null
