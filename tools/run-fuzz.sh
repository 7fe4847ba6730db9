#!/usr/bin/env bash
# `make fuzz`: boots the hypervisor in Bochs (2 CPUs) with the in-root hypercall fuzzer (fuzz.efi) as the
# next image; fuzz.efi then chain-loads the exit-script suite (exits.efi + the pack of tests/exits).
# Prints the fuzzer's lines, the suite's summary and, last, one line
#   fuzz: N calls, N hypervisor faults, N leaked pages
# that also counts what only this script sees: an HV PANIC, a hang (no end line before the timeout), an
# exception dump of the firmware, a VM-entry failure in Bochs' log that no InvalidVpRegisterValue exit
# explains. On a panic or hang it boots again with `case = K` (the case port 0xE9 named last) and prints
# that case's steps up to the one that broke the hypervisor: the shortest sequence it knows.
# Exit status 0 only when every check passed. docs/fuzzing.md, "In-hypervisor hypercall fuzzer".
#   tools/run-fuzz.sh [SEED [CALLS [OUTDIR]]]   env: FUZZ_CASE (replay one case), FUZZ_EXITS (default 1),
#                                               FUZZ_TIMEOUT (seconds, default 1500), FUZZ_REPRO (default 1)
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib-tap.sh"
BUILD=${BUILD:-build}
seed=${1:-1}
calls=${2:-200000}
out=${3:-$BUILD/fuzz-run}
case_=${FUZZ_CASE:-}
exits=${FUZZ_EXITS:-1}
[ -n "$case_" ] && exits=0
for f in "$BUILD/loader.efi" "$BUILD/fuzz.efi" "$BUILD/exits.efi" "$BUILD/exitc"; do
  [ -e "$f" ] || { echo "run-fuzz: $f is missing (make BUILD=$BUILD fuzz builds it)" >&2; exit 2; }
done

boot() {   # boot DIR CASE-or-empty: one Bochs run of fuzz.efi; sets rc
  local dir=$1 one=$2
  rm -rf "$dir" && mkdir -p "$dir/esp/EFI/BOOT" "$dir/esp/EFI/hvx"
  cp "$BUILD/loader.efi" "$dir/esp/EFI/BOOT/BOOTX64.EFI"
  cp "$BUILD/fuzz.efi" "$BUILD/exits.efi" "$dir/esp/EFI/hvx/"
  "$BUILD/exitc" "$dir/esp/EFI/hvx/exits.pack" tests/exits >/dev/null ||
    { echo "run-fuzz: exitc failed" >&2; exit 2; }
  printf 'next = \\EFI\\hvx\\fuzz.efi\nlog = warn\nmemory = 32M\n' > "$dir/esp/EFI/BOOT/hvx.cfg"
  { echo "seed = $seed"; echo "calls = $calls"; echo "exits = $exits"; [ -z "$one" ] || echo "case = $one"; } \
    > "$dir/esp/EFI/hvx/fuzz.cfg"
  "$HERE/mkesp.sh" "$dir/esp.img" "$dir/esp" 64 >/dev/null
  "$HERE/bochs-run.sh" --disk "$dir/esp.img" --serial "$dir/com1.txt" --log "$dir/bochs.log" --cpus 2 \
    --e9 "$dir/e9.txt" --timeout "${FUZZ_TIMEOUT:-1500}" \
    --until 'fuzz: end of run|HV PANIC|X64 Exception Type|fuzz: no hypervisor'
  rc=$?
  clean_serial "$dir/com1.txt" > "$dir/com1.clean.txt"
}

