#!/usr/bin/env bash
# make bench: prints the benchmark figures with the machine they ran on.
# Figures are reported, never asserted; docs/BENCHMARKS.md keeps a dated copy.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
echo "go:      $(go version)"
echo "date:    $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "== collector ingest over real QUIC (mTLS) into SQLite, batches of 100, and the raw batched insert rate"
go test -run '^$' -bench 'BenchmarkIngestQUIC|BenchmarkRawInsert' -benchtime "${BENCHTIME:-3s}" ./collector/internal/ingest
echo
echo "== SQLite store"
go test -run '^$' -bench . -benchtime "${BENCHTIME:-3s}" ./collector/internal/store/sqlite
echo
echo "== agent spool"
go test -run '^$' -bench . -benchtime "${BENCHTIME:-3s}" ./agent/internal/spool
