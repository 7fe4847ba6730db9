#!/usr/bin/env bash
# Run OVMF + a disk image in Bochs (VT-x with EPT emulated), headless, and stop at a verdict.
#
#   tools/bochs-run.sh --disk IMG --serial OUT.txt --log LOG [--cpus N] [--megs M] [--timeout SECONDS]
#                      [--until REGEX] [--cpu-model skylake_x|tigerlake] [--ovmf FILE] [--e9 FILE]
#
# IMG is a raw FAT image (tools/mkesp.sh) or a GPT disk (tools/mkimage.sh); OVMF boots
# \EFI\BOOT\BOOTX64.EFI from it. COM1 goes to OUT.txt, Bochs' log to LOG; next to LOG, named after
# it (out/x.log -> out/x.*): the generated .bochsrc, Bochs' .stdout and .stderr, and while it runs the
# private .disk.img copy; OVMF.fd is made in LOG's directory unless --ovmf names one. Bytes written to
# port 0xe9 go to --e9 FILE. Write OUT.txt, LOG and --e9 FILE as separate files per run.
#
# It returns as soon as REGEX (grep -E) appears in OUT.txt (after a 1 s grace for the rest of the
# output), or Bochs exits, or the timeout (default 300 s) passes. Then it prints the lines of LOG that
# show a VMX or emulator failure. Exit status, which is the verdict (Bochs' own exit status is not:
# its shutdown port always gives 1, and about 1 run in 20 crashes while exiting after a correct run):
#   0  REGEX seen (or, without --until, Bochs exited) and the log is clean
#   1  the log shows a failure (VMFAIL, VMENTER FAIL, >>PANIC<<, a triple fault), or Bochs crashed
#      before the guest stopped it
#   2  timeout, or REGEX never seen
#   3  usage or setup error
#
# The guest ends a run by writing the bytes "Shutdown" to port 0x8900 (Bochs stops at once) after
# waiting for the UART transmitter to empty; with --until it need not end the run itself.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BOCHS=${HV_BOCHS:-${HV_CACHE:-/var/cache/hvx}/bochs-3.0/bin/bochs}
# Emulated instructions per emulated second. With clock sync=none it only sets how many instructions
# make one tick of the emulated timers (the TSC counts instructions whatever it is). Measured: from
# 10M to 200M the boot to the app took 680M to 780M instructions and the same wall time within noise;
# 50M keeps emulated time near wall time (Bochs does 60-70 MIPS here). HV_BOCHS_IPS overrides it.
IPS=${HV_BOCHS_IPS:-50000000}
# A fixed start time (2000-01-01 00:00:00 UTC): with sync=none the run is then deterministic.
TIME0=946684800

usage() {
  cat >&2 <<EOF
usage: $0 --disk IMG --serial OUT.txt --log LOG [--cpus N] [--megs M] [--timeout SECONDS]
          [--until REGEX] [--cpu-model skylake_x|tigerlake] [--ovmf FILE] [--e9 FILE]
EOF
  exit 3
}
die() { echo "bochs-run: $*" >&2; exit 3; }

disk='' serial='' log='' cpus=1 megs=256 timeout=300 until='' model=skylake_x ovmf='' e9=''
while [ $# -gt 0 ]; do
  case $1 in
    --disk|--serial|--log|--cpus|--megs|--timeout|--until|--cpu-model|--ovmf|--e9)
      [ $# -ge 2 ] || { echo "bochs-run: $1 needs a value" >&2; usage; }
      case $1 in
        --disk) disk=$2 ;; --serial) serial=$2 ;; --log) log=$2 ;; --cpus) cpus=$2 ;;
        --megs) megs=$2 ;; --timeout) timeout=$2 ;; --until) until=$2 ;; --cpu-model) model=$2 ;;
        --ovmf) ovmf=$2 ;; --e9) e9=$2 ;;
      esac
      shift 2 ;;
    -h|--help) usage ;;
    *) echo "bochs-run: unknown argument '$1'" >&2; usage ;;
  esac
done
if [ -z "$disk" ] || [ -z "$serial" ] || [ -z "$log" ]; then usage; fi
[[ "$cpus" =~ ^[1-9][0-9]*$ ]] || die "--cpus must be a positive integer, got '$cpus'"
[[ "$megs" =~ ^[1-9][0-9]*$ ]] || die "--megs must be a positive integer, got '$megs'"
[[ "$timeout" =~ ^[1-9][0-9]*$ ]] || die "--timeout must be a positive number of seconds, got '$timeout'"
case $model in
  skylake_x|corei7_skylake_x) model=corei7_skylake_x ;;   # VMCS revision 0x2b, no monitor trap flag
  tigerlake) ;;                                           # VMCS revision 4, has the monitor trap flag
  *) die "--cpu-model must be skylake_x or tigerlake, got '$model'" ;;