start=$EPOCHREALTIME
boot "$out" "$case_"
wall=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')
com=$out/com1.clean.txt
# The fuzzer's lines and the exit suite's summary (its own TAP lines stay in $com).
# The suite's passing tests (between the fuzzer's summary and "exits: ...") are left out; its failures stay.
awk '/^fuzz: [0-9]+ calls, / { suite = 1; next } /^exits: / { suite = 0 }
     suite && /^ok / { next } /^(ok |not ok |# fuzz|#   |fuzz: |exits: )/ && !/^fuzz: end of run/ { print }' "$com"
payload=$(grep -E '^fuzz: [0-9]+ calls, [0-9]+ hypervisor faults, [0-9]+ leaked pages$' "$com" | tail -1)
ncalls=$(echo "$payload" | sed -nE 's/^fuzz: ([0-9]+) calls.*/\1/p')
faults=$(echo "$payload" | sed -nE 's/.* ([0-9]+) hypervisor faults.*/\1/p')
leaked=$(echo "$payload" | sed -nE 's/.* ([0-9]+) leaked pages$/\1/p')
extra=0 ok=1
last_mark=$(grep -aE '^case [0-9]+ calls [0-9]+' "$out/e9.txt" 2>/dev/null | tail -1)
if grep -q 'HV PANIC' "$com"; then
  echo "# run-fuzz: HV PANIC (seed $seed, last $last_mark):"; grep 'HV PANIC' "$com" | head -3 | sed 's/^/#   /'
  extra=$((extra + 1))
elif grep -q 'X64 Exception Type' "$com"; then
  echo "# run-fuzz: the firmware took an unexpected exception in the root (seed $seed, last $last_mark):"
  grep -A3 'X64 Exception Type' "$com" | head -4 | sed 's/^/#   /'
  extra=$((extra + 1))
elif ! grep -q '^fuzz: end of run' "$com"; then
  echo "# run-fuzz: no end line (bochs-run exit $rc): a hang or a crash (seed $seed, last $last_mark)"
  extra=$((extra + 1))
fi
# Bochs logs one "VMENTER FAIL" per child VM entry that fails on guest state: the fuzzer's chaos registers
# and the suite's InvalidVpRegisterValue tests make them on purpose, and both count their exits.
expected=$(( $(grep -oE '^# fuzz: InvalidVpRegisterValue=[0-9]+' "$com" | tail -1 | cut -d= -f2) + 0 ))
suite=$(grep -oE 'InvalidVpRegisterValue=[0-9]+' "$com" | grep -v '^#' | tail -1)
[ "$exits" = 1 ] && expected=$((expected + $(grep -E '^# coverage:' "$com" | grep -oE 'InvalidVpRegisterValue=[0-9]+' | tail -1 | cut -d= -f2) + 0))
entry_fails=$(grep -c 'VMENTER FAIL' "$out/bochs.log" 2>/dev/null)
others=$(grep -E 'VMFAIL|>>PANIC<<' "$out/bochs.log" 2>/dev/null | grep -vc 'Shutdown port')
echo "# run-fuzz: Bochs log: $entry_fails child VM-entry failures ($expected InvalidVpRegisterValue exits expect them), $others other failures"
if [ "$others" -ne 0 ] || [ "$entry_fails" -ne "$expected" ]; then
  grep -E 'VMFAIL|>>PANIC<<' "$out/bochs.log" | grep -v 'Shutdown port' | head -3 | sed 's/^/#   /'
  extra=$((extra + 1))
fi
: "$suite"
if [ "$exits" = 1 ]; then
  summary=$(grep -E '^exits: [0-9]+ passed, [0-9]+ failed$' "$com" | tail -1)
  echo "# run-fuzz: exit suite after fuzzing: ${summary:-no result line}"
  echo "$summary" | grep -qE '^exits: [1-9][0-9]* passed, 0 failed$' || ok=0
fi
grep -q '^not ok ' "$com" && ok=0
grep -q '^fuzz: FINDING' "$com" && ok=0
# A panic or a hang: replay the case named last, traced, to show its steps up to the one that broke.
if [ "$extra" -gt 0 ] && [ -z "$case_" ] && [ "${FUZZ_REPRO:-1}" = 1 ] && [ -n "$last_mark" ]; then
  k=$(echo "$last_mark" | cut -d' ' -f2)
  echo "# run-fuzz: replaying case $k of seed $seed alone (FUZZ_CASE=$k), traced:"
  FUZZ_TIMEOUT=300 boot "$out-case" "$k"
  grep -E '^(# case|#   step|#     ->|fuzz: FINDING)' "$out-case/com1.clean.txt" | sed 's/^/# /'
  laststep=$(grep -aE '^step [0-9]+' "$out-case/e9.txt" 2>/dev/null | tail -1)
  if grep -q 'HV PANIC' "$out-case/com1.clean.txt"; then
    echo "# run-fuzz: case $k alone reproduces the panic; the reproducer is its steps 0..${laststep#step }"
  else
    echo "# run-fuzz: case $k alone does not reproduce it: the sequence needs earlier cases (rerun with seed $seed)"
  fi
fi
total=$(( ${faults:-0} + extra ))
echo "# run-fuzz: seed $seed, ${wall}s wall"
echo "fuzz: ${ncalls:-${last_mark##* }} calls, $total hypervisor faults, ${leaked:-unknown} leaked pages"
[ "$ok" -eq 1 ] && [ "$total" -eq 0 ] && [ "${leaked:-1}" = 0 ]
