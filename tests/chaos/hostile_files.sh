#!/usr/bin/env bash
# Hostile and damaged files given to the real binary. From a real tiny trial's checkpoint.h5
# and attention.h5, h5py crafts files with one thing wrong each (an array where a scalar
# attribute belongs, a dataset of another rank, a larger lambda / blocks, a too-short
# blocks, a wrong dtype, a dataset that claims data the file lacks, a truncated file), and:
#  - `locsweep attention FILE` exits 2 with one message naming the file and the object;
#  - a trial with `model.init: checkpoint:<crafted>` exits 2 before training, and so does a
#    `--resume` over a crafted checkpoint; a sweep (`locsweep run`) with that trial ends with
#    the trial `failed` after one attempt (its message naming the attribute), no row left `running`, exactly
#    one trial;
#  - `locsweep schedule` with 16,000 nested `reverse:`, `locsweep plan` of a spec with
#    50,000 and of a spec nested 100,000 deep exit 2 with a clear message (no stack overflow);
# never a signal or core dump, the files given are left byte for byte as they were, and no
# process survives.
export ORCH_TEST_NAME=hostile_files
# shellcheck source-path=SCRIPTDIR source=../integration/orchestrator_lib.sh
source "$(dirname "$0")/../integration/orchestrator_lib.sh"

$PY -c 'import h5py' 2>/dev/null || { echo "SKIP: no h5py for /usr/bin/python3"; exit 77; }
command -v sqlite3 >/dev/null || { echo "SKIP: no sqlite3"; exit 77; }
ulimit -c 0

# A real tiny trial (seconds): its checkpoint and attention file are the originals.
head -c 60000 /dev/urandom | base64 >"$tmp/corpus.txt"
printf '%s\n' "seed: 0" \
  "model: {n_layer: 2, n_head: 1, n_embd: 8, block_size: 8}" \
  "data: {corpus: $tmp/corpus.txt, tokenizer: bytes}" \
  "train: {steps: 2, batch_size: 2}" \
  "locality: {mechanism: block, schedule: linear}" \
  "eval: {every: 2, windows: 2}" \
  "record: {attention_windows: 2}" \
  "execution: {checkpoint_every: 2}" >"$tmp/trial.yaml"
timeout -k 5 120 "$LOCSWEEP" trial "$tmp/trial.yaml" --out "$tmp/real" --threads 1 \
  >"$tmp/real.out" 2>&1 || { cat "$tmp/real.out" >&2; fail "the real tiny trial failed"; }
[[ -f $tmp/real/checkpoint.h5 && -f $tmp/real/attention.h5 ]] || fail "no real files"
"$LOCSWEEP" attention "$tmp/real/attention.h5" >"$tmp/out" 2>&1 ||
  fail "the real attention file is refused: $(cat "$tmp/out")"

# craft KIND NAME: writes $tmp/h/NAME.h5, a copy of the real KIND file with one thing wrong.
mkdir -p "$tmp/h"
craft() {
  $PY "$(dirname "$0")/hostile_files_craft.py" "$tmp/real/$1.h5" "$tmp/h/$2.h5" "$2"
}

