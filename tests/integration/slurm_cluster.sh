#!/usr/bin/env bash
# slurm/cluster.sh against the real daemons: start, sinfo idle, srun of 2 ranks (plain and an
# Open MPI program over PMIx), sbatch --wait, scontrol requeue of a running job (it comes back
# with SLURM_RESTART_COUNT=1), stop, start again in the same folder, a failed start cleaning up.
# Exit 77 (skipped) when not root or Slurm/munge are not installed.
set -euo pipefail

src=${LOCSWEEP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
cluster=$src/slurm/cluster.sh
[[ $(id -u) == 0 ]] || { echo "SKIP: needs root"; exit 77; }
for prog in munged slurmctld slurmd srun sbatch scontrol; do
  command -v "$prog" >/dev/null || { echo "SKIP: $prog not installed"; exit 77; }
done

tmp=$(mktemp -d /tmp/locsweep-slurm-cluster-test.XXXXXX)
chmod 755 "$tmp"  # munged wants every folder above its socket searchable by all
export LOCSWEEP_SLURM_DIR=$tmp/slurm
cleanup() {
  LOCSWEEP_SLURM_DIR=$tmp/slurm "$cluster" stop >/dev/null 2>&1 || true
  LOCSWEEP_SLURM_DIR=$tmp/bad "$cluster" stop >/dev/null 2>&1 || true
  rm -rf -- "$tmp"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  [[ -d $tmp/slurm/log ]] && tail -n 20 "$tmp"/slurm/log/*.log >&2
  exit 1
}

# Job state as squeue or, once it has left the queue, scontrol shows it.
job_state() {
  local state
  state=$(squeue -h -j "$1" -o %T 2>/dev/null || true)
  [[ -n $state ]] || state=$(scontrol show job "$1" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p')
  echo "${state:-GONE}"
}
# shellcheck source-path=SCRIPTDIR source=test_lib.sh
source "$(dirname "$0")/test_lib.sh"  # wait_for

echo "== start"
env_lines=$("$cluster" start) || fail "cluster.sh start failed"
eval "$env_lines"
[[ $SLURM_CONF == "$tmp/slurm/slurm.conf" ]] || fail "start printed SLURM_CONF=$SLURM_CONF"
[[ $(sinfo -h -o %T) == idle ]] || fail "node not idle: $(sinfo)"
"$cluster" status >/dev/null || fail "status says not all daemons run"
[[ $(sinfo -h -o %c) == 8 ]] || fail "expected 8 CPUs advertised, got $(sinfo -h -o %c)"

echo "== srun: 2 ranks"
out=$(srun -n 2 bash -c 'echo "task $SLURM_PROCID of $SLURM_NTASKS"' | sort)
[[ $out == $'task 0 of 2\ntask 1 of 2' ]] || fail "srun -n 2 printed: $out"

if command -v mpicc >/dev/null; then
  echo "== srun --mpi=pmix: an Open MPI program, 2 ranks"
  cat >"$tmp/mpi_hello.c" <<'EOF'
#include <mpi.h>
#include <stdio.h>
int main(int argc, char** argv) {
  int rank, size, sum;
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  MPI_Allreduce(&rank, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  printf("rank %d of %d sum %d\n", rank, size, sum);
  MPI_Finalize();
  return 0;
}
EOF
  mpicc -o "$tmp/mpi_hello" "$tmp/mpi_hello.c"
  out=$(srun --mpi=pmix -n 2 "$tmp/mpi_hello" | sort)
  [[ $out == $'rank 0 of 2 sum 1\nrank 1 of 2 sum 1' ]] || fail "MPI over srun printed: $out"
else
  echo "(mpicc not installed: MPI check skipped)"
fi

echo "== sbatch --wait"
sbatch --wait -Q -o "$tmp/ok-%j.out" --wrap 'echo "job $SLURM_JOB_ID ok"' >/dev/null ||
  fail "sbatch --wait of a passing job failed"
grep -q '^job [0-9]* ok$' "$tmp"/ok-*.out || fail "job output: $(cat "$tmp"/ok-*.out)"
rc=0
sbatch --wait -Q -o /dev/null --wrap 'exit 3' >/dev/null || rc=$?
[[ $rc == 3 ]] || fail "sbatch --wait of a job exiting 3 returned $rc"

echo "== scontrol requeue of a running job"
cat >"$tmp/requeue.sbatch" <<EOF
#!/bin/bash
#SBATCH --requeue
#SBATCH --open-mode=append
#SBATCH --output=$tmp/requeue.out
echo "run \${SLURM_RESTART_COUNT:-0}"
if [ "\${SLURM_RESTART_COUNT:-0}" = 0 ]; then touch $tmp/requeue.started; exec sleep 300; fi
EOF
job=$(sbatch --parsable "$tmp/requeue.sbatch")
wait_for 30 test -e "$tmp/requeue.started" || fail "job $job did not start: $(job_state "$job")"
scontrol requeue "$job"
done_() { [[ $(job_state "$job") == COMPLETED ]]; }
wait_for 60 done_ || fail "requeued job $job is $(job_state "$job"), not COMPLETED"
# (Slurm adds its own "CANCELLED ... DUE TO JOB REQUEUE" line to the output.)
[[ $(grep '^run ' "$tmp/requeue.out") == $'run 0\nrun 1' ]] ||
  fail "requeued job output (append mode, restart count): $(cat "$tmp/requeue.out")"
scontrol show job "$job" | grep -q 'Restarts=1' || fail "scontrol does not show Restarts=1"

echo "== stop, then start again in the same folder"
"$cluster" stop
rc=0
"$cluster" status >/dev/null || rc=$?
[[ $rc == 3 ]] || fail "status after stop returned $rc, expected 3"
[[ -f $tmp/slurm/slurm.conf ]] || fail "stop removed the state folder"
env_lines=$("$cluster" start) || fail "second start in the same folder failed"
eval "$env_lines"
[[ $(sinfo -h -o %T) == idle ]] || fail "node not idle after restart"
[[ $(srun -n 2 hostname | wc -l) == 2 ]] || fail "srun after restart"
"$cluster" stop --remove
[[ ! -e $tmp/slurm ]] || fail "stop --remove kept the folder"

echo "== a failed start stops what it started"
rc=0
LOCSWEEP_SLURM_DIR=$tmp/bad LOCSWEEP_SLURM_CPUS=not-a-number "$cluster" start >/dev/null 2>&1 || rc=$?
[[ $rc == 1 ]] || fail "a start with a broken config returned $rc"
rc=0
LOCSWEEP_SLURM_DIR=$tmp/bad "$cluster" status >/dev/null 2>&1 || rc=$?
[[ $rc == 3 ]] || fail "daemons left running after a failed start"

echo "PASS"
