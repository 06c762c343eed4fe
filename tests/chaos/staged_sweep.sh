#!/usr/bin/env bash
# Staged sweeps end to end (real mpirun, tiny byte-level GPT-2): a sweep whose grid starts
# from a base trial (model.init: base:pre).
# (1) the job is killed with SIGKILL while the base trains; the same command completes the
#     sweep, the base resumed from its checkpoint (one done attempt, never from step 0 again);
# (2) the fine-tune trials load the base's weights: the zero-shot distributed trial (0 steps,
#     same data and windows) evaluates to the base's final validation loss, to 1e-9 relative;
# (3) a second sweep sharing the base runs the grid only (the base's attempts are unchanged),
#     and is killed with SIGKILL during the grid; rerun, it completes without the base again;
# (4) `plan` lists the base first and shows each trial's base; `results` has a base column.
export ORCH_TEST_NAME=chaos_staged_sweep
# shellcheck source-path=SCRIPTDIR source=orphans_lib.sh
source "$(dirname "$0")/orphans_lib.sh"
require_moby_dick

staged_yaml() {  # NAME GRID_STEPS
  cat <<EOF
name: $1
model: {n_layer: 2, n_head: 2, n_embd: 32, block_size: 32, init: "base:pre"}
data: {corpus: moby-dick, tokenizer: bytes}
train: {steps: 10, batch_size: 4, lr: 2.0e-3, min_lr: 2.0e-4, warmup_steps: 2}
locality: {mechanism: block}
eval: {every: 0, windows: 4}
record: {attention_windows: 1}
execution: {checkpoint_every: 10}
order: fifo
bases:
  pre: {train: {steps: 400}, locality: {schedule: distributed}}
grid:
  locality.schedule: [distributed, localist]
  train.steps: [$2]
seeds: [0]
EOF
}
staged_yaml staged "0, 10" >"$tmp/staged.yaml"
staged_yaml staged2 "300" >"$tmp/staged2.yaml"
db=$tmp/r.sqlite

