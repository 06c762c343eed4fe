#!/usr/bin/env bash
# An idle worker rank SIGSTOPped while the others finish every trial: it never says bye, and
# it must not keep the finished sweep from ending. The coordinator hears nothing from it (an
# idle rank heartbeats too) for --worker-silence seconds, declares it lost and, the results
# recorded and the DB closed, ends the job with MPI_Abort, exit 76 (complete, a rank lost)
# instead of waiting for it in MPI_Finalize. Checked: mpirun itself ends within the trials'
# time + silence + a bound, exit 76 and the message; every trial done once, nothing left
# running, the run row complete; no process survives.
export ORCH_TEST_NAME=rank_stop_idle
# shellcheck source-path=SCRIPTDIR source=rank_lib.sh
source "$(dirname "$0")/rank_lib.sh"

silence=8
cat >"$tmp/idle.yaml" <<EOF
name: idle-stop
kind: noop
noop: {duration_s: 3}
seeds: [0, 1]
EOF
db=$tmp/idle.sqlite

echo "== mpirun -n 4 (3 workers, 2 trials of 3 s): the rank left without work is stopped"
timeout -k 5 120 "${MPIRUN[@]}" -n 4 "$LOCSWEEP" run "$tmp/idle.yaml" --db "$db" --threads 1 \
  --worker-silence $silence >"$tmp/run.out" 2>&1 &
job=$!
both_running() { [[ $(sql "$db" "SELECT count(*) FROM attempts WHERE status = 'running'" 2>/dev/null) == 2 ]]; }
wait_for 60 both_running || { cat "$tmp/run.out" >&2; fail "the two trials never ran at once"; }
idle=
for r in 1 2 3; do
  [[ $(sql "$db" "SELECT count(*) FROM attempts WHERE worker_rank = $r") == 0 ]] && idle=$r
done
[[ -n $idle ]] || fail "no idle rank: $(sql "$db" 'SELECT worker_rank FROM attempts')"
pid=$(rank_pid "$idle") || fail "no process for rank $idle"
stop_rank "$pid"
stopped_at=$SECONDS
echo "stopped idle rank $idle (pid $pid)"

rc=0
wait "$job" || rc=$?
took=$((SECONDS - stopped_at))
echo "mpirun exited $rc, $took s after the stop"
[[ $rc == 76 ]] || { cat "$tmp/run.out" >&2; fail "mpirun exited $rc, expected 76 (complete, a rank lost)"; }
# 3 s of trials + the silence; the rest is a generous bound for a loaded machine.
[[ $took -ge $((silence - 1)) ]] || fail "the sweep ended $took s after the stop, before the rank could be lost"
[[ $took -le $((3 + silence + 30)) ]] || fail "the sweep took $took s to end after the stop"
grep -q "worker rank $idle was silent for [0-9.]* s (--worker-silence $silence): lost" "$tmp/run.out" ||
  fail "no lost-rank message: $(tail -5 "$tmp/run.out")"
grep -q "1 worker rank was lost; everything is recorded.*exit 76: the sweep is complete" "$tmp/run.out" ||
  fail "no abort message: $(tail -5 "$tmp/run.out")"
grep -q "run 1 complete: 2 done, 0 failed, 0 left" "$tmp/run.out" || fail "summary: $(tail -5 "$tmp/run.out")"

expect_done_once "$db" 2
[[ $(sql "$db" "SELECT count(*) FROM attempts") == 2 ]] || fail "attempts: $(sql "$db" 'SELECT * FROM attempts')"
[[ $(sql "$db" "SELECT status FROM runs") == complete ]] || fail "run row: $(sql "$db" 'SELECT status FROM runs')"
wait_for 15 no_process_left || fail "processes survive: $(pids_under_tmp | xargs -r ps -o pid,stat,args -p)"
echo "PASS"
