#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/) with clang-14, ASan and UBSan in build-fuzz/,
# and runs each for SECONDS (default 60) from its seed corpus; exits 1 when any target
# found a crash, a sanitizer report, a leak or a timeout (the input is kept in
# build-fuzz/fuzz-artifacts/<target>/ and printed). See docs/data-formats.md, "Fuzzing".
#
# usage: scripts/fuzz.sh [SECONDS-PER-TARGET] [TARGET...]
#        (targets: checkpoint attention safetensors token_cache sweep_spec schedule)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(checkpoint attention safetensors token_cache sweep_spec schedule)
build=build-fuzz

if [[ ! -f $build/build.ninja ]]; then
  CC=clang-14 CXX=clang++-14 cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DLOCSWEEP_FUZZ=ON -DLOCSWEEP_SANITIZE=ON >/dev/null
fi
cmake --build "$build" -j"${FUZZ_BUILD_JOBS:-2}" --target "${targets[@]/#/fuzz_}"

export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=()
for t in "${targets[@]}"; do
  corpus=$build/fuzz-corpus/$t artifacts=$build/fuzz-artifacts/$t
  mkdir -p "$corpus" "$artifacts"
  cp -n tests/fuzz/corpus/"$t"/* "$corpus"/ 2>/dev/null || true
  [[ $t == sweep_spec ]] && cp -n sweeps/*.yaml "$corpus"/
  echo "== fuzz_$t: ${seconds}s from $(ls "$corpus" | wc -l) inputs"
  rc=0
  "$build/tests/fuzz/fuzz_$t" "$corpus" -max_total_time="$seconds" -timeout=20 \
    -rss_limit_mb=3072 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" >"$build/fuzz-$t.log" 2>&1 || rc=$?
  grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb|cov: " "$build/fuzz-$t.log" | tail -3
  if [[ $rc != 0 ]]; then
    failed+=("$t")
    echo "!! fuzz_$t exited $rc; log: $build/fuzz-$t.log; inputs:" "$artifacts"/*
    grep -m1 -A12 -E "ERROR: |runtime error|SUMMARY" "$build/fuzz-$t.log" || tail -20 "$build/fuzz-$t.log"
  fi
done
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "FAIL: ${failed[*]}"
  exit 1
fi
echo "PASS: ${targets[*]} (${seconds}s each)"
