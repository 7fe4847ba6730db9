#!/usr/bin/env bash
# Make a bootable GPT disk image (for a USB stick or a real machine's disk) holding a directory tree in
# one EFI System Partition.
#
#   tools/mkimage.sh OUT.img SRCDIR [SIZE_MB]     (SIZE_MB defaults to 64)
#
# Layout: protective MBR + GPT; partition 1, type EF00 (EFI System), starts at 1 MiB (LBA 2048, the
# alignment every partitioning tool and flash controller likes) and spans the rest of the disk;
# FAT32 from 64 MiB up (what the UEFI spec asks of fixed disks), FAT16 below (FAT12 under 4 MiB;
# UEFI reads those on removable media and OVMF reads them everywhere).
# Firmware boots \EFI\BOOT\BOOTX64.EFI from it. Write it with: dd if=OUT.img of=/dev/sdX bs=4M conv=fsync
#
# No root, no loop devices, no mounts: sgdisk writes the GPT and mtools writes the FAT inside the
# partition through the IMG@@OFFSET syntax. OUT.img is rebuilt from scratch every time.
set -euo pipefail

usage() { echo "usage: $0 OUT.img SRCDIR [SIZE_MB]" >&2; exit 3; }
die() { echo "mkimage.sh: $*" >&2; exit 3; }

if [ $# -lt 2 ] || [ $# -gt 3 ]; then usage; fi
out=$1 src=$2 size_mb=${3:-64}
[[ "$size_mb" =~ ^[0-9]+$ ]] || die "SIZE_MB must be a positive integer, got '$size_mb'"
[ "$size_mb" -ge 3 ] || die "SIZE_MB must be at least 3 (1 MiB alignment gap, GPT copies, the FAT)"
[ -d "$src" ] || die "source directory '$src' not found"
command -v sgdisk >/dev/null || die "sgdisk not found: install Debian's gdisk package (run tools/setup.sh)"
for t in mformat mcopy mdir; do
  command -v "$t" >/dev/null || die "$t not found: install Debian's mtools package (run tools/setup.sh)"
done
export MTOOLS_SKIP_CHECK=1   # the image is ours; skip mtools' drive-geometry sanity checks
# Reproducible images (as tools/mkesp.sh): fixed file times, volume serial and GPT GUIDs.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-946684800}
DISK_GUID=48565800-0000-4000-8000-000000000001
PART_GUID=48565800-0000-4000-8000-000000000002

tmp="$out.tmp.$$"
trap 'rm -f "$tmp"' EXIT
rm -f "$tmp"
truncate -s "${size_mb}M" "$tmp"

# GPT: -o new empty table (and protective MBR), -n partition 1 from LBA 2048 to the last usable
# sector (0 = as far as possible), -t type EF00, -c its name. sgdisk has no quiet flag (-q is not
# one: it makes sgdisk ignore the rest), so its chatter goes to /dev/null.
sgdisk -o -n 1:2048:0 -t 1:EF00 -c 1:"EFI System" -U "$DISK_GUID" -u 1:"$PART_GUID" "$tmp" >/dev/null ||
  die "sgdisk could not write the GPT"
first=$(sgdisk -i 1 "$tmp" | awk '/^First sector:/ { print $3 }')
last=$(sgdisk -i 1 "$tmp" | awk '/^Last sector:/ { print $3 }')
[[ "$first" =~ ^[0-9]+$ && "$last" =~ ^[0-9]+$ ]] || die "could not read partition 1 back from sgdisk"
sectors=$((last - first + 1))
offset=$((first * 512))
part="$tmp@@$offset"

# FAT32 needs at least 65525 clusters; from 64 MiB that holds with small clusters. Below, FAT16:
# mformat alone would pick FAT12 with big clusters for small sizes, so ask for 1-sector clusters
# while that still fits FAT16's cluster limit (under 32 MiB), and let it pick between 32 and 64 MiB.
fat=()
if [ "$size_mb" -ge 64 ]; then fat=(-F)
elif [ "$sectors" -lt 65000 ]; then fat=(-c 1)
fi
# -T: the partition's sector count (mtools cannot see the partition's end itself); -H: hidden sectors
# = the partition's first LBA, as the BPB of a partitioned disk should say; -h/-s: a nominal geometry
# for the BPB (UEFI ignores CHS).
mformat -i "$part" "${fat[@]}" -T "$sectors" -H "$first" -h 64 -s 32 -N 48565800 -v HVX_ESP :: ||
  die "mformat failed on the partition at byte offset $offset"

shopt -s nullglob dotglob
entries=("$src"/*)
if [ ${#entries[@]} -gt 0 ]; then
  mcopy -s -Q -i "$part" "${entries[@]}" ::/
fi

# Verify: the GPT is consistent, and the FAT inside it holds the boot path.
sgdisk -v "$tmp" | grep -q 'No problems found' || { sgdisk -v "$tmp" >&2; die "sgdisk -v reports problems"; }
if [ -f "$src/EFI/BOOT/BOOTX64.EFI" ]; then
  mdir -b -i "$part" ::/EFI/BOOT 2>/dev/null | grep -qi 'BOOTX64.EFI$' ||
    die "::/EFI/BOOT/BOOTX64.EFI not readable back from the partition"
fi
mv -f "$tmp" "$out"
trap - EXIT
fstype=$(minfo -i "$out@@$offset" :: 2>/dev/null | awk -F'"' '/^disk type=/ { sub(/ +$/, "", $2); print $2; exit }' || true)
echo "mkimage: $out: GPT, ESP (EF00) at LBA $first, $(awk -v s="$sectors" 'BEGIN { printf "%.1f", s / 2048 }') MiB${fstype:+ $fstype}" >&2
