# shellcheck shell=bash
# Shared by the slurm_*_e2e.sh integration tests (sourced, not run): skips (exit 77) without
# root, Slurm, munge or the Moby-Dick data; a private temporary folder with a real single-node
# Slurm in it (slurm/cluster.sh), stopped and removed on exit together with any process still
# running from the folder; helpers for SQL checks, waiting and job states.
#
# Set SLURM_TEST_NAME before sourcing. After sourcing: $tmp, $db (results DB path in $tmp);
# after start_cluster: $SLURM_CONF (the cluster's) and TMPDIR=$tmp (Open MPI's session files
# of the jobs land there).

set -euo pipefail

: "${LOCSWEEP:?set LOCSWEEP to the locsweep binary}"
src=${LOCSWEEP_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
cluster=$src/slurm/cluster.sh
PY=/usr/bin/python3

[[ $(id -u) == 0 ]] || { echo "SKIP: needs root (the test cluster runs as root)"; exit 77; }
for prog in munged mungekey slurmctld slurmd srun sbatch scontrol squeue scancel sacct sqlite3; do
  command -v "$prog" >/dev/null || { echo "SKIP: $prog not installed"; exit 77; }
done
# shellcheck source-path=SCRIPTDIR source=test_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/test_lib.sh"
require_moby_dick

tmp=$(mktemp -d "/tmp/locsweep-${SLURM_TEST_NAME:-slurm-e2e}.XXXXXX")
chmod 755 "$tmp"  # munged wants every folder above its socket searchable by all
export LOCSWEEP_SLURM_DIR=$tmp/slurm
db=$tmp/results.sqlite

cleanup() {
  local code=$?
  "$cluster" stop >/dev/null 2>&1 || true  # cancels the jobs, stops the daemons
  kill_leftovers
  remove_tmp "$code"
}
trap cleanup EXIT

# Prints what helps to see why: the jobs' output, the test's logs, the controller's log.
fail() {
  local f
  echo "FAIL: $*" >&2
  for f in "$db".slurm/*.out "$tmp"/*.log; do
    [[ -f $f ]] && { echo "---- $f (last 60 lines)" >&2; tail -n 60 "$f" >&2; }
  done
  f=$tmp/slurm/log/slurmctld.log
  [[ -f $f ]] && { echo "---- $f (last 20 lines)" >&2; tail -n 20 "$f" >&2; }
  exit 1
}

start_cluster() {
  local env_lines
  env_lines=$("$cluster" start) || fail "slurm/cluster.sh start failed"
  eval "$env_lines"
  export TMPDIR=$tmp
}

# submit_job SWEEP OPTION...: `locsweep submit` of SWEEP on 3 ranks into $db; prints the job id.
submit_job() {
  "$LOCSWEEP" submit "$1" --db "$db" --ranks-per-node 3 "${@:2}" 2>"$tmp/submit.log" ||
    fail "submit failed: $(cat "$tmp/submit.log")"
}

# sql QUERY: one value (or rows, '|'-separated) from the results DB.
sql() { sqlite3 -batch -noheader "$db" "$1"; }

# The job's state while the controller knows it (squeue -t all), else GONE.
job_state() {
  local state
  state=$(squeue -h -t all -j "$1" -o %T 2>/dev/null || true)
  echo "${state:-GONE}"
}
job_finished() { [[ $(job_state "$1") =~ ^(COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|GONE)$ ]]; }
restarts() { scontrol show job -o "$1" | sed -n 's/.* Restarts=\([0-9]*\).*/\1/p'; }
job_exit_code() { scontrol show job -o "$1" | sed -n 's/.* ExitCode=\([0-9:]*\).*/\1/p'; }

# The GPT-2 sweeps of these tests validate less often than the orchestrator tests'.
gpt2_eval_every=20 gpt2_eval_windows=4

# On a finished sweep of N trials: every trial done, by exactly one attempt (nothing run
# twice, nothing lost).
expect_every_trial_done_once() {
  local n=$1 got
  got=$(sql "SELECT count(*) FROM trials WHERE status = 'done'")
  [[ $got == "$n" ]] || fail "$got of $n trials done: $(sql 'SELECT label, status, attempts FROM trials')"
  got=$(sql "SELECT count(*) FROM trials t WHERE (SELECT count(*) FROM attempts a
             WHERE a.trial_hash = t.hash AND a.status = 'done') = 1")
  [[ $got == "$n" ]] || fail "not every trial has exactly one done attempt: $(sql \
    "SELECT trial_hash, number, status, outcome, resumed_from FROM attempts ORDER BY trial_hash, number")"
}
