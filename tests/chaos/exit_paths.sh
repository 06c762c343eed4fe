#!/usr/bin/env bash
# Every exit path ends the run row. A write of the coordinator fails mid-run (a trigger that
# someone added to the database makes SQLite refuse it, a real SQL error): the run stops its
# workers (their trials end as interrupted), records its open attempts as interrupted, its
# running trials as pending and itself as failed, and exits 1 saying so. Once the cause is
# gone, the same command finishes the sweep with every trial done exactly once.
#  (a) no launcher: the run's own heartbeat is refused while a trial runs;
#  (b) mpirun, 3 ranks: starting the third attempt is refused while another trial runs.
export ORCH_TEST_NAME=exit_paths
# shellcheck source-path=SCRIPTDIR source=lease_lib.sh
source "$(dirname "$0")/lease_lib.sh"

# after_fault NAME DB OUT RC N: the failed run's rows, message and processes; then a rerun.
after_fault() {
  local name=$1 db=$2 out=$3 rc=$4 n=$5
  shift 5
  [[ $rc == 1 ]] || { cat "$out" >&2; fail "$name: the run exited $rc, expected 1"; }
  grep -qF "the sweep stopped on an error: " "$out" || fail "$name: $(cat "$out")"
  grep -qF "injected fault" "$out" || fail "$name: the message does not say what failed: $(cat "$out")"
  grep -qF "Run 1 is recorded failed, its open attempts interrupted and its running trials pending again; run the same command again to resume" \
    "$out" || fail "$name: $(cat "$out")"
  [[ $(sql "$db" "SELECT group_concat(status) FROM runs") == failed ]] ||
    fail "$name: runs: $(sql "$db" "SELECT id, status FROM runs")"
  [[ $(sql "$db" "SELECT count(*) FROM attempts WHERE status = 'interrupted' AND outcome = 'preempted'") -ge 1 ]] ||
    fail "$name: no attempt closed as interrupted: $(sql "$db" "SELECT number, status, outcome, message FROM attempts")"
  nothing_running "$db"
  no_process_left
  echo "ok: $name: $(grep 'stopped on an error' "$out")"
  sql "$db" "DROP TRIGGER fault"
  rc=0
  timeout -k 5 120 "$@" >"$out.rerun" 2>&1 || rc=$?
  [[ $rc == 0 ]] || { cat "$out.rerun" >&2; fail "$name: the rerun exited $rc"; }
  [[ $(sql "$db" "SELECT group_concat(status) FROM (SELECT status FROM runs ORDER BY id)") == "failed,complete" ]] ||
    fail "$name: runs after the rerun: $(sql "$db" "SELECT id, status FROM runs")"
  all_done_once "$db" "$n"
  nothing_running "$db"
  no_process_left
}

echo "== (a) no launcher: the heartbeat write fails while a trial runs"
noop_sweep "$tmp/a.yaml" heartbeat 4 "0, 1"
db=$tmp/a.sqlite
cmd=("$LOCSWEEP" run "$tmp/a.yaml" --db "$db" --threads 1 --lease 3)  # a heartbeat per second
"${cmd[@]}" >"$tmp/a.out" 2>&1 &
run=$!
wait_for 60 attempts_running "$db" 1 || { cat "$tmp/a.out" >&2; fail "(a): no trial started"; }
sql "$db" "CREATE TRIGGER fault BEFORE UPDATE OF heartbeat_count ON runs
  BEGIN SELECT RAISE(ABORT, 'injected fault: heartbeats refused'); END"
rc=0
wait "$run" || rc=$?
after_fault "(a)" "$db" "$tmp/a.out" "$rc" 2 "${cmd[@]}"

echo "== (b) mpirun: starting an attempt fails while another trial runs"
cat >"$tmp/b.yaml" <<YAML
name: attempts
kind: noop
order: fifo
grid:
  noop.duration_s: [3, 8, 0.5]
YAML
db=$tmp/b.sqlite
cmd=("${MPIRUN[@]}" -n 3 "$LOCSWEEP" run "$tmp/b.yaml" --db "$db" --threads 1)
"${cmd[@]}" >"$tmp/b.out" 2>&1 &
run=$!
wait_for 60 attempts_running "$db" 2 || { cat "$tmp/b.out" >&2; fail "(b): the first two trials never ran"; }
sql "$db" "CREATE TRIGGER fault BEFORE INSERT ON attempts
  BEGIN SELECT RAISE(ABORT, 'injected fault: attempts refused'); END"
rc=0
wait "$run" || rc=$?
after_fault "(b)" "$db" "$tmp/b.out" "$rc" 3 "${cmd[@]}"
echo PASS
