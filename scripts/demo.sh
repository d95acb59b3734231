#!/usr/bin/env bash
# make demo: a collector with its embedded store in ./var/demo and a local agent
# enrolled into it, both in the foreground. Ctrl-C stops both; data is kept, so a
# second run continues where the first stopped.
set -euo pipefail
cd "$(dirname "$0")/.."

data=var/demo
cdata=$data/collector
adata=$data/agent
web=${SONEVAKT_WEB:-127.0.0.1:8443}
agents=${SONEVAKT_AGENTS:-127.0.0.1:7443}
mkdir -p "$cdata" "$adata"
chmod 700 "$data" "$cdata" "$adata"

pids=()
cleanup() {
  trap - INT TERM EXIT
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

# The example zones and firewall map, so that the zone pages and the flow
# matrix have something to show; edit configs/zones.yaml to match this network.
cat >"$data/collector.yaml" <<CONF
data_dir: $PWD/$cdata
zones_file: $PWD/configs/zones.yaml
CONF

: >"$data/collector.log"
bin/sonevakt-collector serve --config "$data/collector.yaml" --data "$cdata" --agents "$agents" --web "$web" >>"$data/collector.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  grep -q "collector listening" "$data/collector.log" && break
  if ! kill -0 "${pids[0]}" 2>/dev/null; then cat "$data/collector.log"; exit 1; fi
  sleep 0.1
done
grep -q "collector listening" "$data/collector.log" || { cat "$data/collector.log"; echo "collector did not start" >&2; exit 1; }

if [ ! -f "$adata/identity/identity.json" ]; then
  token=$(bin/sonevakt-collector token create --data "$cdata" --ttl 10m --uses 1 2>/dev/null)
  bin/sonevakt-agent enroll --collector "$agents" --token "$token" --data "$adata"
fi
password=$(bin/sonevakt-collector admin reset-password --data "$cdata")

bin/sonevakt-agent run --data "$adata" >"$data/agent.log" 2>&1 &
pids+=($!)

cat <<MSG

  Sonevakt demo is running.

    UI:        https://$web/   (certificate from the demo CA: $cdata/ca/ca.crt)
    user:      admin
    password:  $password

  Logs: $data/collector.log and $data/agent.log   Stop: Ctrl-C

MSG
tail -n +1 -f "$data/collector.log" "$data/agent.log" &
pids+=($!)
wait "${pids[0]}"
