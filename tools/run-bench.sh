#!/usr/bin/env bash
# `make bench`: boots the hypervisor in Bochs with bench.efi as the next image, twice, and prints the
# cost of each path in emulated TSC ticks (deterministic: the TSC counts instructions) with the ratios
# the project holds itself to, writes build/bench.json, and says whether both runs agree to the tick.
# Where QEMU with nested KVM is available (an Intel host, tools/lib-tap.sh's why_not_kvm) the same image
# is booted once more there and a, b, b2 and c are printed in RDTSC cycles of real VT-x.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib-tap.sh"
BUILD=${BUILD:-build}

# One disk image, booted twice: rebuilding it would change the FAT timestamps (mcopy stamps the wall
# clock), hence the emulated boot, hence where the firmware's timer interrupts fall in the measured loops.
img_dir=$BUILD/bench
rm -rf "$img_dir" && mkdir -p "$img_dir/esp/EFI/BOOT" "$img_dir/esp/EFI/hvx"
cp "$BUILD/loader.efi" "$img_dir/esp/EFI/BOOT/BOOTX64.EFI"
cp "$BUILD/bench.efi" "$img_dir/esp/EFI/hvx/bench.efi"
printf 'next = \\EFI\\hvx\\bench.efi\nlog = warn\nmemory = 32M\n' > "$img_dir/esp/EFI/BOOT/hvx.cfg"
"$HERE/mkesp.sh" "$img_dir/esp.img" "$img_dir/esp" 64 >/dev/null

one_run() {   # one_run OUTDIR -> prints the bench lines
  local out=$1
  rm -rf "$out" && mkdir -p "$out"
  "$HERE/bochs-run.sh" --disk "$img_dir/esp.img" --serial "$out/com1.txt" --log "$out/bochs.log" --cpus 2 \
    --timeout 600 --until 'bench: done|bench: error|HV PANIC' >/dev/null 2>&1
  clean_serial "$out/com1.txt" | grep -E '^bench: [a-z_0-9]+=[0-9]+$' | sed 's/^bench: //'
}

r1=$(one_run "$BUILD/bench-1")
r2=$(one_run "$BUILD/bench-2")
[ -n "$r1" ] || { echo "bench: the first run printed no figures (see $BUILD/bench-1/com1.txt)"; exit 1; }
image=$(stat -c %s "$BUILD/loader.efi")
get() { echo "$r1" | sed -n "s/^$1=//p"; }
a=$(get a); b=$(get b); b2=$(get b2); c=$(get c)
ratio() { awk -v x="$1" -v y="$2" 'BEGIN { if (y > 0) printf "%.2f", x / y; else print "n/a" }'; }
printf '%-22s %14s   %s\n' "path" "ticks" "ratio to a (target)"
printf '%-22s %14s\n' "a  root CPUID" "$a"
printf '%-22s %14s   %s (<= 2.5)\n' "b  child exit to root" "$b" "$(ratio "$b" "$a")"
printf '%-22s %14s   %s (<= 3)\n' "b2 VMM loop" "$b2" "$(ratio "$b2" "$a")"
printf '%-22s %14s   %s (<= 1.3)\n' "c  child CPUID inside" "$c" "$(ratio "$c" "$a")"
printf '%-22s %14s\n' "d  MemoryAccess exit" "$(get d)"
printf '%-22s %14s\n' "e  partition lifecycle" "$(get e)"
printf '%-22s %14s   (%s EPT pages)\n' "f  map 1 GiB" "$(get f_map)" "$(get f_ept_pages)"
printf '%-22s %14s\n' "f  unmap 1 GiB" "$(get f_unmap)"
printf '%-22s %14s bytes (<= 262144)\n' "EFI image" "$image"
printf '%-22s %14s bytes (<= 16 KiB + EPT pages)\n' "per partition" "$(get partition_bytes)"
printf '%-22s %14s bytes\n' "per VP" "$(get vp_bytes)"
printf '%-22s %14s bytes\n' "pool at rest" "$(get pool_bytes_at_rest)"
{
  echo "{"
  for k in a b b2 c d e f_map f_unmap f_ept_pages partition_bytes vp_bytes pool_bytes_at_rest; do
    echo "  \"$k\": $(get $k),"
  done
  echo "  \"image_bytes\": $image,"
  echo "  \"runs_identical\": $([ "$r1" = "$r2" ] && echo true || echo false)"
  echo "}"
} > "$BUILD/bench.json"
if [ "$r1" = "$r2" ]; then echo "bench: both runs gave identical ticks"; else echo "bench: the two runs differ:"; diff <(echo "$r1") <(echo "$r2"); fi
echo "bench: figures in $BUILD/bench.json"
kvm_reason=$(why_not_kvm)
if [ -z "$kvm_reason" ]; then
  rm -rf "$BUILD/bench-kvm" && mkdir -p "$BUILD/bench-kvm"
  "$HERE/qemu-run.sh" --kvm --cpus 2 --disk "$img_dir/esp.img" --serial "$BUILD/bench-kvm/com1.txt" \
    --timeout 300 --until 'bench: done|bench: error|HV PANIC' >/dev/null 2>&1
  rk=$(clean_serial "$BUILD/bench-kvm/com1.txt" | grep -E '^bench: [a-z_0-9]+=[0-9]+$' | sed 's/^bench: //')
  if [ -n "$rk" ]; then
    echo "bench: QEMU with nested KVM, RDTSC cycles of real VT-x (one boot; see $BUILD/bench-kvm/com1.txt):"
    for k in a b b2 c; do
      v=$(echo "$rk" | sed -n "s/^$k=//p")
      printf '  %-3s %12s cycles   %s a\n' "$k" "$v" "$(ratio "$v" "$(echo "$rk" | sed -n 's/^a=//p')")"
    done
  else
    echo "bench: QEMU with nested KVM printed no figures (see $BUILD/bench-kvm/com1.txt)"
  fi
else
  echo "bench: RDTSC cycles under QEMU with nested KVM not measured: $kvm_reason"
fi
if [ -n "${BENCH_PROFILE:-}" ]; then   # make bench-profile: where each loop's ticks went (vmx/profile.h)
  echo "bench: profile of the first run, ticks per Run (each mark adds about 19 ticks):"
  clean_serial "$BUILD/bench-1/com1.txt" | grep -E 'bench: profile|profile: cpu' | sed 's/^.*profile: cpu/  cpu/'
fi
[ "$r1" = "$r2" ]
