#!/usr/bin/env bash
# A stop signal (SIGUSR1 to mpirun, as Slurm's time-limit warning) while a busy worker rank is
# SIGSTOPped: the healthy rank checkpoints its trial and says bye, the stopped one cannot, and
# the run must not wait the stop grace (180 s) and then hang in MPI_Finalize. It is lost after
# --worker-silence, the run row ends `interrupted`, and the job ends with MPI_Abort, exit 75
# (work left: Slurm requeues). Checked: exit code and time, both trials pending again (none
# running, none failed, no retry used), the healthy attempt interrupted and the stopped one
# lost; no process survives.
export ORCH_TEST_NAME=rank_stop_interrupt
# shellcheck source-path=SCRIPTDIR source=rank_lib.sh
source "$(dirname "$0")/rank_lib.sh"

silence=8
cat >"$tmp/int.yaml" <<EOF
name: stop-interrupt
kind: noop
noop: {duration_s: 60}
seeds: [0, 1]
EOF
db=$tmp/int.sqlite
timeout -k 5 120 "${MPIRUN[@]}" -n 3 "$LOCSWEEP" run "$tmp/int.yaml" --db "$db" --threads 1 \
  --worker-silence $silence >"$tmp/run.out" 2>&1 &
job=$!
both_running() { [[ $(sql "$db" "SELECT count(*) FROM attempts WHERE status = 'running'" 2>/dev/null) == 2 ]]; }
wait_for 60 both_running || { cat "$tmp/run.out" >&2; fail "the two trials never ran at once"; }
read -r victim pid < <(sql "$db" "SELECT worker_rank || ' ' || pid FROM attempts WHERE worker_rank = 1" | tr '|' ' ')
stop_rank "$pid"
mpirun_pid=$(pgrep -P "$job" -x "$MPIRUN_PROCESS") || fail "no mpirun under $job"
kill -USR1 "$mpirun_pid"
signalled_at=$SECONDS
echo "stopped busy rank $victim (pid $pid), SIGUSR1 to mpirun"

rc=0
wait "$job" || rc=$?
took=$((SECONDS - signalled_at))
echo "mpirun exited $rc, $took s after the signal"
[[ $rc == 75 ]] || { cat "$tmp/run.out" >&2; fail "mpirun exited $rc, expected 75 (work left, a rank lost)"; }
[[ $took -le $((silence + 30)) ]] || fail "the run took $took s to end after the signal"
grep -q "worker rank $victim was silent" "$tmp/run.out" || fail "no lost-rank message: $(tail -5 "$tmp/run.out")"
grep -q "exit 75: work is left" "$tmp/run.out" || fail "no abort message: $(tail -5 "$tmp/run.out")"

[[ $(sql "$db" "SELECT group_concat(status || ' ' || retries_used, ',') FROM trials") == "pending 0,pending 0" ]] ||
  fail "trials: $(sql "$db" 'SELECT label, status, retries_used FROM trials')"
got=$(sql "$db" "SELECT group_concat(worker_rank || ':' || status || '/' || outcome, ',') FROM (SELECT * FROM attempts ORDER BY worker_rank)")
[[ $got == "1:failed/lost,2:interrupted/preempted" ]] || fail "attempts: '$got'"
[[ $(sql "$db" "SELECT status FROM runs") == interrupted ]] || fail "run row: $(sql "$db" 'SELECT status FROM runs')"
[[ $(sql "$db" "SELECT count(*) FROM attempts WHERE ended_at IS NULL") == 0 ]] || fail "attempts left open"
wait_for 15 no_process_left || fail "processes survive: $(pids_under_tmp | xargs -r ps -o pid,stat,args -p)"
echo "PASS"
