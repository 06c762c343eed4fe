#!/usr/bin/env bash
# A busy worker rank SIGSTOPped in the middle of a trial: it falls silent (its heartbeats stop
# although its trial child goes on), is declared lost after --worker-silence seconds, its
# trial goes back to pending without using a retry (`execution.max_retries: 0`: a retry would
# fail it) and runs again on the other rank, which finishes the sweep; the coordinator never
# sends the stopped rank shutdown or waits for it, and ends the job with MPI_Abort, exit 76.
# Checked: exit code and messages; every trial done once, the victim's first attempt `lost`
# on the stopped rank and its second done on another, retries_used 0, nothing left running;
# no process survives (the stopped rank and its trial child included).
export ORCH_TEST_NAME=rank_stop_busy
# shellcheck source-path=SCRIPTDIR source=rank_lib.sh
source "$(dirname "$0")/rank_lib.sh"

silence=8
cat >"$tmp/busy.yaml" <<EOF
name: busy-stop
kind: noop
execution: {max_retries: 0}
order: fifo
points:
  - {noop.duration_s: 6}
  - {noop.duration_s: 1}
  - {noop.duration_s: 1.5}
EOF
db=$tmp/busy.sqlite
long="json_extract(t.config_json, '\$.noop.duration_s') = 6"

echo "== mpirun -n 3 (2 workers): the rank running the 6 s trial is stopped"
timeout -k 5 120 "${MPIRUN[@]}" -n 3 "$LOCSWEEP" run "$tmp/busy.yaml" --db "$db" --threads 1 \
  --worker-silence $silence >"$tmp/run.out" 2>&1 &
job=$!
long_running() {
  [[ $(sql "$db" "SELECT count(*) FROM attempts a JOIN trials t ON t.hash = a.trial_hash
                  WHERE a.status = 'running' AND $long" 2>/dev/null) == 1 ]]
}
wait_for 60 long_running || { cat "$tmp/run.out" >&2; fail "the long trial never ran"; }
read -r victim pid < <(sql "$db" "SELECT a.worker_rank || ' ' || a.pid FROM attempts a
                                  JOIN trials t ON t.hash = a.trial_hash WHERE a.status = 'running' AND $long" | tr '|' ' ')
[[ $(rank_pid "$victim") == "$pid" ]] || fail "attempts.pid $pid is not rank $victim's process"
stop_rank "$pid"
stopped_at=$SECONDS
echo "stopped busy rank $victim (pid $pid)"

rc=0
wait "$job" || rc=$?
took=$((SECONDS - stopped_at))
echo "mpirun exited $rc, $took s after the stop"
[[ $rc == 76 ]] || { cat "$tmp/run.out" >&2; fail "mpirun exited $rc, expected 76 (complete, a rank lost)"; }
# silence + the rerun's 6 s + the short trials; the rest is a bound for a loaded machine.
[[ $took -ge $((silence - 1)) ]] || fail "the sweep ended $took s after the stop, before the rank could be lost"
[[ $took -le $((silence + 8 + 30)) ]] || fail "the sweep took $took s to end after the stop"
grep -q "worker rank $victim was silent for [0-9.]* s (--worker-silence $silence): lost.*its trial goes back to pending" "$tmp/run.out" ||
  fail "no lost-rank message: $(tail -5 "$tmp/run.out")"
grep -q "run 1 complete: 3 done, 0 failed, 0 left" "$tmp/run.out" || fail "summary: $(tail -5 "$tmp/run.out")"

expect_done_once "$db" 3
got=$(sql "$db" "SELECT group_concat(a.worker_rank || ':' || a.status || '/' || a.outcome, ',')
                 FROM trials t JOIN (SELECT * FROM attempts ORDER BY number) a ON a.trial_hash = t.hash WHERE $long")
other=$((3 - victim))
[[ $got == "$victim:failed/lost,$other:done/done" ]] || fail "the stopped rank's trial: '$got'"
[[ $(sql "$db" "SELECT retries_used FROM trials t WHERE $long") == 0 ]] || fail "the lost rank used a retry"
[[ $(sql "$db" "SELECT count(*) FROM attempts WHERE worker_rank = $victim AND outcome != 'lost'") == 0 ]] ||
  fail "the lost rank was given more work: $(sql "$db" 'SELECT worker_rank, outcome FROM attempts')"
[[ $(sql "$db" "SELECT status FROM runs") == complete ]] || fail "run row: $(sql "$db" 'SELECT status FROM runs')"
wait_for 15 no_process_left || fail "processes survive: $(pids_under_tmp | xargs -r ps -o pid,stat,args -p)"
echo "PASS"
