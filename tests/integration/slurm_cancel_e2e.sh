#!/usr/bin/env bash
# `locsweep cancel` on a real single-node Slurm (slurm/cluster.sh). A tiny real GPT-2 sweep
# (4 trials of 400 steps, checkpoints every 20, 2 workers: long enough that the cancel lands
# mid-training on a fast idle machine too) is submitted; once a trial has
# checkpointed, `locsweep cancel` sends SIGTERM to the batch script (scancel --batch), which
# passes it to the job steps: the running trials checkpoint, the run records itself
# 'interrupted' and exits 75, the script does not requeue, the job leaves the queue (FAILED,
# exit 75, no restart). A later `locsweep run` of the same spec and DB without Slurm resumes
# the interrupted trials from their checkpoints and completes the sweep, each trial done once.
# `cancel --now` (plain scancel) ends a job CANCELLED. Errors: no such sweep (exit 2), no
# active job, scancel missing (exit 1, the job untouched).
# Exit 77 (skipped) without root, Slurm/munge or the Moby-Dick data.
set -euo pipefail
SLURM_TEST_NAME=slurm-cancel-e2e
source "$(dirname "$0")/slurm_lib.sh"

write_gpt2_sweep "$tmp/halt.yaml" halt 400 20 "distributed, localist" "0, 1"
start_cluster

job=$(submit_job "$tmp/halt.yaml" --time 10)

echo "== errors: no such sweep; scancel missing (${SECONDS} s)"
rc=0
"$LOCSWEEP" cancel --db "$db" --sweep nope 2>"$tmp/err.log" || rc=$?
[[ $rc == 2 ]] && grep -q "no sweep named 'nope'" "$tmp/err.log" ||
  fail "cancel of an unknown sweep: exit $rc, $(cat "$tmp/err.log")"
checkpointed() {
  [[ $(sql "SELECT count(*) FROM trials WHERE status = 'running' AND last_step > 0" 2>/dev/null) -ge 1 ]]
}
wait_for 90 checkpointed || fail "no trial checkpointed in 90 s (job $(job_state "$job"))"
mkdir -p "$tmp/no-scancel"
for prog in squeue scontrol sacct; do ln -s "$(command -v "$prog")" "$tmp/no-scancel/$prog"; done
rc=0
PATH=$tmp/no-scancel "$LOCSWEEP" cancel --db "$db" 2>"$tmp/err.log" || rc=$?
[[ $rc == 1 ]] && grep -q "scancel not found" "$tmp/err.log" ||
  fail "cancel without scancel: exit $rc, $(cat "$tmp/err.log")"
[[ $(job_state "$job") == RUNNING ]] || fail "job $job is $(job_state "$job") after a failed cancel"

echo "== locsweep cancel: job $job (${SECONDS} s)"
echo "running: $(sql "SELECT label || ' @' || last_step FROM trials WHERE status = 'running'" | tr '\n' ' ')"
"$LOCSWEEP" cancel --db "$db" --wait 120 >"$tmp/cancel.out" 2>"$tmp/cancel.log" ||
  fail "cancel failed: $(cat "$tmp/cancel.log")"
cat "$tmp/cancel.log"
[[ $(cat "$tmp/cancel.out") == "$job" ]] || fail "cancel printed '$(cat "$tmp/cancel.out")'"
grep -qF "scancel --batch --signal=TERM $job" "$tmp/cancel.log" || fail "not the graceful scancel"
grep -qF "job $job has left the queue" "$tmp/cancel.log" || fail "cancel did not see the job leave"
[[ $(job_state "$job") == FAILED && $(job_exit_code "$job") == 75:0 ]] ||
  fail "job $job is $(job_state "$job"), exit $(job_exit_code "$job"); want FAILED with 75 (work left)"
out=$db.slurm/halt-$job.out
grep -qF "not requeueing from this script" "$out" || fail "the script did not see the SIGTERM"
grep -qF "requeueing job $job" "$out" && fail "the script requeued a cancelled job"
sleep 3  # a requeue would show by now (Restarts, PENDING)
[[ $(restarts "$job") == 0 && $(job_state "$job") == FAILED ]] ||
  fail "the cancelled job came back: $(job_state "$job"), restarts $(restarts "$job")"
