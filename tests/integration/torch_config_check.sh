#!/usr/bin/env bash
# The LibTorch checks of the top-level CMakeLists.txt, against fake Torch CMake configs given
# with -DTorch_DIR (as a user would point at a downloaded libtorch or a pip wheel): a
# pre-cxx11-ABI LibTorch and one older than 1.13 stop the configure step with a message that
# names the problem and docs/platforms.md; a cxx11-ABI one gets past the check.
set -euo pipefail

src=${LOCSWEEP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
tmp=$(mktemp -d /tmp/locsweep-torch-config.XXXXXX)
trap 'rm -rf -- "$tmp"' EXIT
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# fake_torch DIR VERSION CXX_FLAGS: a TorchConfig.cmake like LibTorch's (the variables
# locsweep reads), with an imported torch target and no libraries behind it.
fake_torch() {
  mkdir -p "$1"
  cat >"$1/TorchConfigVersion.cmake" <<CFG
set(PACKAGE_VERSION "$2")
set(PACKAGE_VERSION_COMPATIBLE TRUE)
CFG
  cat >"$1/TorchConfig.cmake" <<CFG
add_library(torch INTERFACE IMPORTED)
set(TORCH_LIBRARIES torch)
set(TORCH_INCLUDE_DIRS "$1/include")
set(TORCH_CXX_FLAGS "$3")
set(Torch_FOUND TRUE)
CFG
}

# configure NAME: configures the project against fake/NAME, output in NAME.log; its exit status.
configure() {
  cmake -S "$src" -B "$tmp/build-$1" -DTorch_DIR="$tmp/fake/$1" >"$tmp/$1.log" 2>&1
}

echo "== a pre-cxx11-ABI LibTorch (as in pip wheels and libtorch-shared-with-deps zips of old)"
fake_torch "$tmp/fake/pre-cxx11" 2.6.0 "-D_GLIBCXX_USE_CXX11_ABI=0"
if configure pre-cxx11; then fail "configure accepted a pre-cxx11 LibTorch"; fi
grep -q "pre-cxx11 ABI" "$tmp/pre-cxx11.log" || { cat "$tmp/pre-cxx11.log"; fail "no ABI message"; }
grep -q "docs/platforms.md" "$tmp/pre-cxx11.log" || fail "the ABI message does not point at the docs"

echo "== a LibTorch older than 1.13"
fake_torch "$tmp/fake/old" 1.12.1 "-D_GLIBCXX_USE_CXX11_ABI=1"
if configure old; then fail "configure accepted LibTorch 1.12"; fi
grep -q "LibTorch 1.12.1 .* is too old" "$tmp/old.log" || { cat "$tmp/old.log"; fail "no version message"; }

echo "== a cxx11-ABI LibTorch 2.6 passes the check (and is reported)"
fake_torch "$tmp/fake/good" 2.6.0 "-D_GLIBCXX_USE_CXX11_ABI=1"
configure good || true  # later steps may still fail on the fake: only the check matters here
grep -q -- "-- LibTorch 2.6.0, CPU only ($tmp/fake/good)" "$tmp/good.log" ||
  { cat "$tmp/good.log"; fail "a good LibTorch was not reported"; }
if grep -q "pre-cxx11 ABI\|is too old" "$tmp/good.log"; then fail "a good LibTorch was refused"; fi
echo "OK"
