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
# Determinism: a second boot on the same pack prints byte-identical runner output.
"$HERE/run-exits.sh" tests/exits "$BUILD/test-exits-2" > "$BUILD/test-exits-2.out" 2>&1
runner_lines() { grep -E '^(ok |not ok |#|exits: )' "$1"; }
tap_check "two runs of the same scripts print byte-identical output" \
  cmp -s <(runner_lines "$BUILD/test-exits.out") <(runner_lines "$BUILD/test-exits-2.out")
tap_summary exits
