#!/usr/bin/env bash
# Run OVMF + an EFI System Partition in QEMU, headless, and stop at a verdict.
#
#   tools/qemu-run.sh (--esp DIR | --disk IMG) --serial OUT.txt [--kvm] [--cpus N] [--megs M]
#                     [--timeout SECONDS] [--until REGEX]
#
# --esp DIR   serve a host directory as a FAT disk (QEMU's vvfat, fat:rw:DIR; DIR/EFI/BOOT/BOOTX64.EFI)
# --disk IMG  boot a disk image (tools/mkimage.sh GPT image or tools/mkesp.sh FAT image); the image is
#             never written (snapshot=on), so runs can share it
# --kvm       hardware virtualization (-machine q35,accel=kvm -cpu host): with nested KVM on an Intel
#             host the guest sees VT-x. Without it: TCG, whose CPU has no VT-x (CPUID.1:ECX.VMX = 0),
#             the test bed for the loader's no-VT-x path.
#
# The guest ends a run by writing a byte V to port 0xf4 (isa-debug-exit: QEMU exits with (V << 1) | 1).
# It returns as soon as REGEX (grep -E) appears in OUT.txt (after a 1 s grace for the rest of the
# output), or QEMU exits, or the timeout (default 300 s) passes. Exit status:
#   0  REGEX seen, or (without --until) the guest exited through port 0xf4 with V = 0
#   1  the guest exited through port 0xf4 with V != 0, or reset / powered off (with -no-reboot a
#      triple fault ends QEMU this way), or QEMU died
#   2  timeout, or REGEX never seen
#   3  usage or setup error (including QEMU refusing its command line)
set -euo pipefail

QEMU=${HV_QEMU:-qemu-system-x86_64}
OVMF_DIR=${OVMF_DIR:-/usr/share/OVMF}
CODE=$OVMF_DIR/OVMF_CODE.fd
VARS=$OVMF_DIR/OVMF_VARS.fd

usage() {
  cat >&2 <<EOF
usage: $0 (--esp DIR | --disk IMG) --serial OUT.txt [--kvm] [--cpus N] [--megs M]
          [--timeout SECONDS] [--until REGEX]
EOF
  exit 3
}
die() { echo "qemu-run: $*" >&2; exit 3; }

esp='' disk='' serial='' kvm=0 cpus=1 megs=256 timeout=300 until=''
while [ $# -gt 0 ]; do
  case $1 in
    --esp|--disk|--serial|--cpus|--megs|--timeout|--until)
      [ $# -ge 2 ] || { echo "qemu-run: $1 needs a value" >&2; usage; }
      case $1 in
        --esp) esp=$2 ;; --disk) disk=$2 ;; --serial) serial=$2 ;; --cpus) cpus=$2 ;;
        --megs) megs=$2 ;; --timeout) timeout=$2 ;; --until) until=$2 ;;
      esac
      shift 2 ;;
    --kvm) kvm=1; shift ;;
    -h|--help) usage ;;
    *) echo "qemu-run: unknown argument '$1'" >&2; usage ;;
  esac
done
[ -n "$serial" ] || usage
{ [ -n "$esp" ] && [ -z "$disk" ]; } || { [ -z "$esp" ] && [ -n "$disk" ]; } ||
  { echo "qemu-run: give exactly one of --esp DIR and --disk IMG" >&2; usage; }
[[ "$cpus" =~ ^[1-9][0-9]*$ ]] || die "--cpus must be a positive integer, got '$cpus'"
[[ "$megs" =~ ^[1-9][0-9]*$ ]] || die "--megs must be a positive integer, got '$megs'"
[[ "$timeout" =~ ^[1-9][0-9]*$ ]] || die "--timeout must be a positive number of seconds, got '$timeout'"
if [ -n "$until" ]; then
  rc=0; grep -qE -- "$until" /dev/null 2>/dev/null || rc=$?
  [ $rc -le 1 ] || die "--until '$until' is not a valid extended regular expression"
fi

command -v "$QEMU" >/dev/null || die "$QEMU not found: install Debian's qemu-system-x86 (run tools/setup.sh)"
for f in "$CODE" "$VARS"; do
  [ -f "$f" ] || die "$f not found: install Debian's ovmf package (run tools/setup.sh)"
done
if [ -n "$esp" ]; then
  [ -d "$esp" ] || die "ESP directory '$esp' not found"
  [ -f "$esp/EFI/BOOT/BOOTX64.EFI" ] || echo "qemu-run: warning: $esp/EFI/BOOT/BOOTX64.EFI missing" >&2
  # Commas would end QEMU's option value early; vvfat also wants a plain directory path.
  [[ "$esp" != *,* ]] || die "ESP path must not contain a comma: '$esp'"
  drive="format=raw,file=fat:rw:$esp"
else
  [ -f "$disk" ] || die "disk image '$disk' not found"
  [[ "$disk" != *,* ]] || die "disk path must not contain a comma: '$disk'"
  drive="format=raw,file=$disk,snapshot=on"
