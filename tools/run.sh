#!/usr/bin/env bash
# `make run`: boot the image and stream COM1 to the terminal until the root partition's self-check ends.
# QEMU with KVM when this host can give the guest VT-x (an Intel CPU with VMX and /dev/kvm, nested
# KVM), else Bochs 3.0, which emulates VT-x with EPT on any x86-64 host. It says which and why.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib-tap.sh"
BUILD=${BUILD:-build}
OUT=$BUILD/run
rm -rf "$OUT" && mkdir -p "$OUT"
UNTIL='rootcheck: [0-9]+ passed, [0-9]+ failed|rootcheck: no hypervisor present|HV PANIC'

reason=$(why_not_kvm)
: > "$OUT/com1.txt"
# --pid: the follower ends by itself once this script has ended.
tail --pid=$$ -s 0.2 -n +1 -F "$OUT/com1.txt" 2>/dev/null | tr -d '\r' | sed -u 's/\x1b\[[0-9;=?]*[A-Za-z]//g' &
if [ -z "$reason" ]; then
  echo "run: QEMU with KVM (-cpu host): this Intel host offers VT-x to guests (nested KVM)"
  cp -r "$BUILD/esp" "$OUT/esp"
  "$HERE/qemu-run.sh" --kvm --cpus 2 --esp "$OUT/esp" --serial "$OUT/com1.txt" --timeout 300 --until "$UNTIL"
else
  echo "run: Bochs 3.0 with emulated VT-x and EPT on 2 CPUs (not QEMU+KVM: $reason)"
  "$HERE/bochs-run.sh" --disk "$BUILD/esp.img" --serial "$OUT/com1.txt" --log "$OUT/bochs.log" --cpus 2 \
    --timeout 300 --until "$UNTIL"
fi
rc=$?
sleep 0.5
echo "run: finished (status $rc); COM1 saved in $OUT/com1.txt"
exit $rc
