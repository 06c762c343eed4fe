# shellcheck shell=bash
# Shared by the rank_*.sh chaos tests (sourced, not run): orchestrator_lib.sh (temp dir,
# cleanup that kills leftovers, mpirun for root, sql, wait_for) plus helpers to find a worker
# rank's process, run a sweep under mpirun in the background and check the DB afterwards.
# Set ORCH_TEST_NAME before sourcing.

# shellcheck source-path=SCRIPTDIR source=../integration/orchestrator_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../integration/orchestrator_lib.sh"

# The rank processes this test stopped: continued in cleanup (then killed as leftovers).
stopped=()
extra_cleanup() {
  local pid
  for pid in ${stopped[@]+"${stopped[@]}"}; do kill -CONT "$pid" 2>/dev/null || true; done
}

# rank_pid RANK: the pid of the `locsweep run` process of MPI rank RANK (from its environment;
# its trial children inherit the variable but run `trial-exec`).
rank_pid() {
  local pid
  for pid in $(pids_under_tmp); do
    [[ $({ tr '\0' '\n' <"/proc/$pid/cmdline"; } 2>/dev/null | sed -n 2p) == run ]] || continue
    if { tr '\0' '\n' <"/proc/$pid/environ"; } 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$1"; then
      echo "$pid"
      return 0
    fi
  done
  return 1
}

stop_rank() {  # PID: SIGSTOP, remembered for the cleanup
  kill -STOP "$1"
  stopped+=("$1")
}

# no_process_left: nothing started by the test still runs (mpirun, ranks, trial children).
no_process_left() { [[ -z $(pids_under_tmp) ]]; }

# expect_done_once DB N: N trials, each done by exactly one attempt; no trial, attempt or run
# row left running.
expect_done_once() {
  local db=$1 n=$2 got
  got=$(sql "$db" "SELECT count(*) FROM trials WHERE status = 'done'")
  [[ $got == "$n" && $(sql "$db" "SELECT count(*) FROM trials") == "$n" ]] ||
    fail "$got of $n trials done: $(sql "$db" 'SELECT label, status, attempts FROM trials')"
  got=$(sql "$db" "SELECT count(*) FROM trials t WHERE (SELECT count(*) FROM attempts a
                   WHERE a.trial_hash = t.hash AND a.status = 'done') = 1")
  [[ $got == "$n" ]] || fail "not every trial has exactly one done attempt: $(sql "$db" \
    "SELECT trial_hash, number, worker_rank, status, outcome FROM attempts ORDER BY trial_hash, number")"
  got=$(sql "$db" "SELECT (SELECT count(*) FROM trials WHERE status = 'running') +
                          (SELECT count(*) FROM attempts WHERE status = 'running' OR ended_at IS NULL) +
                          (SELECT count(*) FROM runs WHERE status = 'running')")
  [[ $got == 0 ]] || fail "$got rows left running"
}
