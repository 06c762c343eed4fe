# Shared by the orchestrator_*.sh integration tests (sourced, not run): a private temporary
# folder removed on exit together with every process still running from it, mpirun set up
# for root and more ranks than cores, and small helpers for SQL checks and waiting.
#
# Every process a test starts names $tmp on its command line (--db / --out paths under it),
# so the cleanup finds leftovers (ranks, trial-exec children) by that and kills them by pid.

# shellcheck shell=bash disable=SC2034  # PY and MPIRUN are for the scripts that source this
set -euo pipefail

: "${LOCSWEEP:?set LOCSWEEP to the locsweep binary}"
tmp=$(mktemp -d "/tmp/locsweep-${ORCH_TEST_NAME:-orch}.XXXXXX")
PY=/usr/bin/python3

# shellcheck source-path=SCRIPTDIR source=test_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/test_lib.sh"

extra_cleanup() { :; }  # a test may redefine it (e.g. to undo chattr +i)
cleanup() {
  local code=$?
  extra_cleanup || true
  kill_leftovers
  sleep 0.2
  kill_leftovers
  remove_tmp "$code"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

if [[ $(id -u) == 0 ]]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
# No core binding: the ranks' trial children must not all share one core.
MPIRUN=(mpirun --oversubscribe --bind-to none)
# The process name of mpirun once it runs: Open MPI 4 keeps "mpirun", Open MPI 5's mpirun execs
# PRRTE's "prterun" (for pgrep -x).
MPIRUN_PROCESS='mpirun|prterun'

# Open MPI's run-time writes its session files under TMPDIR: keep them in $tmp too.
export TMPDIR=$tmp

# sql DB QUERY: one value (or rows, '|'-separated) from the sqlite3 shell.
sql() { sqlite3 -batch -noheader -cmd ".timeout 10000" "$1" "$2"; }

# reference_run SWEEP DB: runs SWEEP (one trial) alone and uninterrupted, in one process;
# prints the trial's hash.
reference_run() {
  local hash rc
  timeout -k 5 120 "$LOCSWEEP" run "$1" --db "$2" --threads 1 >"$tmp/ref.out" 2>&1 ||
    { rc=$?; cat "$tmp/ref.out" >&2; fail "reference run exited $rc"; }
  hash=$(sql "$2" "SELECT hash FROM trials")
  [[ ${#hash} == 64 ]] || fail "no reference trial"
  echo "$hash"
}
