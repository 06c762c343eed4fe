#!/usr/bin/env bash
# Builds and tests locsweep on Debian 13 (trixie, LibTorch 2.6, Open MPI 5) in a chroot it
# creates, from a clean clone of this checkout's HEAD (committed work only). As root:
#   bash scripts/debian13-chroot.sh                       # the README's test command, whole suite
#   bash scripts/debian13-chroot.sh --tests unit,worker,mpi   # a subset (CI's trixie job)
# Options:
#   --tests LIST     all (default: exactly the README's test command) or a comma list of
#                    unit (every unit.* case), worker (label worker), mpi (orchestrator_sweep),
#                    integration (label integration), chaos (label chaos)
#   --rootfs-cache   keep/reuse the root file system tarball in ~/.cache/locsweep, keyed by
#                    date (a missing or stale one is simply made again: ~12 s)
#   --keep DIR       build in DIR and leave it there (reused when it exists: a second run only
#                    re-clones, reinstalls nothing and rebuilds with the kept ccache)
#   --ref REF        the commit to clone (default HEAD)
#   --ccache DIR     keep the chroot's ccache in DIR on the host (bind-mounted): a second run
#                    rebuilds in minutes instead of ~8 (CI passes it; it passes without it too)
#   --install-tools  only install what this script needs on the host (mmdebstrap) and stop:
#                    CI does this first, so that its host part's apt-get and this script,
#                    run side by side, never want the host's dpkg lock at the same time
# The chroot sees /proc, /sys, /dev, /dev/pts and /dev/shm (MPI) bind-mounted, and the host's CA
# bundle (the registries are reached through a TLS proxy); nothing else from the host (no
# OMPI_ALLOW_RUN_AS_ROOT: the tests set what they need, as for a user): a
# fresh ccache (unless --ccache), the Debian packages and the data are fetched inside. Unmounts
# on every exit.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"

tests=all
rootfs_cache=0
keep=""
ref=HEAD
ccache_dir=""
install_tools_only=0
while [ $# -gt 0 ]; do
  case "$1" in
    --tests) tests="${2:?--tests needs a list}"; shift 2 ;;
    --rootfs-cache) rootfs_cache=1; shift ;;
    --keep) keep="${2:?--keep needs a folder}"; shift 2 ;;
    --ref) ref="${2:?--ref needs a commit}"; shift 2 ;;
    --ccache) ccache_dir="$(mkdir -p "${2:?--ccache needs a folder}" && cd "$2" && pwd)"; shift 2 ;;
    --install-tools) install_tools_only=1; shift ;;
    *) echo "debian13-chroot.sh: unknown option '$1' (valid: --tests LIST, --rootfs-cache, --keep DIR, --ref REF, --ccache DIR, --install-tools)" >&2
       exit 2 ;;
  esac
done
for t in ${tests//,/ }; do
  case "$t" in
    all|unit|worker|mpi|integration|chaos) ;;
    *) echo "debian13-chroot.sh: unknown test set '$t' in --tests (valid: all, unit, worker, mpi, integration, chaos)" >&2
       exit 2 ;;
  esac
done
if [ "$(id -u)" != 0 ]; then
  echo "debian13-chroot.sh: needs root (mmdebstrap, mount, chroot)" >&2
  exit 2
fi
command -v mmdebstrap >/dev/null || {
  echo "== installing mmdebstrap"
  # A fresh machine has no package lists yet: update only when the install cannot find it.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mmdebstrap >/dev/null 2>&1 || {
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mmdebstrap >/dev/null
  }
}
[ "$install_tools_only" = 0 ] || exit 0

start=$(date +%s)
stamp() { echo "== [$(($(date +%s) - start)) s] $*"; }

if [ -n "$keep" ]; then
  root="$(mkdir -p "$keep" && cd "$keep" && pwd)"
else
  root="$(mktemp -d /var/tmp/locsweep-trixie.XXXXXX)"
fi

