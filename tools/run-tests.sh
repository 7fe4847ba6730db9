#!/usr/bin/env bash
# `make test`: every tier, then one line "N passed, N failed" over all of them. A tier that cannot run
# (a missing tool, a crash) counts as failed: it is never skipped silently.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=${BUILD:-build}
export BUILD
total_pass=0
total_fail=0

run_tier() {   # run_tier NAME command...
  local name=$1; shift
  echo "== tier: $name"
  local out; out=$(mktemp)
  "$@" 2>&1 | tee "$out"
  local line; line=$(grep -E "^$name: [0-9]+ passed, [0-9]+ failed$" "$out" | tail -1)
  if [ -z "$line" ]; then
    echo "not ok - tier $name did not report a result (it crashed or could not run)"
    total_fail=$((total_fail + 1))
  else
    local p f
    p=$(echo "$line" | sed -E 's/^[^:]+: ([0-9]+) passed.*/\1/')
    f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed$/\1/')
    total_pass=$((total_pass + p)); total_fail=$((total_fail + f))
    [ "$p" -eq 0 ] && { echo "not ok - tier $name ran no test"; total_fail=$((total_fail + 1)); }
  fi
  rm -f "$out"
}

run_tier host "$BUILD/host-tests"
run_tier fuzz-host "$HERE/test-fuzz-host.sh"
run_tier image "$HERE/test-image.sh"
run_tier qemu-novtx "$HERE/test-qemu-novtx.sh"
run_tier bochs "$HERE/test-bochs.sh"
run_tier exits "$HERE/test-exits.sh"
run_tier hostile "$HERE/test-hostile.sh"
run_tier fuzz "$HERE/test-fuzz.sh"
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