esac
if [ -n "$until" ]; then
  # Catch a bad pattern now rather than as "never seen" after the whole timeout.
  rc=0; grep -qE -- "$until" /dev/null 2>/dev/null || rc=$?
  [ $rc -le 1 ] || die "--until '$until' is not a valid extended regular expression"
fi

[ -x "$BOCHS" ] || die "bochs not found at $BOCHS: run tools/setup.sh"
share=$(cd "$(dirname "$BOCHS")/../share/bochs" 2>/dev/null && pwd) ||
  die "Bochs' share directory not found next to $BOCHS: run tools/setup.sh"
# The Debian source is stripped of the LGPL VGA BIOS; SeaVGABIOS (cirrus) is what it installs. OVMF
# never runs a legacy VGA ROM, but Bochs wants one mapped at 0xc0000.
vgarom=$share/vgabios-cirrus.bin-1.13.0
[ -f "$vgarom" ] || die "VGA ROM not found at $vgarom: run tools/setup.sh"
[ -f "$disk" ] || die "disk image '$disk' not found"

logdir=$(dirname "$log")
mkdir -p "$logdir" "$(dirname "$serial")"
[ -z "$e9" ] || mkdir -p "$(dirname "$e9")"
base=${log%.log}              # out/bochs.log -> out/bochs.{bochsrc,disk.img,stdout}
rcfile=$base.bochsrc
diskcopy=$base.disk.img
stdout=$base.stdout

if [ -z "$ovmf" ]; then
  ovmf=$logdir/OVMF.fd
  "$HERE/ovmf.sh" "$ovmf" || exit 3
fi
[ -f "$ovmf" ] || die "OVMF image '$ovmf' not found (make one with tools/ovmf.sh)"

