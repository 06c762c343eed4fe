# shellcheck shell=bash
# Shared by the chaos tests of the run lease, the busy database and the run's exit paths
# (lease_*.sh, busy_db*.sh, exit_paths*.sh; sourced, not run): the orchestrator test library
# (private $tmp, cleanup that kills every process naming it, mpirun for root, sql, wait_for)
# plus the checks each of them makes on the database and the processes.

# shellcheck source-path=SCRIPTDIR source=../integration/orchestrator_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../integration/orchestrator_lib.sh"

# noop_sweep FILE NAME SECONDS SEEDS: a sweep of noop trials sleeping SECONDS, one per seed
# ("0, 1, 2").
noop_sweep() {
  cat >"$1" <<YAML
name: $2
kind: noop
noop: {duration_s: $3}
order: fifo
seeds: [$4]
YAML
}

# all_done_once DB N: N trials done, each with exactly one done attempt; nothing duplicated.
all_done_once() {
  local db=$1 n=$2
  [[ $(sql "$db" "SELECT count(*) FROM trials WHERE status = 'done'") == "$n" ]] ||
    fail "not every trial is done: $(sql "$db" "SELECT label, status FROM trials")"
  [[ $(sql "$db" "SELECT count(*) FROM attempts WHERE status = 'done'") == "$n" ]] ||
    fail "a trial was done more than once: $(sql "$db" "SELECT trial_hash, number, status, run_id FROM attempts")"
  [[ $(sql "$db" "SELECT count(DISTINCT trial_hash) FROM attempts WHERE status = 'done'") == "$n" ]] ||
    fail "done attempts do not cover every trial"
}

# nothing_running DB: no run, attempt or trial left 'running'.
nothing_running() {
  local db=$1 left
  left=$(sql "$db" "SELECT 'run ' || id FROM runs WHERE status = 'running' UNION ALL
    SELECT 'attempt ' || id FROM attempts WHERE status = 'running' UNION ALL
    SELECT 'trial ' || label FROM trials WHERE status = 'running'")
  [[ -z $left ]] || fail "rows left running: $left"
}

no_pids() { [[ -z $(pids_under_tmp) ]]; }
# no_process_left: within 15 s, no process started from $tmp survives.
no_process_left() {
  wait_for 15 no_pids || fail "processes survived: $(for p in $(pids_under_tmp); do tr '\0' ' ' <"/proc/$p/cmdline"; echo; done)"
}

# tree_pids PID: PID and all its descendants.
tree_pids() {
  local child
  echo "$1"
  for child in $(pgrep -P "$1"); do tree_pids "$child"; done
}

# write_lock_free DB: nobody holds DB's write lock at this moment.
write_lock_free() {
  "$PY" - "$1" <<'PYTHON'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=0, isolation_level=None)
try:
    db.execute("BEGIN IMMEDIATE")
    db.execute("ROLLBACK")
except sqlite3.OperationalError:
    sys.exit(1)
PYTHON
}

# attempts_running DB N: at least N attempts recorded running.
attempts_running() {
  [[ -f $1 && $(sql "$1" "SELECT count(*) FROM attempts WHERE status = 'running'" 2>/dev/null) -ge $2 ]]
}
