#!/usr/bin/env bash
# Runs every Go fuzz target in the repository, one `go test -fuzz` per target.
#
#   scripts/fuzz.sh                 CI: a fixed number of executions per target (FUZZ_EXECS, default below)
#   FUZZTIME=10m scripts/fuzz.sh    long local run: that duration per target
#   FUZZTIME=500000x scripts/fuzz.sh   long run by count (no deadline, see below)
#   FUZZ_ONLY=pkg/wire scripts/fuzz.sh   only targets whose package path contains the string
#
# Why counts by default: with Go 1.26 a duration -fuzztime races the fuzz
# coordinator's own deadline and a clean run can end in a spurious "context
# deadline exceeded" (golang/go#75804, fixed in Go 1.27). An execution count
# ("-fuzztime 3000x") has no deadline, so CI uses counts only.
#
# Targets are found with grep (every `func FuzzX(f *testing.F)` in a *_test.go),
# so a new target runs without editing this file (with FUZZ_EXECS executions);
# EXECS below only sets the count of targets much slower or faster per execution. The script fails if no target
# is found, if any run fails, and names every failing target at the end; the
# failing input is kept under the package's testdata/fuzz/<Target>/ by go test.
set -euo pipefail

cd "$(dirname "$0")/.."
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-}
FUZZ_EXECS=${FUZZ_EXECS:-3000}
FUZZ_ONLY=${FUZZ_ONLY:-}

# Per-target execution counts ("dir Target count"), sized so that the fuzzing
# itself takes about 40 s on 2 cores; a cold build cache adds the compilation
# of each package's coverage-instrumented test binary (about 10 packages).
EXECS=(
	"agent/internal/sensor/inventory FuzzDpkgStatus 10000"
	"agent/internal/sensor/inventory FuzzLogindSession 10000"
	"agent/internal/sensor/inventory FuzzRPMQuery 10000"
	"agent/internal/sensor/inventory FuzzSMBIOS 10000"
	"agent/internal/sensor/inventory FuzzSystemctl 10000"
	"agent/internal/sensor/inventory FuzzUSBIDs 10000"
	"agent/internal/sensor/inventory FuzzUtmp 10000"
	"agent/internal/sensor/inventory FuzzWindowsBuffers 10000"
	"agent/internal/sensor/media/fsprobe FuzzProbe 1000"
	"agent/internal/sensor/media/fsprobe FuzzReadRootFile 1000"
	"agent/internal/sensor/traffic FuzzDecode 2000"
	"collector/internal/register FuzzRegisterCSV 20000"
	"pkg/wire FuzzDecodePayload 20000"
	"pkg/wire FuzzParseToken 10000"
	"pkg/wire FuzzReadFrame 20000"
	"pkg/wire FuzzRecordBody 10000"
	"pkg/zone FuzzFromPolicy 10000"
)

execs_for() { # dir target
	local d t n e
	for e in "${EXECS[@]}"; do
		read -r d t n <<<"$e"
		if [ "$d" = "$1" ] && [ "$t" = "$2" ]; then
			echo "$n"
			return
		fi
	done
	echo "$FUZZ_EXECS"
}

# dir<TAB>target, sorted, one line per fuzz target.
mapfile -t targets < <(
	grep -rn --include='*_test.go' --exclude-dir=.git --exclude-dir=var --exclude-dir=bin --exclude-dir=dist \
		--exclude-dir=testdata --exclude-dir=vendor -E '^func (Fuzz[A-Za-z0-9_]+)\(f \*testing\.F\)' . |
		sed -E 's#^\./([^:]*)/[^/:]*:[0-9]+:func (Fuzz[A-Za-z0-9_]+).*#\1\t\2#' |
		sort -u
)
if [ "${#targets[@]}" -eq 0 ]; then
	echo "fuzz: no fuzz targets found" >&2
	exit 1
fi

if [ -n "$FUZZTIME" ] && [[ "$FUZZTIME" != *x ]]; then
	echo "fuzz: FUZZTIME=$FUZZTIME per target. Note: Go 1.26's fuzz coordinator can end a"
	echo "fuzz: duration-based run with a spurious \"context deadline exceeded\" (golang/go#75804,"
	echo "fuzz: fixed in Go 1.27); if a target fails that way with no failing input written under"
	echo "fuzz: testdata/fuzz/, it is that bug, not a finding. Use FUZZTIME=<N>x for a count."
fi

failed=()
ran=0
start_all=$(date +%s)
for line in "${targets[@]}"; do
	dir=${line%%$'\t'*}
	target=${line#*$'\t'}
	if [ -n "$FUZZ_ONLY" ] && [[ "$dir" != *"$FUZZ_ONLY"* ]]; then
		continue
	fi
	ran=$((ran + 1))
	budget=$FUZZTIME
	[ -n "$budget" ] || budget="$(execs_for "$dir" "$target")x"
	echo "fuzz: $dir $target ($budget)"
	t0=$(date +%s)
	if ! $GO test -run '^$' -fuzz "^${target}\$" -fuzztime "$budget" -fuzzminimizetime 200x "./$dir"; then
		failed+=("$dir $target")
	fi
	echo "fuzz: $dir $target done in $(($(date +%s) - t0))s"
done
echo "fuzz: $ran of ${#targets[@]} targets in $(($(date +%s) - start_all))s"
if [ "$ran" -eq 0 ]; then
	echo "fuzz: no target matches FUZZ_ONLY=$FUZZ_ONLY" >&2
	exit 1
fi
if [ "${#failed[@]}" -gt 0 ]; then
	echo "fuzz: FAILED:" >&2
	printf '  %s\n' "${failed[@]}" >&2
	exit 1
fi
