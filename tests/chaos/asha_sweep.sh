#!/usr/bin/env bash
# Early stopping (ASHA) end to end, for real (`locsweep run`, one process, tiny byte-level
# GPT-2): 6 trials varying train.lr, train.steps 60, rungs [20, 40], reduction 2.
# (1) uninterrupted: the worst trials end `stopped` (not failed) at their rung (outcome rung,
#     steps_done the rung step); every promoted attempt resumed from its rung checkpoint
#     (attempts.resumed_from = the rung step); the best trial finishes train.steps; `status`,
#     `results` and `plan --db` count the stopped trials apart;
# (2) the finished trial's whole loss curve (every train and val step of step_metrics) equals
#     an uninterrupted run of its configuration without early stopping, and so does its final
#     validation loss;
# (3) the same sweep killed with SIGKILL (the run and its trial child) once trials are
#     parked, then run again: it ends with the same statuses, no parked trial retrained to its
#     rung; a third run starts nothing.
export ORCH_TEST_NAME=chaos_asha_sweep
# shellcheck source-path=SCRIPTDIR source=orphans_lib.sh
source "$(dirname "$0")/orphans_lib.sh"
require_moby_dick

shared_keys() {
  cat <<EOF
model: {n_layer: 2, n_head: 2, n_embd: 32, block_size: 32}
data: {corpus: moby-dick, tokenizer: bytes}
train: {steps: 60, batch_size: 4, lr: 1.0e-3, min_lr: 1.0e-5, warmup_steps: 5}
locality: {mechanism: block, schedule: quintic}
eval: {every: 20, windows: 4}
record: {attention_windows: 1}
execution: {checkpoint_every: 20}
order: fifo
EOF
}
{
  echo "name: asha"
  shared_keys
  echo "grid: {train.lr: [3.0e-4, 1.0e-2, 1.0e-3, 3.0e-5, 3.0e-3, 1.0e-4]}"
  echo "early_stopping: {rungs: [20, 40], reduction: 2}"
} >"$tmp/asha.yaml"

run_sweep() {  # DB OUT: run the sweep to its end
  timeout -k 5 250 "$LOCSWEEP" run "$tmp/asha.yaml" --db "$1" --threads 1 >"$2" 2>&1 ||
    { rc=$?; cat "$2" >&2; fail "run into $1 exited $rc"; }
}
# statuses DB: "lr status outcome steps_done" per trial, in plan order.
statuses() {
  sql "$1" "SELECT json_extract(t.config_json, '$.train.lr') || ' ' || t.status || ' ' ||
            t.outcome || ' ' || t.steps_done FROM trials t JOIN sweep_trials st ON
            st.trial_hash = t.hash ORDER BY st.position"
}

echo "== (1) an uninterrupted ASHA sweep"
db=$tmp/r.sqlite
run_sweep "$db" "$tmp/run1.out"
grep -q "complete: 1 done, 0 failed, 5 stopped early, 0 left" "$tmp/run1.out" ||
  fail "run 1: $(tail -3 "$tmp/run1.out")"
