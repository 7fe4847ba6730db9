#!/usr/bin/env bash
# No-VT-x tier: the same boot media under QEMU without KVM, where there is no VT-x. The loader must say
# why on COM1 and still start the next image, which must find no hypervisor.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib-tap.sh"
BUILD=${BUILD:-build}
OUT=$BUILD/test-qemu
rm -rf "$OUT" && mkdir -p "$OUT"
cp -r "$BUILD/esp" "$OUT/esp"      # QEMU's fat:rw writes back into the directory: use a private copy

"$HERE/qemu-run.sh" --esp "$OUT/esp" --serial "$OUT/com1.txt" --timeout "${QEMU_TIMEOUT:-120}" \
  --until 'rootcheck: no hypervisor present|rootcheck: [0-9]+ passed'
rc=$?
clean_serial "$OUT/com1.txt" > "$OUT/com1.clean.txt"
log=$OUT/com1.clean.txt
tap_check "QEMU (TCG) run reached the next image (qemu-run exit $rc)" [ "$rc" -eq 0 ]
tap_check "loader says VT-x not available, with the reason" grep -qE '^hvx: VT-x not available: .+' "$log"
tap_check "the message reaches COM1 directly, not only the console" \
  bash -c "[ \$(grep -c '^hvx: VT-x not available' '$log') -ge 2 ]"
tap_check "the next image still starts" grep -q 'hvx: starting \\EFI\\hvx\\rootcheck.efi' "$log"
tap_check "the next image runs without a hypervisor" grep -q '^rootcheck: no hypervisor present' "$log"
grep -E '^hvx: VT-x not available' "$log" | head -1 | sed 's/^/# /'

# The exit suite's QEMU path (EXITS_EMULATOR=qemu-kvm on an Intel host with nested VT-x) runs here
# under TCG: the plumbing must boot the runner, which must say there is no hypervisor and fail.
EXITS_EMULATOR=qemu-tcg EXITS_TIMEOUT="${QEMU_TIMEOUT:-120}" "$HERE/run-exits.sh" tests/exits "$OUT/exits" \
  > "$OUT/exits.out" 2>&1
xrc=$?
tap_check "the exit suite under QEMU without VT-x fails (run-exits exit $xrc)" [ "$xrc" -ne 0 ]
tap_check "... saying the runner found no hypervisor, with a result line" \
  bash -c "grep -q '^exits: no hypervisor' '$OUT/exits.out' && grep -qE '^exits: 0 passed, 1 failed$' '$OUT/exits.out'"
tap_summary qemu-novtx
