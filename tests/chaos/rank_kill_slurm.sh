#!/usr/bin/env bash
# kill -9 of a busy worker rank under a real single-node Slurm (slurm/cluster.sh): Open MPI
# aborts the job step (srun exits 137), and the batch script (slurm/job.sbatch.in) must
# requeue the job — a rank failure with work left — where it used to end it as an error.
# The requeued incarnation closes the dead run as crashed (its attempts interrupted) and
# finishes the sweep. Checked: the job COMPLETED after exactly 1 restart, the script's
# message; every trial done by exactly one attempt, nothing left running, runs crashed then
# complete; no locsweep process survives. Then the other side of the rule, with a stand-in
# for `locsweep run` that exits 76 (complete, but a rank was lost and the step aborted): the
# job ends COMPLETED without a requeue. Exit 77 (skipped) without root, Slurm or munge.
set -euo pipefail
SLURM_TEST_NAME="rank-kill-slurm"
# shellcheck source-path=SCRIPTDIR source=../integration/slurm_lib.sh
source "$(dirname "$0")/../integration/slurm_lib.sh"

cat >"$tmp/kill.yaml" <<EOF
name: rank-kill
kind: noop
order: fifo
points:
  - {noop.duration_s: 4}
  - {noop.duration_s: 4.5}
  - {noop.duration_s: 1}
  - {noop.duration_s: 1.5}
EOF
start_cluster
job=$(submit_job "$tmp/kill.yaml" --time 10)
echo "== job $job: waiting for a busy rank (${SECONDS} s)"
busy() { [[ -n $(sql "SELECT pid FROM attempts WHERE status = 'running' LIMIT 1" 2>/dev/null) ]]; }
wait_for 90 busy || fail "no attempt started in 90 s (job $(job_state "$job"))"
read -r rank pid < <(sql "SELECT worker_rank || ' ' || pid FROM attempts WHERE status = 'running' LIMIT 1" | tr '|' ' ')
[[ $(tr '\0' ' ' <"/proc/$pid/cmdline") == "$LOCSWEEP run "* ]] || fail "pid $pid is not a locsweep rank"
echo "kill -9 rank $rank (pid $pid, ${SECONDS} s)"
kill -9 "$pid"

requeued_and_done() { [[ $(restarts "$job") -ge 1 ]] && job_finished "$job"; }
wait_for 120 requeued_and_done || fail "job $job is $(job_state "$job") (restarts $(restarts "$job")) after 120 s"
[[ $(job_state "$job") == COMPLETED ]] || fail "job $job ended $(job_state "$job")"
[[ $(restarts "$job") == 1 ]] || fail "job $job restarted $(restarts "$job") times, expected 1"
out=$db.slurm/rank-kill-$job.out
grep -qE "a rank died by signal 9 and the step was aborted \(exit 137\): work left: requeueing job $job" "$out" ||
  fail "the batch script did not requeue after the rank failure"
grep -qF "start (restart 1" "$out" || fail "no second incarnation in the job output"

echo "== nothing lost, nothing run twice, nothing left running (${SECONDS} s)"
expect_every_trial_done_once 4
[[ $(sql "SELECT (SELECT count(*) FROM trials WHERE status = 'running') +
                 (SELECT count(*) FROM attempts WHERE status = 'running' OR ended_at IS NULL) +
                 (SELECT count(*) FROM runs WHERE status = 'running')") == 0 ]] ||
  fail "rows left running: $(sql 'SELECT id, status FROM runs; SELECT id, status FROM attempts')"
runs=$(sql "SELECT slurm_job_id || ':' || status FROM runs ORDER BY id" | tr '\n' ' ')
[[ $runs == "$job:crashed $job:complete " ]] || fail "runs: '$runs' (want crashed, then complete)"
[[ $(sql "SELECT count(*) FROM attempts WHERE run_id = (SELECT min(id) FROM runs)
          AND pid = $pid AND status = 'interrupted'") == 1 ]] ||
  fail "the killed rank's attempt: $(sql 'SELECT run_id, pid, status, outcome FROM attempts')"
locsweep_left() {
  local p
  for p in $(pids_under_tmp); do
    [[ $({ tr '\0' ' ' <"/proc/$p/cmdline"; } 2>/dev/null) == "$LOCSWEEP "* ]] && echo "$p"
  done
  return 0
}
none_left() { [[ -z $(locsweep_left) ]]; }
wait_for 15 none_left || fail "processes survive: $(locsweep_left | xargs -r ps -o pid,stat,args -p)"

echo "== exit 76 (complete, a rank lost): no requeue (${SECONDS} s)"
# shellcheck disable=SC2016 # $SLURM_PROCID expands in the stand-in, not here
printf '#!/bin/sh\necho "stand-in: rank ${SLURM_PROCID:-?} exits 76"\nexit 76\n' >"$tmp/exit76"
chmod 755 "$tmp/exit76"
job2=$(submit_job "$tmp/kill.yaml" --time 10 --locsweep-binary "$tmp/exit76")
done2() { job_finished "$job2"; }
wait_for 60 done2 || fail "job $job2 is $(job_state "$job2") after 60 s"
[[ $(job_state "$job2") == COMPLETED && $(restarts "$job2") == 0 ]] ||
  fail "job $job2 ended $(job_state "$job2") after $(restarts "$job2") restarts (want COMPLETED, 0)"
grep -qF "sweep complete (exit 76), but a worker rank was lost" "$db.slurm/rank-kill-$job2.out" ||
  fail "the batch script's exit-76 message is missing"
echo "PASS (${SECONDS} s)"
