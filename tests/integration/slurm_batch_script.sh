#!/usr/bin/env bash
# `locsweep submit` against a real single-node Slurm (slurm/cluster.sh), with a stand-in for
# `locsweep run` (--locsweep-binary) that follows its exit-code contract:
#   USR1 (what --signal sends before the time limit) -> exit 75 -> the job requeues itself,
#   comes back with SLURM_RESTART_COUNT=1 and completes;
#   scontrol requeue -> SIGTERM, passed on by the batch shell -> exit 75 -> the script does not
#   requeue on its own; Slurm's requeue runs it again;
#   exit 3 -> FAILED, no requeue;   exit 75 with --max-requeues 0 -> FAILED (75), no requeue.
# The DB path holds spaces, quotes and $(...): sbatch must read the #SBATCH --output line and
# the stand-in must get every argument verbatim. Exit 77 (skipped) without root or Slurm.
set -euo pipefail

src=${LOCSWEEP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
: "${LOCSWEEP:?set LOCSWEEP to the locsweep binary}"
cluster=$src/slurm/cluster.sh
[[ $(id -u) == 0 ]] || { echo "SKIP: needs root"; exit 77; }
for prog in munged slurmctld slurmd srun sbatch scontrol; do
  command -v "$prog" >/dev/null || { echo "SKIP: $prog not installed"; exit 77; }
done

tmp=$(mktemp -d /tmp/locsweep-slurm-batch-test.XXXXXX)
chmod 755 "$tmp"  # munged wants every folder above its socket searchable by all
export LOCSWEEP_SLURM_DIR=$tmp/slurm
cleanup() {
  LOCSWEEP_SLURM_DIR=$tmp/slurm "$cluster" stop >/dev/null 2>&1 || true
  rm -rf -- "$tmp"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  for f in "$tmp"/*/*.slurm/*.out; do [[ -f $f ]] && { echo "--- $f" >&2; cat "$f" >&2; }; done
  exit 1
}
job_state() {
  local state
  state=$(squeue -h -j "$1" -o %T 2>/dev/null || true)
  [[ -n $state ]] || state=$(scontrol show job "$1" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p')
  echo "${state:-GONE}"
}
# shellcheck source-path=SCRIPTDIR source=test_lib.sh
source "$(dirname "$0")/test_lib.sh"  # wait_for
finished() { [[ $(job_state "$1") =~ ^(COMPLETED|FAILED|CANCELLED|TIMEOUT|GONE)$ ]]; }
# Both ranks of a first run are up (each starts through scripts/launch, so either may be last).
both_ranks_running() { [[ -e $tmp/running.0.0 && -e $tmp/running.0.1 ]]; }

# The stand-in for `locsweep run SWEEP --db DB [--artifacts DIR]`. Its behaviour comes from
# the file MODE beside this script: "wait" (first run waits for USR1/TERM and exits 75; a
# requeued run exits 0), "fail" (exit 3), "always-wait" (every run waits).
cat >"$tmp/fake-locsweep" <<'EOF'
#!/bin/bash
here=$(dirname "$0")
rank=${SLURM_PROCID:-0} restart=${SLURM_RESTART_COUNT:-0}
printf '%s\0' "$@" >"$here/argv.$rank"
echo "fake run: rank $rank restart $restart"
trap 'echo "fake run: rank $rank got USR1"; exit 75' USR1
trap 'echo "fake run: rank $rank got TERM"; exit 75' TERM
case $(cat "$here/MODE") in
  fail) exit 3 ;;
  wait) [ "$restart" -ge 1 ] && exit 0 ;;
esac
touch "$here/running.$restart.$rank"
while :; do sleep 1 & wait $!; done
EOF
chmod 755 "$tmp/fake-locsweep"

env_lines=$("$cluster" start) || fail "cluster.sh start failed"
eval "$env_lines"

sweep=$src/sweeps/demo.yaml
n=0
# submit_case NAME MODE [locsweep submit options...]: prints the job id; sets $db, $case_dir.
submit_case() {
  local name=$1 mode=$2
  shift 2
  n=$((n + 1))
  case_dir="$tmp/$n $name \"q\" it's \$(touch $tmp/pwned) \`x\`"
  mkdir -p "$case_dir"
  db=$case_dir/results.sqlite
  echo "$mode" >"$tmp/MODE"
  rm -f "$tmp"/argv.* "$tmp"/running.*
  job=$("$LOCSWEEP" submit "$sweep" --db "$db" --locsweep-binary "$tmp/fake-locsweep" "$@" \
    2>"$tmp/submit.err") || fail "submit ($name): $(cat "$tmp/submit.err")"
  [[ $job =~ ^[0-9]+$ ]] || fail "submit printed '$job', not a job id"
}
output_of() { cat "$db.slurm/demo-$1.out"; }
expect_log() { output_of "$job" | grep -qF -- "$1" || fail "job $job output lacks '$1'"; }
restarts() { scontrol show job "$1" | sed -n 's/.*Restarts=\([0-9]*\).*/\1/p'; }

echo "== USR1 before the time limit: exit 75, the job requeues itself, then completes"
submit_case usr1 wait
wait_for 30 both_ranks_running || fail "job $job did not start ($(job_state "$job"))"
# The argv each rank got is exactly what was submitted (the DB path is hostile).
printf '%s\0' run "$sweep" --db "$db" >"$tmp/expected-argv"
cmp -s "$tmp/expected-argv" "$tmp/argv.0" || fail "rank 0 argv: $(tr '\0' '|' <"$tmp/argv.0")"
cmp -s "$tmp/expected-argv" "$tmp/argv.1" || fail "rank 1 argv differs"
scancel --signal=USR1 "$job"  # what #SBATCH --signal=USR1@N does: the job steps get USR1
wait_for 60 finished "$job" || fail "job $job still $(job_state "$job")"
[[ $(job_state "$job") == COMPLETED ]] || fail "job $job ended $(job_state "$job")"
[[ $(restarts "$job") == 1 ]] || fail "job $job restarted $(restarts "$job") times"
expect_log "work left (exit 75): requeueing job $job"
expect_log "start (restart 1"
expect_log "sweep complete (exit 0)"
[[ ! -e $tmp/pwned ]] || fail "a command in the DB path ran"

echo "== scontrol requeue: SIGTERM passed on, the script leaves the requeue to Slurm"
submit_case term wait --artifacts "$tmp/art dir"
wait_for 30 both_ranks_running || fail "job $job did not start ($(job_state "$job"))"
printf '%s\0' run "$sweep" --db "$db" --artifacts "$tmp/art dir" >"$tmp/expected-argv"
cmp -s "$tmp/expected-argv" "$tmp/argv.0" || fail "rank 0 argv: $(tr '\0' '|' <"$tmp/argv.0")"
scontrol requeue "$job"
wait_for 60 finished "$job" || fail "job $job still $(job_state "$job")"
[[ $(job_state "$job") == COMPLETED ]] || fail "job $job ended $(job_state "$job")"
[[ $(restarts "$job") == 1 ]] || fail "job $job restarted $(restarts "$job") times"
expect_log "got SIGTERM: passing it to the job steps"
expect_log "not requeueing from this script"
output_of "$job" | grep -qF "requeueing job $job" && fail "the script requeued on its own after SIGTERM"

echo "== locsweep run fails: no requeue"
submit_case fail fail
wait_for 30 finished "$job" || fail "job $job still $(job_state "$job")"
[[ $(job_state "$job") == FAILED ]] || fail "job $job ended $(job_state "$job")"
scontrol show job "$job" | grep -q 'ExitCode=3:0' || fail "exit code is not 3"
[[ $(restarts "$job") == 0 ]] || fail "a failed run was requeued"
expect_log "locsweep run failed (exit 3): not requeueing"

echo "== work left but --max-requeues 0: no requeue"
submit_case budget always-wait --max-requeues 0
wait_for 30 both_ranks_running || fail "job $job did not start ($(job_state "$job"))"
scancel --signal=USR1 "$job"
wait_for 30 finished "$job" || fail "job $job still $(job_state "$job")"
[[ $(job_state "$job") == FAILED ]] || fail "job $job ended $(job_state "$job")"
scontrol show job "$job" | grep -q 'ExitCode=75:0' || fail "exit code is not 75"
expect_log "not requeueing; submit again to continue"

[[ ! -e $tmp/pwned ]] || fail "a command in a path ran"
"$cluster" stop
echo "PASS"