[[ $(sql "SELECT slurm_job_id || ':' || status FROM runs") == "$job:interrupted" ]] ||
  fail "runs: $(sql 'SELECT * FROM runs')"
stopped=$(sql "SELECT count(*) FROM attempts WHERE status = 'interrupted' AND outcome = 'preempted'")
[[ $stopped -ge 1 ]] || fail "no attempt was recorded interrupted: $(sql 'SELECT * FROM attempts')"
[[ $(sql "SELECT count(*) FROM attempts WHERE status NOT IN ('done', 'interrupted')") == 0 ]] ||
  fail "failed or open attempts: $(sql 'SELECT * FROM attempts')"
[[ $(sql "SELECT count(*) FROM trials WHERE status = 'done'") -lt 4 ]] ||
  fail "the sweep finished before the cancel took effect"
"$LOCSWEEP" status --db "$db" >"$tmp/status.txt"
grep -q "last run interrupted" "$tmp/status.txt" && grep -q "^  Slurm job $job: FAILED.*exit 75:0" "$tmp/status.txt" ||
  fail "status: $(cat "$tmp/status.txt")"

rc=0
"$LOCSWEEP" cancel --db "$db" 2>"$tmp/err.log" || rc=$?
[[ $rc == 1 ]] && grep -q "no active Slurm job" "$tmp/err.log" ||
  fail "a second cancel: exit $rc, $(cat "$tmp/err.log")"

echo "== locsweep run (no Slurm) resumes the sweep (${SECONDS} s)"
"$LOCSWEEP" run "$tmp/halt.yaml" --db "$db" >"$tmp/resume.log" 2>&1 || fail "the resuming run failed"
expect_every_trial_done_once 4
[[ $(sql "SELECT count(*) FROM trials WHERE steps_done = 400 AND val_ppl > 0") == 4 ]] ||
  fail "trials without full results: $(sql 'SELECT label, steps_done, val_ppl FROM trials')"
resumed=$(sql "SELECT count(*) FROM attempts i JOIN attempts n
               ON n.trial_hash = i.trial_hash AND n.number = i.number + 1
               WHERE i.status = 'interrupted' AND n.status = 'done' AND n.resumed_from > 0")
[[ $resumed == "$stopped" ]] || fail "$resumed of $stopped interrupted trials resumed from a checkpoint:
$(sql 'SELECT trial_hash, number, run_id, status, outcome, resumed_from FROM attempts')"
[[ $(sql "SELECT ifnull(slurm_job_id, '-') || ':' || status FROM runs ORDER BY id DESC LIMIT 1") == "-:complete" ]] ||
  fail "the resuming run: $(sql 'SELECT * FROM runs')"
echo "$stopped trial(s) interrupted by the cancel, resumed by the run"

echo "== cancel --now: plain scancel (${SECONDS} s)"
db=$tmp/now.sqlite
cat >"$tmp/slow.yaml" <<YAML
name: slow
kind: noop
noop: {duration_s: 60}
seeds: [0, 1]
YAML
job=$(submit_job "$tmp/slow.yaml" --time 10)
both_running() { [[ $(sql "SELECT count(*) FROM trials WHERE status = 'running'" 2>/dev/null) == 2 ]]; }
wait_for 60 both_running || fail "the noop trials did not start (job $(job_state "$job"))"
"$LOCSWEEP" cancel --db "$db" --now --wait 60 >/dev/null 2>"$tmp/cancel.log" ||
  fail "cancel --now failed: $(cat "$tmp/cancel.log")"
grep -qF "scancel $job" "$tmp/cancel.log" || fail "not a plain scancel: $(cat "$tmp/cancel.log")"
[[ $(job_state "$job") == CANCELLED && $(restarts "$job") == 0 ]] ||
  fail "job $job is $(job_state "$job"), restarts $(restarts "$job"), after cancel --now"
echo "PASS (${SECONDS} s)"