# kill_job YAML: SIGKILL to mpirun and every rank of `run YAML` at once (a node failure).
kill_job() {
  local victims=() p cmd
  for p in $(pids_under_tmp); do
    cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline") || continue
    [[ $cmd == *" run $tmp/$1.yaml "* && $cmd != timeout* ]] && victims+=("$p")
  done
  [[ ${#victims[@]} -ge 4 ]] || fail "expected mpirun and 3 ranks, found ${#victims[@]} processes"
  kill -9 "${victims[@]}"
  no_trial_left() { [[ -z $(pids_under_tmp) ]]; }
  wait_for 60 no_trial_left || fail "trial processes outlived the job by a minute"
}

echo "== plan: the base first, each trial's base shown"
"$LOCSWEEP" plan "$tmp/staged.yaml" >"$tmp/plan.out"
sed -n 3p "$tmp/plan.out" | grep -q "base pre seed=0 .* -" || fail "the base is not listed first: $(cat "$tmp/plan.out")"
[[ $(grep -c " base pre seed=0  " "$tmp/plan.out") == 5 ]] || fail "4 trials should show their base: $(cat "$tmp/plan.out")"

echo "== (1) run 1, killed with SIGKILL while the base trains (after its first checkpoint)"
timeout -k 5 200 "${MPIRUN[@]}" -n 3 "$LOCSWEEP" run "$tmp/staged.yaml" --db "$db" --threads 1 >"$tmp/run1.out" 2>&1 &
job=$!
base_checkpointed() {
  [[ -f $db ]] || return 1
  [[ $(sql "$db" "SELECT count(*) FROM trials WHERE label = 'base pre seed=0' AND status = 'running'
                  AND last_step >= 10" 2>/dev/null) == 1 ]]
}
wait_for 150 base_checkpointed || { cat "$tmp/run1.out" >&2; fail "the base never checkpointed"; }
[[ $(sql "$db" "SELECT count(*) FROM attempts a JOIN trials t ON t.hash = a.trial_hash
                WHERE t.base_hash IS NOT NULL") == 0 ]] || fail "a dependent started before its base was done"
kill_job staged
wait "$job" 2>/dev/null || true
base=$(sql "$db" "SELECT hash FROM trials WHERE label = 'base pre seed=0'")
[[ $(sql "$db" "SELECT count(*) FROM trials WHERE base_hash = '$base'") == 4 ]] || fail "the dependents do not record their base"

echo "== run 2: the same command completes the sweep"
timeout -k 5 200 "${MPIRUN[@]}" -n 3 "$LOCSWEEP" run "$tmp/staged.yaml" --db "$db" --threads 1 >"$tmp/run2.out" 2>&1 ||
  { rc=$?; cat "$tmp/run2.out" >&2; fail "run 2 exited $rc"; }
grep -q "complete: 5 done, 0 failed, 0 left" "$tmp/run2.out" || fail "run 2: $(tail -3 "$tmp/run2.out")"
[[ $(sql "$db" "SELECT count(*) FROM attempts WHERE trial_hash = '$base' AND status = 'done'") == 1 ]] ||
  fail "the base has not exactly one done attempt: $(attempts_of "$db" "$base")"
resumed=$(sql "$db" "SELECT resumed_from FROM attempts WHERE trial_hash = '$base' AND status = 'done'")
((resumed >= 10)) || fail "the base was retrained from step $resumed instead of resuming its checkpoint"
# Every dependent started after the base was done.
[[ $(sql "$db" "SELECT count(*) FROM attempts a JOIN trials t ON t.hash = a.trial_hash
                WHERE t.base_hash = '$base' AND a.started_at < (SELECT finished_at FROM trials WHERE hash = '$base')") == 0 ]] ||
  fail "a dependent started before its base finished"
no_running_rows "$db"
echo "ok: base resumed from step $resumed; 4 dependents done"

echo "== (2) the zero-shot distributed trial evaluates to the base's final validation loss"
read -r base_loss zero_loss <<<"$(sql "$db" "SELECT (SELECT printf('%.17g', val_loss) FROM trials WHERE hash = '$base'),
  (SELECT printf('%.17g', val_loss) FROM trials WHERE base_hash = '$base' AND steps_done = 0 AND mechanism = 'none')" | tr '|' ' ')"
[[ -n $base_loss && -n $zero_loss ]] || fail "missing losses: base '$base_loss', zero-shot '$zero_loss'"
awk -v a="$base_loss" -v b="$zero_loss" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 1e-9 * a) }' ||
  fail "zero-shot val_loss $zero_loss != the base's $base_loss: the base's weights were not loaded"
# The localist zero-shot trial reads the same weights with locality imposed: a different loss.
localist=$(sql "$db" "SELECT printf('%.17g', val_loss) FROM trials WHERE base_hash = '$base' AND steps_done = 0 AND schedule = 'localist'")
[[ $localist != "$base_loss" ]] || fail "the localist zero-shot trial has the base's loss: locality not imposed"
echo "ok: base $base_loss, zero-shot distributed $zero_loss, zero-shot localist $localist"

echo "== (3) a second sweep sharing the base, killed with SIGKILL during its grid"
attempts_before=$(sql "$db" "SELECT count(*) FROM attempts WHERE trial_hash = '$base'")
timeout -k 5 200 "${MPIRUN[@]}" -n 3 "$LOCSWEEP" run "$tmp/staged2.yaml" --db "$db" --threads 1 >"$tmp/run3.out" 2>&1 &
job=$!
grid_checkpointed() {
  [[ $(sql "$db" "SELECT count(*) FROM trials t JOIN sweep_trials st ON st.trial_hash = t.hash
                  JOIN sweeps s ON s.id = st.sweep_id WHERE s.name = 'staged2' AND t.status = 'running'
                  AND t.last_step >= 10" 2>/dev/null) -ge 1 ]]
}
wait_for 150 grid_checkpointed || { cat "$tmp/run3.out" >&2; fail "no grid trial of staged2 checkpointed"; }
kill_job staged2
wait "$job" 2>/dev/null || true
timeout -k 5 200 "${MPIRUN[@]}" -n 3 "$LOCSWEEP" run "$tmp/staged2.yaml" --db "$db" --threads 1 >"$tmp/run4.out" 2>&1 ||
  { rc=$?; cat "$tmp/run4.out" >&2; fail "run 4 exited $rc"; }
grep -q "complete: 3 done, 0 failed, 0 left" "$tmp/run4.out" || fail "run 4: $(tail -3 "$tmp/run4.out")"
[[ $(sql "$db" "SELECT count(*) FROM attempts WHERE trial_hash = '$base'") == "$attempts_before" ]] ||
  fail "the shared base ran again: $(attempts_of "$db" "$base")"
[[ $(sql "$db" "SELECT count(*) FROM sweep_trials st JOIN sweeps s ON s.id = st.sweep_id
                WHERE s.name = 'staged2' AND st.trial_hash = '$base'") == 1 ]] || fail "the base is not in staged2"
no_running_rows "$db"
echo "ok: staged2 done, the base's $attempts_before attempts unchanged"

echo "== (4) results: a base column"
"$LOCSWEEP" results --db "$db" --sweep staged --format csv >"$tmp/results.csv"
head -1 "$tmp/results.csv" | grep -q "^config,base," || fail "no base column: $(head -1 "$tmp/results.csv")"
[[ $(grep -c ",base pre seed=0," "$tmp/results.csv") == 4 ]] || fail "rows with their base: $(cat "$tmp/results.csv")"
no_process_left || fail "processes left"
echo "PASS"
