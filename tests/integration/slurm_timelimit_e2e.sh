#!/usr/bin/env bash
# A sweep longer than its job's time limit, on a real single-node Slurm (slurm/cluster.sh):
# 8 noop trials of 20 s on 2 workers (about 80 s of work) submitted with --time 2 and
# --signal-warn 60. Slurm sends USR1 to the job steps before the limit (here 47-54 s into the
# 120 s); `locsweep run` stops the running trials, records its run 'interrupted' and exits 75;
# the batch script requeues the job itself (scontrol requeue), and the next incarnation goes
# on. Checked: the job COMPLETED after >= 1 restart, one run per incarnation (all but the last
# 'interrupted', the last 'complete'), every trial done by exactly one attempt.
# Exit 77 (skipped) without root, Slurm/munge or the Moby-Dick data.
set -euo pipefail
SLURM_TEST_NAME=slurm-timelimit-e2e
source "$(dirname "$0")/slurm_lib.sh"

cat >"$tmp/long.yaml" <<YAML
name: long
kind: noop
noop: {duration_s: 20}
seeds: {start: 0, count: 8}
YAML
start_cluster

job=$(submit_job "$tmp/long.yaml" --time 2 --signal-warn 60)
echo "== job $job: 80 s of trials in a 2-minute job (${SECONDS} s)"
requeued_and_done() { [[ $(restarts "$job") -ge 1 ]] && job_finished "$job"; }
wait_for 170 requeued_and_done ||
  fail "job $job is $(job_state "$job") (restarts $(restarts "$job")) after 170 s"
[[ $(job_state "$job") == COMPLETED ]] || fail "job $job ended $(job_state "$job")"
n=$(restarts "$job")
out=$db.slurm/long-$job.out
grep -qF "work left (exit 75): requeueing job $job (restart 1 of at most 20)" "$out" ||
  fail "the script did not requeue the job itself"
grep -qF "sweep complete (exit 0)" "$out" || fail "the last incarnation did not complete"

echo "== $((n + 1)) incarnations; every trial once (${SECONDS} s)"
expect_every_trial_done_once 8
runs=$(sql "SELECT group_concat(status, ' ') FROM (SELECT status FROM runs WHERE slurm_job_id = '$job' ORDER BY id)")
want=$(printf 'interrupted %.0s' $(seq "$n"))complete
[[ $runs == "$want" && $(sql "SELECT count(*) FROM runs") == $((n + 1)) ]] ||
  fail "runs: '$runs' (want '$want')"
[[ $(sql "SELECT count(*) FROM attempts WHERE status NOT IN ('done', 'interrupted')
          OR (status = 'interrupted' AND outcome != 'preempted')") == 0 ]] ||
  fail "attempts: $(sql 'SELECT trial_hash, number, run_id, status, outcome FROM attempts')"
echo "$(sql "SELECT count(*) FROM attempts WHERE status = 'interrupted'") attempt(s) stopped by the time-limit warning"
"$LOCSWEEP" status --db "$db" >"$tmp/status.txt" || fail "status failed"
grep -q "^long: 8/8 done.*last run complete" "$tmp/status.txt" &&
  grep -q "^  Slurm job $job: COMPLETED.*$n restarts\?$" "$tmp/status.txt" ||
  fail "status: $(cat "$tmp/status.txt")"
echo "PASS (${SECONDS} s)"
