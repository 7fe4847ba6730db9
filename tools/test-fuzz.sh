#!/usr/bin/env bash
# The `fuzz` tier of `make test`: a shorter run of the in-root hypercall fuzzer (tools/run-fuzz.sh,
# docs/fuzzing.md) with the exit suite chain-loaded after it, in one Bochs boot. TAP lines, then
# "fuzz: N passed, N failed" as the only line of that form: the fuzzer's own summary ("fuzz: N calls, ...")
# and every other line of the run are passed through behind "# ".
#   env: FUZZ_TIER_SEED (default 2), FUZZ_TIER_CALLS (default 60000)
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib-tap.sh"
BUILD=${BUILD:-build}
export BUILD
seed=${FUZZ_TIER_SEED:-2}
calls=${FUZZ_TIER_CALLS:-60000}
out=$BUILD/test-fuzz
BOCHS=${HV_BOCHS:-${HV_CACHE:-/var/cache/hvx}/bochs-3.0/bin/bochs}

if [ ! -x "$BOCHS" ]; then
  echo "test-fuzz: Bochs 3.0 not found at $BOCHS (run tools/setup.sh): the fuzz tier cannot run" >&2
  tap FAIL "fuzz: Bochs 3.0 is installed ($BOCHS)"
  tap_summary fuzz
  exit 1
fi
missing=''
for f in loader.efi fuzz.efi exits.efi exitc; do [ -e "$BUILD/$f" ] || missing="$missing $f"; done
if [ -n "$missing" ]; then
  echo "test-fuzz: missing in $BUILD:$missing (make BUILD=$BUILD test builds them)" >&2
  tap FAIL "fuzz: the images are built (missing:$missing)"
  tap_summary fuzz
  exit 1
fi

start=$EPOCHREALTIME
FUZZ_EXITS=1 "$HERE/run-fuzz.sh" "$seed" "$calls" "$out" > "$out.out" 2>&1
rc=$?
wall=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')
sed 's/^/# /' "$out.out" | grep -vE '^# (bochs-run: failures in|[0-9]+e\[CPU[0-9]+ *\] VMENTER FAIL)'
com=$out/com1.clean.txt
summary=$(grep -E '^fuzz: [0-9]+ calls, [0-9]+ hypervisor faults, [^ ]+ leaked pages$' "$out.out" | tail -1)
n=$(echo "$summary" | sed -nE 's/^fuzz: ([0-9]+) calls.*/\1/p')
faults=$(echo "$summary" | sed -nE 's/.* ([0-9]+) hypervisor faults.*/\1/p')
leaked=$(echo "$summary" | sed -nE 's/.* ([^ ]+) leaked pages$/\1/p')
tap_check "fuzz: the run reached its end line (seed $seed, ${wall}s wall)" grep -q '^fuzz: end of run' "$com"
tap_check "fuzz: ${n:-0} hypercalls made (at least $calls)" [ "${n:-0}" -ge "$calls" ]
tap_check "fuzz: 0 hypervisor faults (${faults:-no summary})" [ "${faults:-1}" = 0 ]
tap_check "fuzz: 0 leaked pool pages (${leaked:-no summary})" [ "${leaked:-1}" = 0 ]
tap_check "fuzz: no finding of the reference model" bash -c "! grep -q '^fuzz: FINDING' '$com'"
while IFS= read -r line; do
  tap_check "fuzz: ${line#* [0-9]* - }" [ "${line%% *}" = ok ]
done < <(grep -E '^(ok|not ok) [0-9]+ - ' "$out.out")
suite=$(grep -E '^exits: [0-9]+ passed, [0-9]+ failed$' "$com" | tail -1)
tap_check "fuzz: the exit suite still passes after fuzzing (${suite:-no result line})" \
  bash -c "echo '$suite' | grep -qE '^exits: [1-9][0-9]* passed, 0 failed$'"
tap_check "fuzz: run-fuzz.sh verdict (exit $rc): clean Bochs log, every check passed" [ "$rc" -eq 0 ]
tap_summary fuzz
