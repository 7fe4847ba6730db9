#!/usr/bin/env bash
# Host fuzzing tier (docs/fuzzing.md, "Host fuzzing"): builds the libFuzzer harnesses of tests/fuzz/ with
# clang, ASan and UBSan (make fuzz-host-build) and runs each one from its committed seed corpus.
#
#   tools/test-fuzz-host.sh          the `make test` tier: a fixed -seed and -runs per harness (the same
#                                    inputs every time, a few seconds each), TAP lines, "fuzz-host: ..."
#   tools/test-fuzz-host.sh --long   `make fuzz-host`: FUZZ_SECONDS (default 60) per harness, a random
#                                    seed, a corpus kept in $BUILD/fuzz/corpus-NAME between runs
#
# A missing clang or libFuzzer, a harness that does not build, a crash, a sanitizer report or a broken
# invariant, too few executions or too little coverage: each is a failed TAP line, never a skip.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
. "$HERE/lib-tap.sh"
BUILD=${BUILD:-build}
LONG=0
[ "${1:-}" = "--long" ] && LONG=1
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_CC=${FUZZ_CC:-clang-14}
cd "$ROOT" || exit 1

# name  runs (short tier)  minimum executions  minimum coverage (libFuzzer's `cov:`, edges reached)
HARNESSES=(
  "exitc              30000   30000  500"
  "exit_decode        120000  120000 170"
  "guest_walk         100000  100000 300"
  "hypercall_validate 300000  300000 55"
  "gpa_map            10000   10000  420"
)

has_libfuzzer() {
  echo 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }' |
    "$FUZZ_CC" -x c -fsanitize=fuzzer,address,undefined -o "$BUILD/fuzz/.probe" - 2>/dev/null
}

mkdir -p "$BUILD/fuzz/artifacts"
tap_check "$FUZZ_CC with libFuzzer, ASan and UBSan is installed (tools/setup.sh: clang, libclang-rt-14-dev)" has_libfuzzer
build_log=$BUILD/fuzz/build.log
if make -s -j2 BUILD="$BUILD" FUZZ_CC="$FUZZ_CC" fuzz-host-build >"$build_log" 2>&1; then
  tap OK "the harnesses build (make fuzz-host-build)"
else
  sed 's/^/#   /' "$build_log" | tail -20
  tap FAIL "the harnesses build (make fuzz-host-build)"
fi

total_execs=0
for h in "${HARNESSES[@]}"; do
  read -r name runs min_execs min_cov <<<"$h"
  bin=$BUILD/fuzz/fuzz_$name
  seeds=tests/fuzz/corpus/$name
  log=$BUILD/fuzz/$name.log
  opts=(-print_final_stats=1 -artifact_prefix="$BUILD/fuzz/artifacts/$name-" -max_len=4096)
  [ -f "tests/fuzz/$name.dict" ] && opts+=(-dict="tests/fuzz/$name.dict")
  if [ "$LONG" = 1 ]; then
    work=$BUILD/fuzz/corpus-$name      # kept: each long run starts where the last one stopped
    mkdir -p "$work"
    opts+=(-max_total_time="$FUZZ_SECONDS")
    min_execs=1
  else
    work=$BUILD/fuzz/work-$name        # fresh: the same inputs on every run
    rm -rf "$work"; mkdir -p "$work"
    opts+=(-seed=1 -runs="$runs" -max_total_time=30)
  fi
  if [ ! -x "$bin" ]; then
    tap FAIL "fuzz_$name: not built"
    continue
  fi
  start=$(date +%s%N)
  "$bin" "${opts[@]}" "$work" "$seeds" >"$log" 2>&1
  rc=$?
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  execs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\)/\1/p' "$log" | tail -1)
  cov=$(grep -E '^#[0-9]+[[:space:]]+(DONE|INITED|NEW|REDUCE|pulse)' "$log" | sed -n 's/.* cov: \([0-9]*\).*/\1/p' | tail -1)
  seed=$(sed -n 's/^INFO: Seed: \([0-9]*\)/\1/p' "$log" | head -1)
  execs=${execs:-0}; cov=${cov:-0}
  total_execs=$((total_execs + execs))
  echo "# fuzz_$name: $execs executions in $((ms / 1000)).$((ms % 1000 / 100))s (seed $seed), coverage $cov edges, corpus $(ls "$work" | wc -l) new + $(ls "$seeds" | wc -l) seeds"
  if [ "$rc" -eq 0 ] && ! grep -qE '^==[0-9]+==ERROR|invariant broken|runtime error|deadly signal' "$log"; then
    tap OK "fuzz_$name: $execs executions, no crash, no sanitizer report, no broken invariant"
  else
    grep -E 'invariant broken|runtime error|ERROR|SUMMARY|Test unit written' "$log" | head -8 | sed 's/^/#   /'
    tap FAIL "fuzz_$name: crashed or broke an invariant (exit $rc; log $log, input in $BUILD/fuzz/artifacts/)"
  fi
  tap_check "fuzz_$name: at least $min_execs executions ($execs)" [ "$execs" -ge "$min_execs" ]
  tap_check "fuzz_$name: coverage of at least $min_cov edges ($cov)" [ "$cov" -ge "$min_cov" ]
done
echo "# host fuzzing: $total_execs executions in all"
tap_summary fuzz-host
