#!/usr/bin/env bash
# The traffic benchmark: flows from a capture file with zone classification,
# one core. Generates a capture (gencap: 2 000 000 packets, 100 000 flows,
# snaplen 128) and reads the same file, in the same run, with
#   sonevakt-agent traffic --pcap FILE --zones ZONES --json
#   softflowd -r FILE (NetFlow sent to the discard port), and
#   tcpdump -r FILE -w /dev/null (reading the file, for scale),
# each pinned to CPU 0 with taskset and measured with /usr/bin/time (wall
# and CPU seconds, peak RSS; packets/s per CPU second). Then the memory
# row: the agent on a capture of 1 000 000 concurrent flows. Figures are reported, never asserted.
# PACKETS, FLOWS, MEMFLOWS, RUNS and BENCHTIME override the defaults.
set -euo pipefail
cd "$(dirname "$0")/.."

packets=${PACKETS:-2000000}
flows=${FLOWS:-100000}
memflows=${MEMFLOWS:-1000000}
runs=${RUNS:-3}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

go build -o "$tmp/gencap" ./agent/internal/sensor/traffic/gencap/cmd/gencap
go build -o "$tmp/sonevakt-agent" ./agent/cmd/sonevakt-agent
"$tmp/gencap" --packets "$packets" --flows "$flows" --out "$tmp/flows.pcap" --zones "$tmp/zones.yaml"

pin=(taskset -c 0)
if ! command -v taskset >/dev/null; then
  echo "taskset is not installed (Debian package util-linux); runs are not pinned to one core"
  pin=()
fi
if [ ! -x /usr/bin/time ]; then
  echo "/usr/bin/time is not installed (Debian package time); no figures"
  exit 0
fi

rows=()
# measure NAME PACKETS COMMAND...: runs the command $runs times on one core
# (stdin from /dev/null, output discarded, stderr kept in $tmp/err) and adds
# a row with the last run's wall and CPU (user + system) seconds, packets per
# CPU second, and peak RSS.
measure() {
  local name=$1 n=$2; shift 2
  local i
  for ((i = 0; i < runs; i++)); do
    if ! /usr/bin/time -f '%e %U %S %M' -o "$tmp/time" "${pin[@]}" "$@" </dev/null >/dev/null 2>"$tmp/err"; then
      echo "$name failed: $(grep -v '^Command exited' "$tmp/err" | head -3 | tr '\n' ' '); skipped"
      return 0
    fi
  done
  rows+=("$(awk -v t="$name" -v n="$n" '{ c = $2 + $3; printf "%-36s %10d %8.2f %8.2f %12.0f %10.1f", t, n, $1, c, (c > 0 ? n / c : 0), $4 / 1024 }' "$tmp/time")")
}

measure "sonevakt-agent traffic --json" "$packets" \
  "$tmp/sonevakt-agent" traffic --pcap "$tmp/flows.pcap" --zones "$tmp/zones.yaml" --json
if command -v softflowd >/dev/null; then
  # -d: foreground, -6: IPv6 flows too, -m: a table as large as the agent's;
  # it exits at the end of the file. Reading a file, softflowd 1.1.0 stops
  # now and then in accept() on its control socket until a client connects,
  # so a loop asks it for statistics meanwhile; the blocked time is not CPU
  # time, hence the packets/s from CPU seconds.
  (while sleep 0.05; do softflowctl -c "$tmp/softflowd.ctl" statistics >/dev/null 2>&1 || true; done) &
  poker=$!
  measure "softflowd -r" "$packets" \
    softflowd -r "$tmp/flows.pcap" -n 127.0.0.1:9 -d -6 -m 1100000 -p "$tmp/softflowd.pid" -c "$tmp/softflowd.ctl"
  kill "$poker"
  wait "$poker" 2>/dev/null || true
else
  echo "softflowd is not installed (Debian package softflowd); no softflowd row"
fi
if command -v tcpdump >/dev/null; then
  measure "tcpdump -r FILE -w /dev/null" "$packets" tcpdump -r "$tmp/flows.pcap" -w /dev/null
else
  echo "tcpdump is not installed (Debian package tcpdump); no tcpdump row"
fi

# The memory bound: every flow live until the end of the file.
rm -f "$tmp/flows.pcap"
"$tmp/gencap" --packets "$packets" --flows "$memflows" --out "$tmp/many.pcap"
runs=1 measure "sonevakt-agent, ${memflows} flows" "$packets" \
  "$tmp/sonevakt-agent" traffic --pcap "$tmp/many.pcap" --zones "$tmp/zones.yaml" --json
rm -f "$tmp/many.pcap"

echo
printf '%-36s %10s %8s %8s %12s %10s\n' tool packets wall-s cpu-s packets/s "RSS MiB"
printf '%s\n' "${rows[@]}"

echo
echo "== Analyze in process (Go benchmark, one goroutine): 200 000 packets / 10 000 flows, and 2 000 000 packets / 1 000 000 flows"
GOMAXPROCS=1 go test -run '^$' -bench 'BenchmarkAnalyzeCapture' -benchtime "${BENCHTIME:-3s}" ./agent/internal/sensor/traffic
GOMAXPROCS=1 go test -run '^$' -bench 'BenchmarkAnalyzeMillionFlows' -benchtime 1x ./agent/internal/sensor/traffic
