#!/usr/bin/env bash
# `make exits SCRIPTS=DIR`: compiles every *.exits file of DIR (inside or outside the repository) into one
# pack, boots the hypervisor in Bochs (or QEMU: EXITS_EMULATOR below) with the runner (exits.efi) as the next image, and prints the
# runner's TAP lines, its coverage line and "exits: N passed, N failed". Exit status 0 only when every
# test passed. Usage: tools/run-exits.sh DIR [OUTDIR]
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib-tap.sh"
BUILD=${BUILD:-build}
dir=${1:?usage: tools/run-exits.sh DIR [OUTDIR]}
out=${2:-$BUILD/exits-run}
[ -d "$dir" ] || { echo "run-exits: no such directory: $dir" >&2; exit 2; }
ls "$dir"/*.exits >/dev/null 2>&1 || { echo "run-exits: no *.exits files in $dir" >&2; exit 2; }
rm -rf "$out" && mkdir -p "$out/esp/EFI/BOOT" "$out/esp/EFI/hvx"
"$BUILD/exitc" "$out/esp/EFI/hvx/exits.pack" "$dir" || { echo "run-exits: exitc failed" >&2; exit 2; }
cp "$BUILD/loader.efi" "$out/esp/EFI/BOOT/BOOTX64.EFI"
cp "$BUILD/exits.efi" "$out/esp/EFI/hvx/exits.efi"
printf 'next = \\EFI\\hvx\\exits.efi\nlog = warn\nmemory = 32M\n' > "$out/esp/EFI/BOOT/hvx.cfg"
"$HERE/mkesp.sh" "$out/esp.img" "$out/esp" 64 >/dev/null
until_re='exits: [0-9]+ passed, [0-9]+ failed|exits: bad pack|exits: no hypervisor|HV PANIC'
# EXITS_EMULATOR: bochs (default), qemu-kvm (nested VT-x: an Intel host with kvm_intel nested=1), or
# qemu-tcg (no VT-x: only proves the plumbing; the runner must say "exits: no hypervisor").
emulator=${EXITS_EMULATOR:-bochs}
case $emulator in
  bochs)
    "$HERE/bochs-run.sh" --disk "$out/esp.img" --serial "$out/com1.txt" --log "$out/bochs.log" --cpus 2 \
      --timeout "${EXITS_TIMEOUT:-600}" --until "$until_re"
    rc=$? ;;
  qemu-kvm|qemu-tcg)
    kvm=(); [ "$emulator" = qemu-kvm ] && kvm=(--kvm)
    "$HERE/qemu-run.sh" "${kvm[@]}" --cpus 2 --disk "$out/esp.img" --serial "$out/com1.txt" \
      --timeout "${EXITS_TIMEOUT:-600}" --until "$until_re"
    rc=$? ;;
  *) echo "run-exits: EXITS_EMULATOR must be bochs, qemu-kvm or qemu-tcg, not '$emulator'" >&2; exit 2 ;;
esac
clean_serial "$out/com1.txt" > "$out/com1.clean.txt"
# The runner's own output: TAP lines, their detail lines, the coverage line and the summary.
grep -E '^(ok |not ok |#|exits: )' "$out/com1.clean.txt" | grep -vE '^# (hvx|root)'
grep -E 'HV PANIC' "$out/com1.clean.txt"
summary=$(grep -E '^exits: [0-9]+ passed, [0-9]+ failed$' "$out/com1.clean.txt" | tail -1)
[ -n "$summary" ] || { echo "run-exits: no result line (bochs-run exit $rc); see $out/com1.txt" >&2; exit 1; }
# Tests of InvalidVpRegisterValue make a child's VM entry fail on purpose, and Bochs logs each one as
# "VMENTER FAIL": exactly as many as the runner counted such exits are expected; any other failure line
# of the log (a root entry failure, a Bochs panic) fails the run.
log_ok=1
if [ "$emulator" != bochs ]; then
  [ "$rc" -eq 0 ] || log_ok=0        # no emulator log to read: the verdict is the result line
elif [ "$rc" -ne 0 ]; then
  expected=$(grep -oE 'InvalidVpRegisterValue=[0-9]+' "$out/com1.clean.txt" | tail -1 | cut -d= -f2)
  entry_fails=$(grep -c 'VMENTER FAIL' "$out/bochs.log")
  others=$(grep -E 'VMFAIL|>>PANIC<<' "$out/bochs.log" | grep -vc 'Shutdown port')
  [ "$rc" -eq 1 ] && [ "$others" -eq 0 ] && [ "$entry_fails" -eq "${expected:-0}" ] || log_ok=0
  [ "$log_ok" -eq 1 ] && echo "run-exits: $entry_fails child VM-entry failures in Bochs' log, as the $expected InvalidVpRegisterValue exits expect" >&2
fi
[ "$log_ok" -eq 1 ] && echo "$summary" | grep -q ' 0 failed$'