# A private copy of the disk: Bochs locks the images it opens and may write to them, so parallel runs
# of the same image would clash. Removed when we exit, however we exit.
bpid=''
# shellcheck disable=SC2317  # reached through the EXIT trap
cleanup() {
  if [ -n "$bpid" ] && kill -0 "$bpid" 2>/dev/null; then
    kill -TERM -- "-$bpid" 2>/dev/null || true
    sleep 0.5
    kill -KILL -- "-$bpid" 2>/dev/null || true
  fi
  rm -f "$diskcopy" "$diskcopy.lock"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
cp --reflink=auto -f "$disk" "$diskcopy"

# Bochs resolves relative paths against its working directory: hand it absolute ones.
abs() { echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; }

{
  echo "# Generated by tools/bochs-run.sh; rewritten on every run."
  echo "display_library: nogui"
  echo "romimage: file=\"$(abs "$ovmf")\", address=0xffe00000"
  echo "vgaromimage: file=\"$vgarom\""
  echo "megs: $megs"
  # count=N is N processors (the full form is processors:cores:threads). reset_on_triple_fault=0 makes
  # a triple fault a >>PANIC<< that ends the run and shows in the log; =1 would reset the machine and
  # OVMF would boot the image again, a silent loop until the timeout.
  echo "cpu: model=$model, count=$cpus, ips=$IPS, reset_on_triple_fault=0, ignore_bad_msrs=1"
  # i440fx is a host bridge OVMF knows; its PIIX IDE is where OVMF finds ata0.
  echo "pci: enabled=1, chipset=i440fx"
  echo "ata0: enabled=1, ioaddr1=0x1f0, ioaddr2=0x3f0, irq=14"
  echo "ata0-master: type=disk, path=\"$(abs "$diskcopy")\", mode=flat"
  echo "com1: enabled=1, mode=file, dev=\"$(abs "$serial")\""
  [ -z "$e9" ] || echo "port_e9_hack: enabled=1"
  # sync=none: emulated time follows executed instructions only, so the TSC and every timer are
  # reproducible from run to run.
  echo "clock: sync=none, time0=$TIME0"
  # xchg bx,bx breaks into the debugger when one is attached (bochs -debugger, by hand).
  echo "magic_break: enabled=1"
  echo "log: \"$(abs "$log")\""
  # A panic must end the run (nogui cannot ask anyone); errors are reported and the run goes on.
  echo "panic: action=fatal"
  echo "error: action=report"
  echo "info: action=report"
  echo "debug: action=ignore"
} > "$rcfile"

: > "$serial"
rm -f "$log"
# bash reports an emulator killed by a signal ("Segmentation fault", "Aborted") on its own stderr when
# it reaps it; the summary line below says it better, so keep that noise out while the emulator lives.
exec {stderr_fd}>&2 2>/dev/null
start=$EPOCHREALTIME
# setsid: Bochs leads its own process group, so one signal reaches it and anything it started.
# stdin from /dev/null: Bochs must never wait for a person. Its stdout carries the port 0xe9 bytes
# (after its banner); its stderr has the messages from before the log file opens.
setsid "$BOCHS" -q -f "$rcfile" </dev/null >"$stdout" 2>"$base.stderr" &
bpid=$!

why='' seen=0 exited=0
deadline=$(( ${start%.*} + timeout ))
while :; do
  if [ -n "$until" ] && grep -qaE -- "$until" "$serial"; then
    seen=1; why="pattern seen"
    # Let the rest of the result lines arrive before stopping the machine.
    sleep 1
    break
  fi
  if ! kill -0 "$bpid" 2>/dev/null; then
    exited=1; break
  fi
  if [ "${EPOCHREALTIME%.*}" -ge "$deadline" ]; then
    why="timeout after ${timeout}s"; break
  fi
  sleep 0.2
done

bstatus=
if kill -0 "$bpid" 2>/dev/null; then
  kill -TERM -- "-$bpid" 2>/dev/null || true
  for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$bpid" 2>/dev/null || break; sleep 0.2; done
  kill -KILL -- "-$bpid" 2>/dev/null || true
  { wait "$bpid"; } 2>/dev/null || true
else
  bstatus=0; { wait "$bpid"; } 2>/dev/null || bstatus=$?
fi
bpid=
exec 2>&$stderr_fd {stderr_fd}>&-
end=$EPOCHREALTIME

if [ "$exited" = 1 ]; then
  why="bochs exited (status $bstatus)"
  if [ -n "$until" ]; then
    # The pattern may have arrived between the last look and the exit.
    if grep -qaE -- "$until" "$serial"; then seen=1; why="pattern seen, bochs exited (status $bstatus)"
    else why="$why without the pattern"; fi
  fi
fi

# The port 0xe9 bytes, without Bochs' banner and config echo that precede them on its stdout.
if [ -n "$e9" ]; then
  awk 'body { print; next }
       /^=+$/ || /^ +(Bochs x86 Emulator|Built from|Timestamp:)/ || /^magic breakpoint mask:/ { next }
       { body = 1; print }' "$stdout" > "$e9"
fi

# Failures Bochs records: a failed VM entry names the failed check; a panic is any emulator-fatal
# event, a triple fault included. The shutdown port itself is logged as a panic: that one is the
# normal way a guest ends a run, not a failure.
failures=$(grep -aE 'VMFAIL|VMENTER FAIL|>>PANIC<<' "$log" 2>/dev/null |
           grep -avE '>>PANIC<< Shutdown port: shutdown requested$' || true)
if [ -n "$failures" ]; then
  echo "bochs-run: failures in $log:" >&2
  printf '%s\n' "$failures" | head -n 20 >&2
fi
# Early failures (a bad bochsrc, a missing file) end up on Bochs' stderr, not the log.
if [ "$exited" = 1 ] && [ ! -s "$serial" ] && [ -s "$base.stderr" ]; then
  echo "bochs-run: bochs stderr ($base.stderr):" >&2
  tail -n 5 "$base.stderr" >&2
fi

# Bochs killed by a signal before the guest asked it to stop (a crash mid-run). The same crash after
# the shutdown request, or after the pattern was seen, is a known flaw of Bochs' exit path, not a
# failure of the guest.
crashed=0
if [ "$exited" = 1 ] && [ "${bstatus:-0}" -ge 128 ] && [ "$seen" = 0 ] &&
   ! grep -qa 'Shutdown port: shutdown requested' "$log" 2>/dev/null; then
  crashed=1; why="bochs crashed (status $bstatus) before the guest shut it down"
fi

if [ -n "$failures" ] || [ "$crashed" = 1 ]; then status=1
elif [ "$seen" = 1 ] || { [ -z "$until" ] && [ "$exited" = 1 ]; }; then status=0
else status=2
fi
secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
echo "bochs-run: ${secs}s wall, $why, exit $status (serial $serial, log $log)" >&2
exit $status
