#!/usr/bin/env bash
# Idempotent set-up of everything the build and the test tiers need, from Debian's packages only.
# Called by `make` targets on first use; safe to run again (it only does what is missing).
#
#   tools/setup.sh            install packages and build Bochs 3.0 if missing
#   tools/setup.sh --check    say what is missing, install nothing (exit 1 if anything is)
#
# Bochs: Debian 12's 2.7 binary leaves an INIT pending after the INIT VM exit (hangs virtualized APs),
# so we build 3.0 from Debian 13's source package into a cache outside the checkout.
set -euo pipefail

CACHE=${HV_CACHE:-/var/cache/hvx}
BOCHS_PREFIX="$CACHE/bochs-3.0"
PKGS=(gnu-efi nasm mtools ovmf qemu-system-x86 libreadline-dev g++ xz-utils gdisk dpkg-dev clang libclang-rt-14-dev)

say() { printf 'setup: %s\n' "$*" >&2; }

missing_pkgs() {
  local p out=()
  for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || out+=("$p")
  done
  echo "${out[@]:-}"
}

# The stamp names the configuration: a cache built with other options is rebuilt.
BOCHS_STAMP=.built-ok-no-show-ips
bochs_ok() { [ -x "$BOCHS_PREFIX/bin/bochs" ] && [ -f "$BOCHS_PREFIX/$BOCHS_STAMP" ]; }

if [ "${1:-}" = "--check" ]; then
  m=$(missing_pkgs); rc=0
  [ -n "$m" ] && { say "missing Debian packages: $m (run tools/setup.sh as root)"; rc=1; }
  bochs_ok || { say "missing Bochs 3.0 at $BOCHS_PREFIX (run tools/setup.sh)"; rc=1; }
  exit $rc
fi

need_root() {
  [ "$(id -u)" = 0 ] && return 0
  say "must run as root to install: $*"; exit 1
}

install_pkgs() {
  local m; m=$(missing_pkgs)
  [ -z "$m" ] && return 0
  need_root "$m"
  say "installing Debian packages: $m"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $m >/dev/null
}

# Fetch Bochs 3.0's source through apt from Debian 13 (trixie), using an apt configuration of our own
# so that the machine's sources stay untouched.
fetch_bochs_source() {
  local work=$1 aptdir="$CACHE/apt-trixie"
  mkdir -p "$aptdir/lists/partial" "$aptdir/archives/partial"
  cat > "$aptdir/sources.list" <<SRC
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main
SRC
  local opts=(-o Dir::Etc::sourcelist="$aptdir/sources.list" -o Dir::Etc::sourceparts=/nonexistent
              -o Dir::State::Lists="$aptdir/lists" -o APT::Get::List-Cleanup=0)
  apt-get "${opts[@]}" update -qq
  # The registry may answer 404 for the .dsc while both tarballs arrive (verified against the signed
  # index): apt then exits 100; the orig tarball is what we need.
  (cd "$work" && apt-get "${opts[@]}" source --download-only bochs >/dev/null 2>&1) || true
  ls "$work"/bochs_3.0*.orig.tar.* >/dev/null 2>&1 || { say "could not download bochs 3.0 source"; exit 1; }
}

build_bochs() {
  bochs_ok && return 0
  need_root "bochs build into $CACHE"
  local work="$CACHE/bochs-src"
  rm -rf "$work"; mkdir -p "$work"
  say "building Bochs 3.0 from Debian 13's source package (about 3 minutes)"
  fetch_bochs_source "$work"
  tar -C "$work" -xf "$work"/bochs_3.0*.orig.tar.*
  local src; src=$(find "$work" -maxdepth 1 -mindepth 1 -type d | head -1)
  # --disable-show-ips: Bochs reports its speed once a second from a SIGALRM handler through its logger,
  # which deadlocks the emulator (futex wait, no CPU, silent log) when the signal lands inside a log
  # write: seen here as stalled boots, most often in runs that log many EPT-violation exits.
  rm -rf "$BOCHS_PREFIX"
  (cd "$src" && ./configure --enable-x86-64 --enable-smp --enable-cpu-level=6 --enable-vmx=2 \
      --enable-avx --enable-evex --enable-pci --enable-debugger --enable-all-optimizations \
      --enable-memtype --enable-configurable-msrs --enable-usb --with-nogui --disable-show-ips \
      --prefix="$BOCHS_PREFIX" >"$work/configure.log" 2>&1 \
    && make -j"$(nproc)" >"$work/make.log" 2>&1 && make install >"$work/install.log" 2>&1) \
    || { say "Bochs build failed; logs in $work"; exit 1; }
  touch "$BOCHS_PREFIX/$BOCHS_STAMP"
  rm -rf "$work"
  say "Bochs 3.0 installed in $BOCHS_PREFIX"
}

install_pkgs
build_bochs
