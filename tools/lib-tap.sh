# Shared by the test-tier scripts: TAP lines and the per-tier tally, read by tools/run-tests.sh.
# Each tier prints "ok N - ..." / "not ok N - ..." lines and ends with "TIER: N passed, N failed".
tap_n=0
tap_failed=0
tap() {   # tap OK|FAIL "description"
  tap_n=$((tap_n + 1))
  if [ "$1" = OK ]; then echo "ok $tap_n - $2"; else echo "not ok $tap_n - $2"; tap_failed=$((tap_failed + 1)); fi
}
tap_check() {   # tap_check "description" command...  (ok when the command succeeds)
  local d=$1; shift
  if "$@"; then tap OK "$d"; else tap FAIL "$d"; fi
}
tap_summary() {   # tap_summary TIER
  echo "$1: $((tap_n - tap_failed)) passed, $tap_failed failed"
  [ "$tap_failed" -eq 0 ]
}
# Why QEMU with KVM cannot give a guest VT-x here; nothing printed when it can (an Intel host with VMX,
# /dev/kvm and kvm_intel's nested virtualization on). make run and make bench choose by it.
why_not_kvm() {
  [ -e /dev/kvm ] || { echo "no /dev/kvm"; return; }
  grep -q GenuineIntel /proc/cpuinfo || { echo "the host CPU is not Intel"; return; }
  grep -qw vmx /proc/cpuinfo || { echo "the host CPU shows no VMX"; return; }
  local nested=/sys/module/kvm_intel/parameters/nested
  [ -r "$nested" ] && grep -qE '^(Y|1)' "$nested" || { echo "kvm_intel nested virtualization is off"; return; }
}
# COM1 as text: firmware escape sequences and CRs removed (tools/bochs-run.sh documents what OVMF sends).
clean_serial() { tr -d '\r' < "$1" | sed 's/\x1b\[[0-9;=?]*[A-Za-z]//g'; }
