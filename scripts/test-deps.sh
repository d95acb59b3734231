#!/usr/bin/env bash
# Installs the Debian packages that tests need, when it can (root with apt).
# Tests that need a missing component name the package and skip; under CI=true
# such a skip fails the run (see the test helpers), so CI always runs everything.
set -euo pipefail

# One package per line: the command that proves it is there, then the package.
needs=(
  # "psql postgresql"      (the PostgreSQL store, a later issue)
  # "chromium chromium"    (UI tests, a later issue)
)

missing=()
for n in "${needs[@]}"; do
  cmd=${n%% *}; pkg=${n#* }
  command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "test-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "test-deps: missing ${missing[*]}; the tests that need them will skip (install them as root with apt-get)" >&2
fi
