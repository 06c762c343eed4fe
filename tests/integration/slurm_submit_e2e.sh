#!/usr/bin/env bash
# "Submit and forget" on a real single-node Slurm (slurm/cluster.sh): `locsweep submit` of a
# tiny real GPT-2 sweep (4 trials, 3 ranks: a coordinator and 2 workers under srun --mpi=pmix)
# registers the sweep and the job in the results DB, and the job completes the sweep. Then:
# every trial done by exactly one attempt, the slurm_jobs row and the run's slurm_job_id are
# the job's, `locsweep status` (text and JSON) shows the job and its state; a submission that
# the DB refuses (a name clash, a file that is not a DB) submits nothing; --dry-run writes
# nothing. Exit 77 (skipped) without root, Slurm/munge or the Moby-Dick data.
set -euo pipefail
SLURM_TEST_NAME=slurm-submit-e2e
source "$(dirname "$0")/slurm_lib.sh"

write_gpt2_sweep "$tmp/tiny.yaml" tiny 40 10 "distributed, localist" "0, 1"

echo "== --dry-run touches no DB (${SECONDS} s)"
"$LOCSWEEP" submit "$tmp/tiny.yaml" --db "$db" --ranks-per-node 3 --dry-run >/dev/null ||
  fail "dry run failed"
[[ ! -e $db && ! -e $db.slurm ]] || fail "--dry-run created the DB or its job folder"

start_cluster

echo "== submit (${SECONDS} s)"
job=$(submit_job "$tmp/tiny.yaml" --time 10)
[[ $job =~ ^[0-9]+$ ]] || fail "submit printed '$job', not a job id"
# Recorded before the job has done anything: the sweep, its 4 trials, the job.
[[ $(sql "SELECT count(*) FROM sweep_trials st JOIN sweeps s ON s.id = st.sweep_id
          WHERE s.name = 'tiny'") == 4 ]] || fail "the sweep's trials are not in the DB"
row=$(sql "SELECT j.job_id, s.name FROM slurm_jobs j JOIN sweeps s ON s.id = j.sweep_id")
[[ $row == "$job|tiny" ]] || fail "slurm_jobs row: '$row'"
script=$(sql "SELECT script_path FROM slurm_jobs")
[[ -f $script ]] && grep -q 'srun --mpi=pmix' "$script" || fail "script_path '$script'"
[[ $(sql "SELECT json_extract(options_json, '$.ranks_per_node') || ' ' ||
          json_extract(options_json, '$.db') FROM slurm_jobs") == "3 $db" ]] ||
  fail "options_json: $(sql 'SELECT options_json FROM slurm_jobs')"
"$LOCSWEEP" status --db "$db" >"$tmp/status.txt" || fail "status failed"
grep -q "^tiny: 0/4 done" "$tmp/status.txt" || fail "status before the run: $(cat "$tmp/status.txt")"
grep -q "^  Slurm job $job: " "$tmp/status.txt" || fail "status lacks the job: $(cat "$tmp/status.txt")"

echo "== job $job runs the sweep (${SECONDS} s)"
wait_for 150 job_finished "$job" || fail "job $job still $(job_state "$job") after 150 s"
[[ $(job_state "$job") == COMPLETED ]] || fail "job $job ended $(job_state "$job")"
[[ $(restarts "$job") == 0 ]] || fail "job $job was requeued $(restarts "$job") times"
grep -qF "sweep complete (exit 0)" "$db.slurm/tiny-$job.out" || fail "job output lacks the end"

expect_every_trial_done_once 4
[[ $(sql "SELECT count(*) FROM trials WHERE val_ppl > 0 AND steps_done = 40") == 4 ]] ||
  fail "trials without results: $(sql 'SELECT label, val_ppl, steps_done FROM trials')"
runs=$(sql "SELECT slurm_job_id, ranks, status FROM runs")
[[ $runs == "$job|3|complete" ]] || fail "runs: '$runs' (want one run of job $job, 3 ranks)"
[[ $(sql "SELECT count(*) FROM attempts
          WHERE json_extract(manifest_json, '$.slurm_job_id') = '$job'") == 4 ]] ||
  fail "attempt manifests lack the job id"

echo "== status shows the job and its state (${SECONDS} s)"
"$LOCSWEEP" status --db "$db" >"$tmp/status.txt" || fail "status failed"
grep -q "^tiny: 4/4 done.*last run complete" "$tmp/status.txt" ||
  fail "status after the run: $(cat "$tmp/status.txt")"
grep -q "^  Slurm job $job: COMPLETED.*0 restarts" "$tmp/status.txt" ||
  fail "status of the job: $(cat "$tmp/status.txt")"
"$LOCSWEEP" status --db "$db" --json >"$tmp/status.json" || fail "status --json failed"
"$PY" - "$tmp/status.json" "$job" <<'PY' || fail "status --json: $(cat "$tmp/status.json")"
import json, sys
s = json.load(open(sys.argv[1]))
job = s[0]["slurm_jobs"][0]
assert len(s) == 1 and s[0]["done"] == 4, s
assert job["job_id"] == sys.argv[2] and job["state"] == "COMPLETED", job
assert job["source"] == "squeue" and job["active"] is False and job["restarts"] == 0, job
PY

echo "== a submission the DB refuses submits nothing (${SECONDS} s)"
jobs_before=$(squeue -h -t all -o %i | wc -l)
write_gpt2_sweep "$tmp/clash.yaml" tiny 40 10 "quintic" "7"  # same name, other trials
rc=0
"$LOCSWEEP" submit "$tmp/clash.yaml" --db "$db" --ranks-per-node 3 2>"$tmp/err.log" >/dev/null || rc=$?
[[ $rc == 2 ]] || fail "a name clash exited $rc, expected 2"
grep -q "already in" "$tmp/err.log" || fail "clash message: $(cat "$tmp/err.log")"
echo "not a database" >"$tmp/bad.sqlite"
rc=0
"$LOCSWEEP" submit "$tmp/tiny.yaml" --db "$tmp/bad.sqlite" 2>"$tmp/err.log" >/dev/null || rc=$?
[[ $rc == 2 ]] || fail "a bad DB exited $rc, expected 2: $(cat "$tmp/err.log")"
[[ $(squeue -h -t all -o %i | wc -l) == "$jobs_before" ]] || fail "a refused submission reached Slurm"
[[ $(sql "SELECT count(*) FROM slurm_jobs") == 1 ]] || fail "a refused submission was recorded"
[[ ! -e $tmp/bad.sqlite.slurm ]] || fail "a refused submission wrote a batch script"

echo "PASS (${SECONDS} s)"
