#!/usr/bin/env bash
# Emulated-system tier: OVMF -> loader -> core -> VMX in Bochs 3.0 (VT-x with EPT emulated) on 2 CPUs;
# rootcheck.efi, started as the next image, proves the hypervisor from the root partition. Its TAP lines
# are passed through; the driver adds its own checks on COM1 and on Bochs' log. A missing result line is
# a failure, never a skip.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib-tap.sh"
BUILD=${BUILD:-build}
OUT=$BUILD/test-bochs
rm -rf "$OUT" && mkdir -p "$OUT"

start=$(date +%s%N)
"$HERE/bochs-run.sh" --disk "$BUILD/esp.img" --serial "$OUT/com1.txt" --log "$OUT/bochs.log" --cpus 2 \
  --timeout "${BOCHS_TIMEOUT:-240}" --until 'rootcheck: [0-9]+ passed, [0-9]+ failed|HV PANIC|no hypervisor present'
rc=$?
end=$(date +%s%N)
clean_serial "$OUT/com1.txt" > "$OUT/com1.clean.txt"
log=$OUT/com1.clean.txt

ms=$(( (end - start) / 1000000 ))
echo "# Bochs boot to verdict: $((ms / 1000)).$(( (ms % 1000) / 100 )) s wall (bochs-run exit $rc)"
tap_check "Bochs run ended on a verdict with a clean log (no VMFAIL, VMENTER FAIL, >>PANIC<<)" [ "$rc" -eq 0 ]
tap_check "no HV PANIC on COM1" bash -c "! grep -q 'HV PANIC' '$log'"
tap_check "hypervisor took VMX root on both CPUs" grep -q 'hvx: hypervisor running on 2 of 2 CPUs' "$log"
tap_check "loader started the next image" grep -q 'hvx: starting \\EFI\\hvx\\rootcheck.efi' "$log"
summary=$(grep -E '^rootcheck: [0-9]+ passed, [0-9]+ failed$' "$log" | tail -1)
tap_check "rootcheck printed its result line" [ -n "$summary" ]
# rootcheck's own checks, renumbered into this tier.
while IFS= read -r line; do
  case "$line" in
    "ok "*) tap OK "rootcheck: ${line#ok * - }" ;;
    "not ok "*) tap FAIL "rootcheck: ${line#not ok * - }" ;;
    "# "*) echo "$line" ;;
  esac
done < <(sed -n '/^rootcheck: checks from the root partition/,/^rootcheck: [0-9]* passed/p' "$log")
grep -E '^hvx: (error|warn)' "$log" | grep -v 'of hypervisor memory at' | sed 's/^/# /'
tap_summary bochs