# refused NAME EXPECTED... -- COMMAND...: COMMAND exits 2 (no signal), its output says every
# EXPECTED, and every file under $tmp/h is unchanged.
refused() {
  local name=$1 rc=0 part before
  shift
  local expected=()
  while [[ $1 != -- ]]; do expected+=("$1"); shift; done
  shift
  before=$(cd "$tmp/h" && sha256sum ./*)
  timeout -k 5 120 "$@" >"$tmp/out" 2>&1 || rc=$?
  ((rc < 128)) || fail "$name: killed by signal $((rc - 128)): $(tail -5 "$tmp/out")"
  [[ $rc == 2 ]] || fail "$name: exited $rc, expected 2: $(tail -5 "$tmp/out")"
  for part in "${expected[@]}"; do
    grep -qF -- "$part" "$tmp/out" || fail "$name: the message does not say '$part': $(tail -5 "$tmp/out")"
  done
  [[ $(cd "$tmp/h" && sha256sum ./*) == "$before" ]] || fail "$name: a given file was changed"
  echo "ok: $name: $(tail -1 "$tmp/out" | cut -c1-220)"
}

damaged="the file is not a locsweep attention file or is damaged"
for c in "version_vector|attribute 'version' has shape [3], expected a scalar" \
         "lambda_rank2|dataset '/lambda' has shape [2, 3] (rank 2), expected rank 1" \
         "lambda_larger|dataset '/lambda' has shape [1000], expected [2]" \
         "blocks_larger|dataset '/blocks' has shape [2, 5000], expected [2, 8]" \
         "blocks_short|dataset '/blocks' has shape [2, 7], expected [2, 8]" \
         "blocks_float|dataset '/blocks' is floating-point, expected an integer dataset" \
         "attention_rank4|dataset '/attention' has shape [2, 2, 8, 8] (rank 4), expected rank 5" \
         "attention_huge|dataset '/attention' has shape [4000, 90, 100, 64, 64]" \
         "truncated|cannot be read"; do
  name=${c%%|*}
  craft attention "$name"
  refused "attention $name" "file '$tmp/h/$name.h5'" "${c#*|}" "$damaged" -- \
    "$LOCSWEEP" attention "$tmp/h/$name.h5"
done

# Checkpoints: model.init, --resume, and a sweep with that trial.
init_trial() {  # init_trial FILE CHECKPOINT: the tiny trial, initialised from CHECKPOINT
  sed "s|^model: {|model: {init: \"checkpoint:$2\", |" "$tmp/trial.yaml" >"$1"
}
for c in "step_array|attribute 'step' has shape [64], expected a scalar" \
         "version_matrix|attribute 'version' has shape [4, 4], expected a scalar" \
         "wte_rank3|dataset '/model/wte.weight' has shape [1, 256, 8] (rank 3), expected rank 2" \
         "wte_int|dataset '/model/wte.weight' is integer, expected a floating-point dataset" \
         "truncated|cannot be read"; do
  name=${c%%|*}
  craft checkpoint "$name"
  init_trial "$tmp/init-$name.yaml" "$tmp/h/$name.h5"
  refused "model.init $name" "file '$tmp/h/$name.h5'" "${c#*|}" \
    "the file is not a locsweep checkpoint or is damaged" -- \
    "$LOCSWEEP" trial "$tmp/init-$name.yaml" --out "$tmp/init-$name" --threads 1
  [[ ! -e $tmp/init-$name/checkpoint.h5 ]] || fail "model.init $name: the trial trained anyway"
done

# --resume over a crafted checkpoint: refused, and the crafted file stays as it is.
cp -r "$tmp/real" "$tmp/resume"
cp "$tmp/h/step_array.h5" "$tmp/resume/checkpoint.h5"
before=$(sha256sum <"$tmp/resume/checkpoint.h5")
refused "--resume step_array" "attribute 'step' has shape [64], expected a scalar" -- \
  "$LOCSWEEP" trial "$tmp/trial.yaml" --out "$tmp/resume" --resume --threads 1
[[ $(sha256sum <"$tmp/resume/checkpoint.h5") == "$before" ]] || fail "--resume changed the checkpoint"

# A sweep whose only trial starts from a crafted checkpoint: the trial ends `error` with the
# message, the run ends, nothing is left running.
{ echo "name: hostile-init"; grep -v '^seed:' "$tmp/init-step_array.yaml"; } >"$tmp/sweep.yaml"
rc=0
timeout -k 5 180 "$LOCSWEEP" run "$tmp/sweep.yaml" --db "$tmp/s.db" --threads 1 >"$tmp/run.out" 2>&1 || rc=$?
((rc < 128)) || fail "run: killed by signal $((rc - 128))"
[[ $(sql "$tmp/s.db" "SELECT count(*) FROM trials") == 1 ]] || fail "run: expected exactly one trial: $(tail -5 "$tmp/run.out")"
state=$(sql "$tmp/s.db" "SELECT status FROM trials")
[[ $state == failed ]] || fail "run: trial status $state, expected failed: $(tail -5 "$tmp/run.out")"
sql "$tmp/s.db" "SELECT message FROM trials" | grep -qF "attribute 'step' has shape [64]" ||
  fail "run: the trial's message does not name the attribute: $(sql "$tmp/s.db" "SELECT message FROM trials")"
[[ $(sql "$tmp/s.db" "SELECT count(*) FROM attempts") == 1 ]] ||
  fail "run: bad input was retried: $(sql "$tmp/s.db" "SELECT count(*) FROM attempts") attempts"
for table in runs trials attempts; do
  [[ $(sql "$tmp/s.db" "SELECT count(*) FROM $table WHERE status = 'running'") == 0 ]] ||
    fail "run: a row of $table is left running"
done
echo "ok: run with a hostile model.init: trial failed, run exit $rc, nothing left running"

# Recursion: schedule strings and spec nesting.
# (one argument may be at most 128 kB: 16,000 levels on the command line, 50,000 in a spec)
refused "schedule 16000 x reverse:" "nests 'reverse:' more than 64 levels deep" -- \
  "$LOCSWEEP" schedule "$(printf 'reverse:%.0s' $(seq 16000))cubic" --layers 4
deep="$(printf 'reverse:%.0s' $(seq 50000))cubic"
printf 'name: deep\nkind: noop\nlocality: {schedule: "%s"}\n' "$deep" >"$tmp/deep-schedule.yaml"
refused "plan with a deep schedule" "nests 'reverse:' more than 64 levels deep" -- \
  "$LOCSWEEP" plan "$tmp/deep-schedule.yaml"
{ printf 'name: deep\nkind: noop\nx: '; head -c 100000 /dev/zero | tr '\0' '['; echo; } >"$tmp/deep-yaml.yaml"
refused "plan with YAML nested 100000 deep" "deep-yaml.yaml" -- "$LOCSWEEP" plan "$tmp/deep-yaml.yaml"

[[ -z $(pids_under_tmp) ]] || fail "processes survive: $(pids_under_tmp)"
echo "PASS"
