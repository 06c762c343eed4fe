#!/usr/bin/env bash
# `locsweep submit --setup-file F --setup LINE --cpus-per-task 2` on a real single-node Slurm
# (slurm/cluster.sh), with a 2-trial noop sweep on 3 ranks:
# - the set-up lines ran in the job, in order, before the job step, with `set -u` off (a line
#   reads an unset variable), and what they export reaches every rank;
# - --cpus-per-task is honoured: `scontrol show job` shows CPUs/Task=2, and the ranks ran their
#   trials with 2 threads (run --threads 2, in each attempt's manifest);
# - every rank ran through scripts/launch (the batch script's copy): each rank's environment has
#   what the launcher sets, which the submitting environment lacks;
# - the ranks were placed by the script's host file: rank 0 and the workers on the node;
# - on the cluster's 2 stand-in GPUs (LOCSWEEP_SLURM_GPUS=2), `--gpus-per-node 2 --gres gpu:2`
#   is accepted by the real sbatch and gives 3 ranks (rank 0 + one worker per GPU), each
#   seeing both GPUs (CUDA_VISIBLE_DEVICES=0,1), from which a worker takes GPU
#   (its index among the node's workers) mod 2; --gpus-per-node 3 is refused by sbatch.
# Exit 77 (skipped) without root, Slurm/munge or the Moby-Dick data.
set -euo pipefail
SLURM_TEST_NAME=slurm-options-e2e
source "$(dirname "$0")/slurm_lib.sh"

printf 'name: opts\nkind: noop\nnoop: {duration_s: 0.2}\nseeds: [0, 1]\n' >"$tmp/opts.yaml"
"$LOCSWEEP" plan "$tmp/opts.yaml" >/dev/null || fail "the test's sweep does not plan"

# A stand-in binary that records each rank's environment, then runs the real locsweep.
cat >"$tmp/locsweep-wrapper" <<EOF
#!/bin/bash
env >"$tmp/rank-env.\${PMIX_RANK:-unknown}"
exec $(printf '%q' "$LOCSWEEP") "\$@"
EOF
chmod 755 "$tmp/locsweep-wrapper"

cat >"$tmp/setup.sh" <<EOF
echo "file line 1" >>$(printf '%q' "$tmp/setup.log")
if [ -z "\$LOCSWEEP_TEST_UNSET" ]; then echo "file line 2 (set -u is off)"; fi >>$(printf '%q' "$tmp/setup.log")
EOF

LOCSWEEP_SLURM_GPUS=2 start_cluster

echo "== submit (${SECONDS} s)"
job=$(env -u OMPI_ALLOW_RUN_AS_ROOT_CONFIRM -u LOCSWEEP_TEST_UNSET "$LOCSWEEP" submit \
  "$tmp/opts.yaml" --db "$db" --ranks-per-node 3 --cpus-per-task 2 --time 10 \
  --locsweep-binary "$tmp/locsweep-wrapper" --setup-file "$tmp/setup.sh" \
  --setup "echo \"--setup line in job \$SLURM_JOB_ID\" >>'$tmp/setup.log'" \
  --setup "export LOCSWEEP_TEST_FROM_SETUP='set up'" 2>"$tmp/submit.log") ||
  fail "submit failed: $(cat "$tmp/submit.log")"
[[ $job =~ ^[0-9]+$ ]] || fail "submit printed '$job', not a job id"
scontrol show job -o "$job" | grep -q 'CPUs/Task=2 ' ||
  fail "scontrol show job lacks CPUs/Task=2: $(scontrol show job -o "$job")"

echo "== job $job runs the sweep (${SECONDS} s)"
wait_for 150 job_finished "$job" || fail "job $job still $(job_state "$job") after 150 s"
[[ $(job_state "$job") == COMPLETED ]] || fail "job $job ended $(job_state "$job")"
expect_every_trial_done_once 2

