#!/usr/bin/env bash
# `make hostile` and the hostile tier: boots the hypervisor in Bochs on 2 CPUs with hostile.efi as the
# next image (isolation, CPL 3 hypercalls, exhaustion, churn: docs/hostile-inputs.md) and prints its TAP
# lines, its figures and "hostile: N passed, N failed". Exit status 0 only when every test passed, the
# result line came and Bochs' log is clean apart from the child VM-entry failures the payload caused on
# purpose (it reports how many: "hostile: entry-failures=N").
# Usage: tools/run-hostile.sh [OUTDIR]   (HOSTILE_CHURN: churn cycles, default 1000; HOSTILE_TIMEOUT)
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib-tap.sh"
BUILD=${BUILD:-build}
out=${1:-$BUILD/hostile-run}
churn=${HOSTILE_CHURN:-1000}
[[ "$churn" =~ ^[0-9]+$ ]] || { echo "run-hostile: HOSTILE_CHURN must be a number, got '$churn'" >&2; exit 2; }
for f in "$BUILD/loader.efi" "$BUILD/hostile.efi"; do
  [ -f "$f" ] || { echo "run-hostile: $f missing (make BUILD=$BUILD $f)" >&2; exit 2; }
done
rm -rf "$out" && mkdir -p "$out/esp/EFI/BOOT" "$out/esp/EFI/hvx"
cp "$BUILD/loader.efi" "$out/esp/EFI/BOOT/BOOTX64.EFI"
cp "$BUILD/hostile.efi" "$out/esp/EFI/hvx/hostile.efi"
printf 'next = \\EFI\\hvx\\hostile.efi\nlog = warn\nmemory = 32M\ncpus = all\n' > "$out/esp/EFI/BOOT/hvx.cfg"
printf 'churn = %s\n' "$churn" > "$out/esp/EFI/hvx/hostile.cfg"
"$HERE/mkesp.sh" "$out/esp.img" "$out/esp" 64 >/dev/null || { echo "run-hostile: mkesp failed" >&2; exit 2; }
start=$EPOCHREALTIME
"$HERE/bochs-run.sh" --disk "$out/esp.img" --serial "$out/com1.txt" --log "$out/bochs.log" --cpus 2 \
  --timeout "${HOSTILE_TIMEOUT:-900}" \
  --until 'hostile: [0-9]+ passed, [0-9]+ failed|hostile: no hypervisor present|HV PANIC'
rc=$?
end=$EPOCHREALTIME
clean_serial "$out/com1.txt" > "$out/com1.clean.txt"
grep -E '^(ok |not ok |#|hostile: )' "$out/com1.clean.txt" | grep -vE '^# (hvx|root)'
grep -E 'HV PANIC' "$out/com1.clean.txt"
echo "# Bochs boot to verdict: $(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }') s wall (bochs-run exit $rc)"
summary=$(grep -E '^hostile: [0-9]+ passed, [0-9]+ failed$' "$out/com1.clean.txt" | tail -1)
[ -n "$summary" ] || { echo "run-hostile: no result line (bochs-run exit $rc); see $out/com1.txt" >&2; exit 1; }
# The payload fails child VM entries on purpose (InvalidVpRegisterValue): Bochs logs each as
# "VMENTER FAIL". Exactly that many are expected; any other failure line fails the run.
expected=$(grep -oE 'hostile: entry-failures=[0-9]+' "$out/com1.clean.txt" | tail -1 | cut -d= -f2)
entry_fails=$(grep -c 'VMENTER FAIL' "$out/bochs.log" 2>/dev/null)
others=$(grep -E 'VMFAIL|>>PANIC<<' "$out/bochs.log" 2>/dev/null | grep -vc 'Shutdown port')
log_ok=0
if [ "$rc" -eq 0 ] || [ "$rc" -eq 1 ]; then
  [ "$others" -eq 0 ] && [ "$entry_fails" -eq "${expected:-0}" ] && log_ok=1
fi
echo "# Bochs log: $entry_fails VMENTER FAIL (the payload caused ${expected:-0} on purpose), $others other failure lines"
[ "$log_ok" -eq 1 ] || echo "run-hostile: Bochs' log is not clean (bochs-run exit $rc); see $out/bochs.log" >&2
[ "$log_ok" -eq 1 ] && echo "$summary" | grep -q ' 0 failed$'
