#!/usr/bin/env bash
# Boot-media tier: `make image` output is a valid GPT disk whose ESP holds the loader, its config and the
# payload, byte-identical to the build.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib-tap.sh"
BUILD=${BUILD:-build}
img=$BUILD/hvx-usb.img
tap_check "make image writes $img" make -s image >/dev/null
tap_check "GPT verifies (sgdisk -v)" bash -c "sgdisk -v '$img' 2>&1 | grep -q 'No problems found'"
tap_check "partition 1 is an EFI System Partition" bash -c "sgdisk -i 1 '$img' | grep -q 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B'"
off=$(( $(sgdisk -i 1 "$img" | sed -n 's/^First sector: \([0-9]*\).*/\1/p') * 512 ))
for f in EFI/BOOT/BOOTX64.EFI EFI/BOOT/hvx.cfg EFI/hvx/rootcheck.efi; do
  tap_check "ESP holds $f, identical to the build" bash -c \
    "mtype -i '$img@@$off' ::/$f 2>/dev/null | cmp -s - '$BUILD/esp/$f'"
done
size=$(stat -c %s "$BUILD/loader.efi")
echo "# EFI image (loader with the core embedded): $size bytes; core $(stat -c %s "$BUILD/core.bin") bytes"
tap_check "EFI image is at most 256 KiB" [ "$size" -le 262144 ]
tap_summary image
