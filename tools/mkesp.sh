#!/usr/bin/env bash
# Make a raw FAT image (no partition table) holding a directory tree, for emulators that take a bare
# EFI System Partition as a disk (Bochs' ata0-master; OVMF boots \EFI\BOOT\BOOTX64.EFI from it).
#
#   tools/mkesp.sh OUT.img SRCDIR [SIZE_MB]     (SIZE_MB defaults to 32)
#
# Only mtools is used (no root, no loop devices, no mkfs.vfat). mformat picks FAT16 or FAT32 from the
# size. OUT.img is rebuilt from scratch every time; the same tree gives a byte-identical image.
set -euo pipefail

usage() { echo "usage: $0 OUT.img SRCDIR [SIZE_MB]" >&2; exit 3; }
die() { echo "mkesp.sh: $*" >&2; exit 3; }

if [ $# -lt 2 ] || [ $# -gt 3 ]; then usage; fi
out=$1 src=$2 size_mb=${3:-32}
[[ "$size_mb" =~ ^[1-9][0-9]*$ ]] || die "SIZE_MB must be a positive integer, got '$size_mb'"
[ -d "$src" ] || die "source directory '$src' not found"
for t in mformat mcopy; do
  command -v "$t" >/dev/null || die "$t not found: install Debian's mtools package (run tools/setup.sh)"
done

# mtools refuses images it thinks are on a different "drive geometry" unless told not to check;
# MTOOLS_SKIP_CHECK avoids spurious failures on images it did not make itself.
export MTOOLS_SKIP_CHECK=1
# Reproducible images: file times from SOURCE_DATE_EPOCH (mtools honours it; 2000-01-01 unless the
# caller sets one) and a fixed volume serial, so two builds of the same tree are byte-identical and an
# emulated boot of them executes the same instructions.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-946684800}

tmp="$out.tmp.$$"
trap 'rm -f "$tmp"' EXIT
rm -f "$tmp"
truncate -s "${size_mb}M" "$tmp"
# -h/-s/-t describe the geometry so mformat needs no /etc/mtools.conf entry for a file; the total
# (64 heads x 32 sectors x cylinders) equals the file size. -v sets a volume label for people.
mformat -i "$tmp" -h 64 -s 32 -t $((size_mb)) -N 48565800 -v HVX_ESP ::

# Copy the tree: mcopy -s recurses; copying each top-level entry keeps SRCDIR's own name out of the image.
shopt -s nullglob dotglob
entries=("$src"/*)
if [ ${#entries[@]} -gt 0 ]; then
  mcopy -s -Q -i "$tmp" "${entries[@]}" ::/
fi
mv -f "$tmp" "$out"
trap - EXIT
