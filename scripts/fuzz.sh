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
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/fuzz/lsan.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# first_frame LOG: "module function" of the first stack frame of the report in LOG that is
# neither libFuzzer, a sanitizer, the allocator nor the C/C++ runtime (where the fault, or
# for a leak the allocation, really is).
first_frame() {
  grep -E '^ *#[0-9]+ 0x' "$1" | grep -vE 'fuzzer::|__sanitizer|__asan|__ubsan|__interceptor|std::terminate|__cxa_|__gxx_|libc\.so|libstdc\+\+|libgcc' |
    grep -vE ' in (malloc|calloc|realloc|free|strdup|operator new|operator delete)' |
    head -1 | sed -E 's/^ *#[0-9]+ 0x[0-9a-f]+ (in )?//'
}

failed=() library=()
for t in "${targets[@]}"; do
  corpus=$build/fuzz-corpus/$t artifacts=$build/fuzz-artifacts/$t
  mkdir -p "$corpus" "$artifacts"
  cp -n tests/fuzz/corpus/"$t"/* "$corpus"/ 2>/dev/null || true
  [[ $t == sweep_spec ]] && cp -n sweeps/*.yaml "$corpus"/
  echo "== fuzz_$t: ${seconds}s from $(ls "$corpus" | wc -l) inputs"
  rc=0
  # Fork mode: a crash or hang is saved and fuzzing goes on, so that one finding in libhdf5
  # does not end the run; every saved input is classified below.
  "$build/tests/fuzz/fuzz_$t" "$corpus" -fork=1 -ignore_crashes=1 -ignore_timeouts=1 \
    -ignore_ooms=1 -max_total_time="$seconds" -timeout=5 -rss_limit_mb=3072 \
    -artifact_prefix="$artifacts/" >"$build/fuzz-$t.log" 2>&1 || rc=$?
  grep -E '^#[0-9]+: cov: ' "$build/fuzz-$t.log" | tail -1 || true
  for a in "$artifacts"/*; do
    [[ -f $a && $a != *.report ]] || continue
    replay=0
    timeout 60 "$build/tests/fuzz/fuzz_$t" -timeout=5 -runs=1 "$a" >"$a.report" 2>&1 || replay=$?
    frame=$(first_frame "$a.report")
    if [[ $replay == 0 ]]; then
      library+=("$t: $(basename "$a") does not reproduce alone (a hang under load, or a suppressed libhdf5 leak)")
    elif [[ $frame == *libhdf5* ]]; then
      library+=("$t: $(basename "$a") in libhdf5: $frame")
    else
      failed+=("$t: $(basename "$a"): ${frame:-see $a.report}")
      grep -m1 -A8 -E "ERROR: |runtime error|terminate called" "$a.report" || tail -8 "$a.report"
    fi
  done
  # In fork mode libFuzzer exits non-zero when it saved inputs (classified above); without
  # any, a non-zero exit is a failure of its own.
  [[ $rc == 0 ]] || compgen -G "$artifacts/*.report" >/dev/null ||
    failed+=("$t: libFuzzer exited $rc (log: $build/fuzz-$t.log)")
done
if [[ ${#library[@]} -gt 0 ]]; then
  echo "Not failing (inside libhdf5 itself, or not reproducible; docs/data-formats.md, \"Fuzzing\"):"
  printf '  %s\n' "${library[@]}"
fi
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "FAIL:"
  printf '  %s\n' "${failed[@]}"
  exit 1
fi
echo "PASS: ${targets[*]} (${seconds}s each)"