[[ $(sql "$db" "SELECT count(*) FROM trials WHERE status = 'stopped' AND outcome = 'rung'
                AND steps_done IN (20, 40) AND message LIKE 'stopped early at rung _ (step __): %'") == 5 ]] ||
  fail "5 trials should be stopped at a rung: $(statuses "$db")"
[[ $(sql "$db" "SELECT count(*) FROM trials WHERE status = 'stopped' AND steps_done = 20") == 3 &&
   $(sql "$db" "SELECT count(*) FROM trials WHERE status = 'stopped' AND steps_done = 40") == 2 ]] ||
  fail "with reduction 2, 3 trials stop at rung 1 and 2 at rung 2: $(statuses "$db")"
best=$(sql "$db" "SELECT hash FROM trials WHERE status = 'done' AND steps_done = 60")
[[ ${#best} == 64 ]] || fail "the best trial did not finish train.steps: $(statuses "$db")"
# Its attempts: to rung 1 from scratch, to rung 2 from rung 1's checkpoint, to the end from
# rung 2's.
[[ $(sql "$db" "SELECT group_concat(x, ',') FROM (SELECT outcome || '@' || resumed_from || '-' ||
                steps_done AS x FROM attempts WHERE trial_hash = '$best' ORDER BY number)") == \
   "rung@0-20,rung@20-40,done@40-60" ]] || fail "the best trial's attempts: $(attempts_of "$db" "$best")"
# Every promoted attempt resumed from the rung its trial was parked at.
[[ $(sql "$db" "SELECT count(*) FROM attempts WHERE number > 1 AND resumed_from NOT IN (20, 40)") == 0 ]] ||
  fail "a promoted trial was retrained instead of resumed from its rung checkpoint"
[[ $(sql "$db" "SELECT count(*) FROM trials WHERE status = 'failed'") == 0 ]] || fail "a trial failed"
# ASHA's rule at the end: a trial stopped at a rung is not among the best floor(n/2) of the n
# trials that reached it (at least that many have a lower validation loss there).
[[ $(sql "$db" "SELECT count(*) FROM trials s JOIN step_metrics ms ON ms.trial_hash = s.hash AND
                ms.split = 'val' AND ms.step = s.steps_done WHERE s.status = 'stopped' AND
                (SELECT count(*) FROM step_metrics m WHERE m.split = 'val' AND m.step = s.steps_done
                 AND m.loss < ms.loss) < (SELECT count(*) FROM step_metrics m WHERE m.split = 'val'
                 AND m.step = s.steps_done) / 2") == 0 ]] ||
  fail "a stopped trial was among the best half at its rung: $(statuses "$db")"
no_running_rows "$db"
echo "ok: $(statuses "$db" | tr '\n' ';')"

echo "== the views count stopped trials apart"
"$LOCSWEEP" status --db "$db" --source database >"$tmp/status.out" 2>&1 || fail "status: $(cat "$tmp/status.out")"
grep -q "asha: 1/6 done, 0 running, 0 failed, 0 pending, 5 stopped early" "$tmp/status.out" ||
  fail "status: $(cat "$tmp/status.out")"
"$LOCSWEEP" results --db "$db" >"$tmp/results.out" 2>&1 || fail "results: $(cat "$tmp/results.out")"
grep -q "6 trials, 1 done, 0 running, 0 failed, 0 pending, 5 stopped early" "$tmp/results.out" ||
  fail "results: $(head -3 "$tmp/results.out")"
"$LOCSWEEP" plan "$tmp/asha.yaml" --db "$db" >"$tmp/plan.out" 2>&1 || fail "plan: $(cat "$tmp/plan.out")"
grep -q "5 stopped" "$tmp/plan.out" || fail "plan --db: $(cat "$tmp/plan.out")"

echo "== (2) the finished trial's curve equals an uninterrupted run of its configuration"
lr=$(sql "$db" "SELECT json_extract(config_json, '$.train.lr') FROM trials WHERE hash = '$best'")
{
  echo "name: reference"
  shared_keys
  echo "grid: {train.lr: [$lr]}"
} >"$tmp/reference.yaml"
ref_db=$tmp/ref.sqlite
ref=$(reference_run "$tmp/reference.yaml" "$ref_db")
[[ $ref == "$best" ]] || fail "the reference trial has another identity ($ref, not $best)"
curve() { sql "$1" "SELECT split || ' ' || step || ' ' || printf('%.17g', loss) FROM step_metrics
                    WHERE trial_hash = '$best' ORDER BY split, step"; }
curve "$db" >"$tmp/asha.curve"
curve "$ref_db" >"$tmp/ref.curve"
[[ $(grep -c '^train ' "$tmp/ref.curve") == 60 && $(grep -c '^val ' "$tmp/ref.curve") -ge 2 ]] ||
  fail "the reference curve lacks points: $(wc -l <"$tmp/ref.curve") lines"
diff "$tmp/ref.curve" "$tmp/asha.curve" >"$tmp/curve.diff" ||
  fail "the promoted trial's curve differs from the uninterrupted run: $(head -5 "$tmp/curve.diff")"
final() { sql "$1" "SELECT printf('%.17g', val_loss) FROM trials WHERE hash = '$best'"; }
[[ $(final "$db") == "$(final "$ref_db")" ]] || fail "final val loss $(final "$db") != $(final "$ref_db")"
echo "ok: $(wc -l <"$tmp/ref.curve") points identical; final val loss $(final "$db")"

echo "== (3) killed with SIGKILL once trials are parked, then run again"
db2=$tmp/r2.sqlite
timeout -k 5 250 "$LOCSWEEP" run "$tmp/asha.yaml" --db "$db2" --threads 1 >"$tmp/kill.out" 2>&1 &
job=$!
parked() {
  [[ -f $db2 ]] || return 1
  [[ $(sql "$db2" "SELECT count(*) FROM trials WHERE status = 'pending' AND outcome = 'rung'" 2>/dev/null) -ge 3 ]]
}
wait_for 200 parked || { cat "$tmp/kill.out" >&2; fail "no 3 trials parked at a rung"; }
victims=$(pids_under_tmp)
# shellcheck disable=SC2086  # a list of pids
kill -9 $victims 2>/dev/null || true
wait "$job" 2>/dev/null || true
wait_for 60 no_process_left || fail "processes outlived the kill by a minute"
before=$(sql "$db2" "SELECT hash || ' ' || last_step FROM trials WHERE status = 'pending' AND outcome = 'rung'")
[[ -n $before ]] || fail "no trial was parked when the run was killed"
run_sweep "$db2" "$tmp/rerun.out"
rerun_attempts=$(sql "$db2" "SELECT count(*) FROM attempts WHERE run_id = (SELECT max(id) FROM runs)")
((rerun_attempts > 0)) || fail "the kill came after the sweep ended: the rerun had nothing to do"
[[ $(statuses "$db2") == "$(statuses "$db")" ]] ||
  fail "after the kill: $(statuses "$db2" | tr '\n' ';') instead of $(statuses "$db" | tr '\n' ';')"
# A trial parked before the kill never trained to that rung again.
while read -r hash step; do
  [[ -z $hash ]] && continue
  [[ $(sql "$db2" "SELECT count(*) FROM attempts WHERE trial_hash = '$hash' AND steps_done = $step
                   AND outcome = 'rung'") == 1 ]] || fail "trial $hash reached step $step twice: $(attempts_of "$db2" "$hash")"
done <<<"$before"
no_running_rows "$db2"
run_sweep "$db2" "$tmp/third.out"
[[ $(sql "$db2" "SELECT count(*) FROM attempts") == "$(sql "$db2" "SELECT count(*) FROM attempts WHERE run_id < (SELECT max(id) FROM runs)")" ]] ||
  fail "a third run started attempts"
echo "ok: killed with $(echo "$before" | wc -l) trials parked; the rerun ($rerun_attempts attempts) ended as the uninterrupted run did"
