#!/usr/bin/env bash
# Exit-script tier: the suite in tests/exits (every test must pass), and the malformed scripts in
# tests/exits-bad (each must fail, naming its file and line): a script error fails its test, never
# a silent skip. Two runs of the same pack must print the same output: checked by the second boot.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib-tap.sh"
BUILD=${BUILD:-build}
export BUILD

"$HERE/run-exits.sh" tests/exits "$BUILD/test-exits" > "$BUILD/test-exits.out" 2>&1
rc=$?
while IFS= read -r line; do
  case "$line" in
    "ok "*) tap OK "exits: ${line#ok * - }" ;;
    "not ok "*) tap FAIL "exits: ${line#not ok * - }" ;;
    "#"*) echo "$line" ;;
  esac
done < "$BUILD/test-exits.out"
summary=$(grep -E '^exits: [0-9]+ passed, [0-9]+ failed$' "$BUILD/test-exits.out")
echo "# suite: ${summary:-no result line}"
tap_check "exit suite ran to its result line with a clean Bochs log (run-exits exit $rc)" [ -n "$summary" -a "$rc" -eq 0 ]
n=$(grep -cE '^(ok|not ok) ' "$BUILD/test-exits.out")
tap_check "the suite has at least 80 tests ($n)" [ "$n" -ge 80 ]
tap_check "the coverage line is printed" grep -q '^# coverage: ' "$BUILD/test-exits.out"

if [ -d tests/exits-bad ]; then
  "$HERE/run-exits.sh" tests/exits-bad "$BUILD/test-exits-bad" > "$BUILD/test-exits-bad.out" 2>&1
  bad_total=$(grep -cE '^(ok|not ok) ' "$BUILD/test-exits-bad.out")
  bad_failed=$(grep -cE '^not ok .*\.exits:[0-9]+' "$BUILD/test-exits-bad.out")
  tap_check "each malformed script fails its test with file:line ($bad_failed of $bad_total)" \
    [ "$bad_total" -gt 0 -a "$bad_failed" -eq "$bad_total" ]
fi
# Determinism: a second boot on the same pack prints byte-identical runner output. A second boot that
# ends without a result line and without an HV PANIC is an emulator failure (Bochs crashed or stalled,
# see docs/testing.md), not a difference: it is said on a "#" line and the second boot is made once more.
runner_lines() { grep -E '^(ok |not ok |#|exits: )' "$1"; }
second_boot() {
  "$HERE/run-exits.sh" tests/exits "$BUILD/test-exits-2" > "$BUILD/test-exits-2.out" 2>&1
  rc2=$?
}
second_boot
if ! grep -qE '^exits: [0-9]+ passed, [0-9]+ failed$' "$BUILD/test-exits-2.out" &&
   ! grep -q 'HV PANIC' "$BUILD/test-exits-2.out"; then
  echo "# second boot ended without a result line (run-exits exit $rc2): $(grep -E '^(bochs-run|run-exits):' "$BUILD/test-exits-2.out" | tr '\n' ' ')"
  echo "# second boot made once more"
  second_boot
fi
tap_check "two runs of the same scripts print byte-identical output (second run-exits exit $rc2)" \
  cmp -s <(runner_lines "$BUILD/test-exits.out") <(runner_lines "$BUILD/test-exits-2.out")
if ! cmp -s <(runner_lines "$BUILD/test-exits.out") <(runner_lines "$BUILD/test-exits-2.out"); then
  # Shown after the verdict so that the end of the output, which CI keeps, has the evidence.
  diff <(runner_lines "$BUILD/test-exits.out") <(runner_lines "$BUILD/test-exits-2.out") | head -n 8 | sed 's/^/# diff: /'
  grep -E '^(bochs-run|run-exits):' "$BUILD/test-exits-2.out" | head -n 3 | sed 's/^/# second: /'
fi
tap_summary exits