fi
if [ "$kvm" = 1 ]; then
  if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then die "--kvm: /dev/kvm missing or not accessible"; fi
  machine=(-machine "q35,accel=kvm" -cpu host)
else
  machine=(-machine "q35,accel=tcg")
fi
mkdir -p "$(dirname "$serial")"

# OVMF writes its variable store: each run gets a private copy of the template, so runs neither
# share state nor clash.
tmp=$(mktemp -d "${TMPDIR:-/tmp}/qemu-run.XXXXXX")
qpid=''
# shellcheck disable=SC2317  # reached through the EXIT trap
cleanup() {
  if [ -n "$qpid" ] && kill -0 "$qpid" 2>/dev/null; then
    kill -TERM -- "-$qpid" 2>/dev/null || true
    sleep 0.5
    kill -KILL -- "-$qpid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
cp "$VARS" "$tmp/OVMF_VARS.fd"

# -nodefaults: no NIC (OVMF would otherwise try PXE/HTTP boot when the disk does not boot, minutes
# of waiting), no VGA (ConOut goes to the serial port only, as in Bochs), no monitor.
# -no-reboot: a triple fault or reset ends QEMU instead of booting the image again in a loop.
args=("${machine[@]}" -m "$megs" -smp "$cpus" -nodefaults -display none -no-reboot
      -drive "if=pflash,format=raw,unit=0,readonly=on,file=$CODE"
      -drive "if=pflash,format=raw,unit=1,file=$tmp/OVMF_VARS.fd"
      -drive "$drive"
      -serial "file:$serial"
      -device "isa-debug-exit,iobase=0xf4,iosize=1")

: > "$serial"
# bash reports an emulator killed by a signal ("Segmentation fault", "Aborted") on its own stderr when
# it reaps it; the summary line below says it better, so keep that noise out while the emulator lives.
exec {stderr_fd}>&2 2>/dev/null
start=$EPOCHREALTIME
# setsid: QEMU leads its own process group, so one signal stops it and anything it started.
setsid "$QEMU" "${args[@]}" </dev/null >"$tmp/stdout" 2>"$tmp/stderr" &
qpid=$!

why='' seen=0 exited=0
deadline=$(( ${start%.*} + timeout ))
while :; do
  if [ -n "$until" ] && grep -qaE -- "$until" "$serial"; then
    seen=1; why="pattern seen"
    sleep 1   # let the rest of the result lines arrive
    break
  fi
  if ! kill -0 "$qpid" 2>/dev/null; then exited=1; break; fi
  if [ "${EPOCHREALTIME%.*}" -ge "$deadline" ]; then why="timeout after ${timeout}s"; break; fi
  sleep 0.2
done

qstatus=
if kill -0 "$qpid" 2>/dev/null; then
  kill -TERM -- "-$qpid" 2>/dev/null || true
  for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$qpid" 2>/dev/null || break; sleep 0.2; done
  kill -KILL -- "-$qpid" 2>/dev/null || true
  { wait "$qpid"; } 2>/dev/null || true
else
  qstatus=0; { wait "$qpid"; } 2>/dev/null || qstatus=$?
fi
qpid=
exec 2>&$stderr_fd {stderr_fd}>&-
end=$EPOCHREALTIME

status=2
if [ "$exited" = 1 ]; then
  if [ -n "$until" ] && grep -qaE -- "$until" "$serial"; then seen=1; fi
  qerr=$(grep -a 'qemu-system' "$tmp/stderr" || true)
  if [ $((qstatus % 2)) = 1 ] && [ "$qstatus" -lt 128 ] && [ -z "$qerr" ]; then
    # isa-debug-exit: status (V << 1) | 1. QEMU's own errors also exit 1, but they say why on stderr.
    v=$(( (qstatus - 1) / 2 ))
    why="guest exited through port 0xf4 with value $v"
    if [ "$seen" = 1 ]; then status=0; why="pattern seen, $why"
    elif [ "$v" != 0 ]; then status=1
    elif [ -z "$until" ]; then status=0
    else why="$why without the pattern"; fi
  elif [ -n "$qerr" ] && [ ! -s "$serial" ]; then
    echo "qemu-run: QEMU failed to start:" >&2
    tail -n 5 "$tmp/stderr" >&2
    why="QEMU error (status $qstatus)"; status=3
  else
    # Status 0 without the debug port: the guest reset (a triple fault, with -no-reboot) or powered off.
    [ "$qstatus" = 0 ] && why="guest reset or powered off" || why="QEMU died (status $qstatus)"
    [ -s "$tmp/stderr" ] && tail -n 5 "$tmp/stderr" >&2
    if [ "$seen" = 1 ]; then status=0; why="pattern seen, $why"; else status=1; fi
  fi
elif [ "$seen" = 1 ]; then
  status=0
fi
secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
echo "qemu-run: ${secs}s wall, $why, exit $status (serial $serial)" >&2
exit $status