echo "== the set-up lines ran in order, in the job (${SECONDS} s)"
expected=$(printf 'file line 1\nfile line 2 (set -u is off)\n--setup line in job %s' "$job")
[[ $(cat "$tmp/setup.log") == "$expected" ]] || fail "set-up log: $(cat "$tmp/setup.log")"
out=$db.slurm/opts-$job.out
grep -q "set-up done" "$out" || fail "the job output lacks the set-up"
# Before the job step: the set-up's end comes before the step's start line.
[[ $(grep -n 'set-up done' "$out" | cut -d: -f1) -lt $(grep -n ': start (restart' "$out" | cut -d: -f1) ]] ||
  fail "the set-up did not run before the job step"
grep -qE "3 ranks; [^ ]+:3, rank 0 the coordinator" "$out" ||
  fail "the start line lacks the layout: $(grep ': start' "$out")"

echo "== every rank: the set-up's export, the launcher's environment (${SECONDS} s)"
for rank in 0 1 2; do
  f=$tmp/rank-env.$rank
  [[ -f $f ]] || fail "rank $rank did not run (no $f; $(ls "$tmp"))"
  grep -qx "LOCSWEEP_TEST_FROM_SETUP=set up" "$f" || fail "rank $rank lacks the set-up's export"
  grep -qx "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1" "$f" || fail "rank $rank did not run through scripts/launch"
  grep -qx "SLURM_CPUS_PER_TASK=2" "$f" || fail "rank $rank: $(grep SLURM_CPUS "$f")"
done
[[ ! -e $tmp/rank-env.3 ]] || fail "more ranks than --ranks-per-node 3"

echo "== the trials ran with --cpus-per-task threads (${SECONDS} s)"
threads=$(sql "SELECT group_concat(DISTINCT json_extract(manifest_json, '$.threads')) FROM attempts")
[[ $threads == 2 ]] || fail "attempts' threads: '$threads' (want 2)"

echo "== 2 GPUs: rank 0 and one worker per GPU, each seeing both (${SECONDS} s)"
rm -f "$tmp"/rank-env.*
printf 'name: gpus\nkind: noop\nseeds: [0, 1]\n' >"$tmp/gpus.yaml"
gdb=$tmp/gpus.sqlite
job=$("$LOCSWEEP" submit "$tmp/gpus.yaml" --db "$gdb" --gpus-per-node 2 --gres gpu:2 --time 10 \
  --locsweep-binary "$tmp/locsweep-wrapper" 2>"$tmp/submit.log") ||
  fail "submit with GPUs failed: $(cat "$tmp/submit.log")"
if ! grep -q '^#SBATCH --gres=gpu:2$' "$gdb".slurm/*.sbatch ||
  grep -q -- '--gpus-per-node' "$gdb".slurm/*.sbatch; then
  fail "the GPU script's #SBATCH lines: $(grep '^#SBATCH' "$gdb".slurm/*.sbatch)"
fi
wait_for 150 job_finished "$job" || fail "job $job still $(job_state "$job") after 150 s"
[[ $(job_state "$job") == COMPLETED ]] || fail "GPU job $job ended $(job_state "$job")"
for rank in 0 1 2; do
  grep -qx "CUDA_VISIBLE_DEVICES=0,1" "$tmp/rank-env.$rank" ||
    fail "rank $rank: $(grep CUDA_VISIBLE "$tmp/rank-env.$rank" 2>&1)"
done
[[ ! -e $tmp/rank-env.3 ]] || fail "more than rank 0 + 2 workers on a 2-GPU node"
[[ $(sqlite3 -batch -noheader "$gdb" "SELECT ranks FROM runs") == 3 ]] || fail "the GPU run's ranks"
rc=0
"$LOCSWEEP" submit "$tmp/gpus.yaml" --db "$tmp/three.sqlite" --gpus-per-node 3 --time 10 \
  >/dev/null 2>"$tmp/submit.log" || rc=$?
[[ $rc == 1 ]] && grep -q "Requested node configuration is not available" "$tmp/submit.log" ||
  fail "3 GPUs per node on a 2-GPU node: exit $rc, $(cat "$tmp/submit.log")"

echo "PASS (${SECONDS} s)"
