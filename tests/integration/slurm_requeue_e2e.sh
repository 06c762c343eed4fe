#!/usr/bin/env bash
# Requeue in the middle of a sweep, on a real single-node Slurm (slurm/cluster.sh): a tiny
# real GPT-2 sweep (4 trials of 200 steps, checkpoints every 20, 2 workers) is submitted with
# `locsweep submit`; once a trial has checkpointed, `scontrol requeue JOB` (what preemption
# with PreemptMode=REQUEUE does). SIGTERM reaches the trials, they checkpoint, the run records
# itself 'interrupted' and exits 75 within KillWait; Slurm runs the job again and the second
# run finishes the sweep from the checkpoints. Checked: the job COMPLETED after 1 restart;
# every trial done by exactly one attempt; each trial interrupted in the first run has an
# 'interrupted' (preempted) attempt followed by one resumed from the step it stopped at (past
# 0 for the trial that had checkpointed); runs: the first
# 'interrupted' (not crashed), the second 'complete', both with the job's id.
# Exit 77 (skipped) without root, Slurm/munge or the Moby-Dick data.
set -euo pipefail
SLURM_TEST_NAME=slurm-requeue-e2e
source "$(dirname "$0")/slurm_lib.sh"

write_gpt2_sweep "$tmp/mid.yaml" mid 200 20 "distributed, localist" "0, 1"
start_cluster

job=$(submit_job "$tmp/mid.yaml" --time 10)
echo "== job $job: waiting for a trial to checkpoint (${SECONDS} s)"
checkpointed() {
  [[ $(sql "SELECT count(*) FROM trials WHERE status = 'running' AND last_step > 0" 2>/dev/null) -ge 1 ]]
}
wait_for 90 checkpointed || fail "no trial checkpointed in 90 s (job $(job_state "$job"))"
[[ $(job_state "$job") == RUNNING ]] || fail "job $job is $(job_state "$job"), not RUNNING"
echo "running and checkpointed: $(sql "SELECT label || ' @' || last_step FROM trials WHERE status = 'running'" | tr '\n' ' ')"

echo "== scontrol requeue $job (${SECONDS} s)"
scontrol requeue "$job"
requeued_and_done() { [[ $(restarts "$job") -ge 1 ]] && job_finished "$job"; }
wait_for 150 requeued_and_done || fail "job $job is $(job_state "$job") (restarts $(restarts "$job")) after 150 s"
[[ $(job_state "$job") == COMPLETED ]] || fail "job $job ended $(job_state "$job")"
[[ $(restarts "$job") == 1 ]] || fail "job $job restarted $(restarts "$job") times, expected 1"
out=$db.slurm/mid-$job.out
grep -qF "got SIGTERM: passing it to the job steps" "$out" || fail "the batch script did not see the SIGTERM"
grep -qF "requeueing job $job" "$out" && fail "the script requeued on its own after SIGTERM"
grep -qF "start (restart 1" "$out" || fail "no second incarnation in the job output"

echo "== nothing lost, nothing run twice (${SECONDS} s)"
expect_every_trial_done_once 4
[[ $(sql "SELECT count(*) FROM trials WHERE steps_done = 200 AND val_ppl > 0") == 4 ]] ||
  fail "trials without full results: $(sql 'SELECT label, steps_done, val_ppl FROM trials')"
runs=$(sql "SELECT slurm_job_id || ':' || status FROM runs ORDER BY id" | tr '\n' ' ')
[[ $runs == "$job:interrupted $job:complete " ]] ||
  fail "runs: '$runs' (want the first interrupted, the second complete)"
first=$(sql "SELECT min(id) FROM runs")
interrupted=$(sql "SELECT count(*) FROM attempts WHERE run_id = $first AND status = 'interrupted'
                   AND outcome = 'preempted'")
[[ $interrupted -ge 1 ]] || fail "no attempt of the first run was recorded interrupted:
$(sql 'SELECT trial_hash, number, run_id, status, outcome, resumed_from FROM attempts')"
[[ $(sql "SELECT count(*) FROM attempts WHERE run_id = $first AND status NOT IN ('done', 'interrupted')") == 0 ]] ||
  fail "the first run left failed or open attempts: $(sql 'SELECT * FROM attempts')"
# Each interrupted trial's next attempt resumed from where it stopped (the checkpoint it wrote
# on SIGTERM; step 0 for a trial stopped before its first step, as a slow start can be) and
# finished it; the one the test waited for had checkpointed, so at least one resumed past 0.
resumed=$(sql "SELECT count(*) FROM attempts i JOIN attempts n
               ON n.trial_hash = i.trial_hash AND n.number = i.number + 1
               WHERE i.run_id = $first AND i.status = 'interrupted'
                 AND n.run_id > $first AND n.status = 'done' AND n.resumed_from = i.steps_done")
past_zero=$(sql "SELECT count(*) FROM attempts i JOIN attempts n
                 ON n.trial_hash = i.trial_hash AND n.number = i.number + 1
                 WHERE i.run_id = $first AND i.status = 'interrupted' AND n.resumed_from > 0")
[[ $resumed == "$interrupted" && $past_zero -ge 1 ]] ||
  fail "$resumed of $interrupted interrupted trials resumed from where they stopped, $past_zero past step 0:
$(sql 'SELECT trial_hash, number, run_id, status, outcome, resumed_from, steps_done FROM attempts')"
echo "$interrupted trial(s) interrupted and resumed"

"$LOCSWEEP" status --db "$db" >"$tmp/status.txt" || fail "status failed"
grep -q "^  Slurm job $job: COMPLETED.*1 restart$" "$tmp/status.txt" ||
  fail "status: $(cat "$tmp/status.txt")"
echo "PASS (${SECONDS} s)"