mounts=(proc sys dev dev/pts dev/shm)
[ -z "$ccache_dir" ] || mounts+=(root/.cache/ccache)
unmount_all() {
  local i
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
    if mountpoint -q "$root/${mounts[i]}"; then
      umount "$root/${mounts[i]}" 2>/dev/null || umount -l "$root/${mounts[i]}"
    fi
  done
}
cleanup() {
  unmount_all
  if [ -z "$keep" ]; then
    # Never delete through a mount that is still there (it would be the host's /dev).
    if grep -q " $root/" /proc/self/mounts; then
      echo "debian13-chroot.sh: something is still mounted under $root; left it there" >&2
    else
      rm -rf --one-file-system "$root"
    fi
  fi
}
trap cleanup EXIT

# 1. The root file system (cached by date when asked).
if [ ! -x "$root/usr/bin/apt-get" ]; then
  tarball=""
  if [ "$rootfs_cache" = 1 ]; then
    tarball="$HOME/.cache/locsweep/trixie-rootfs-$(date +%Y%m%d).tar"
    mkdir -p "$(dirname "$tarball")"
  fi
  if [ -n "$tarball" ] && [ -s "$tarball" ]; then
    stamp "root file system from $tarball"
  else
    stamp "making a trixie root file system (mmdebstrap)"
    out="${tarball:-$root.tar}"
    mmdebstrap --quiet --format=tar --variant=apt --include=ca-certificates,git trixie "$out.part" \
      http://deb.debian.org/debian
    mv "$out.part" "$out"
    tarball="$out"
    if [ "$rootfs_cache" = 1 ]; then
      find "$(dirname "$tarball")" -maxdepth 1 -name 'trixie-rootfs-*.tar' ! -path "$tarball" -delete
    fi
  fi
  tar -xf "$tarball" -C "$root"
  [ "$rootfs_cache" = 1 ] || rm -f "$tarball"
fi

# 2. What the chroot takes from the host: the kernel file systems, DNS, the CA bundle.
for m in "${mounts[@]}"; do
  mkdir -p "$root/$m"
  case "$m" in
    proc) mount -t proc proc "$root/proc" ;;
    root/.cache/ccache) mkdir -p "$ccache_dir" && mount --bind "$ccache_dir" "$root/$m" ;;
    *) mount --bind "/$m" "$root/$m" ;;
  esac
  mount --make-rslave "$root/$m"
done
cp -L /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
if [ -d /usr/local/share/ca-certificates ]; then
  mkdir -p "$root/usr/local/share/ca-certificates"
  cp -r /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/"
fi
cp -L /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"

# 3. A clean clone of the checkout (never a copy of build folders).
stamp "cloning $ref of $repo"
rm -rf "$root/root/src"
git -C "$repo" rev-parse --verify "$ref^{commit}" >/dev/null
git clone --quiet --no-local "$repo" "$root/root/src"
git -C "$root/root/src" checkout --quiet --detach "$(git -C "$repo" rev-parse "$ref")"

# 4. The tests, with the README's commands.
if [ "$tests" = all ]; then
  inner='bash scripts/setup.sh --with-test-tools && ctest --test-dir build --output-on-failure'
else
  targets=() ctest_args=()
  for t in ${tests//,/ }; do
    case "$t" in
      unit) targets+=(unit_tests); ctest_args+=('^unit\.') ;;
      worker) targets+=(worker_tests); ctest_args+=('^worker\.') ;;
      mpi) targets+=(locsweep); ctest_args+=('^orchestrator_sweep$') ;;
      integration) targets+=(locsweep unit_tests); ctest_args+=('^(submit_|slurm_|orchestrator_|tokenizer_|report_|docs_|clang_)') ;;
      chaos) targets+=(locsweep); ctest_args+=('^chaos\.') ;;
    esac
  done
  regex="$(IFS='|'; echo "${ctest_args[*]}")"
  inner="bash scripts/setup.sh --no-build \
    && cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null \
    && nice -n 10 cmake --build build -j \"\$(nproc)\" --target ${targets[*]} \
    && ctest --test-dir build --output-on-failure -R '$regex'"
fi
stamp "in the chroot: $inner"
set +e
chroot "$root" /usr/bin/env -i \
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
  TERM="${TERM:-dumb}" SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
  NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt \
  bash -c "cd /root/src && . /etc/os-release && echo \"== \$PRETTY_NAME\" && $inner"
rc=$?
set -e
stamp "done: exit $rc"
exit "$rc"
