#!/usr/bin/env bash
# Build the single-file OVMF flash image that Bochs loads as its ROM.
#
#   tools/ovmf.sh OUT
#
# Bochs has no pflash device: it maps one ROM image just below 4 GiB (romimage: address=0xffe00000).
# OVMF's split build is VARS (128 KiB, the variable store, which OVMF expects at the bottom of the
# flash) followed by CODE (1920 KiB, whose reset vector must end exactly at 4 GiB), so VARS then CODE
# concatenated is the layout of the unified OVMF.fd: 131072 + 1966080 = 2097152 bytes = 2 MiB, loaded at
# 4 GiB - 2 MiB = 0xffe00000. 2 MiB is also the largest ROM image Bochs accepts, so the 4 MiB OVMF
# variants (OVMF_CODE_4M.fd) cannot be used; we check the size so a changed OVMF package fails here,
# loudly, instead of as a hang at the reset vector.
set -euo pipefail

OVMF_DIR=${OVMF_DIR:-/usr/share/OVMF}
VARS="$OVMF_DIR/OVMF_VARS.fd"
CODE="$OVMF_DIR/OVMF_CODE.fd"
WANT=$((2 * 1024 * 1024))

usage() { echo "usage: $0 OUT" >&2; exit 3; }
die() { echo "ovmf.sh: $*" >&2; exit 3; }

if [ $# -ne 1 ] || [ -z "$1" ]; then usage; fi
out=$1

for f in "$VARS" "$CODE"; do
  [ -f "$f" ] || die "$f not found: install Debian's ovmf package (run tools/setup.sh)"
done

tmp="$out.tmp.$$"
trap 'rm -f "$tmp"' EXIT
cat "$VARS" "$CODE" > "$tmp"
size=$(stat -c %s "$tmp")
[ "$size" -eq "$WANT" ] ||
  die "$VARS + $CODE is $size bytes, not $WANT (2 MiB): Bochs needs a 2 MiB image at 0xffe00000"
mv -f "$tmp" "$out"   # atomic: parallel runs sharing OUT never see a half-written ROM
trap - EXIT
