#!/usr/bin/env bash
# The whole job killed with SIGKILL (mpirun and every rank, as a node failure or `scancel -s
# KILL` would) after some trials finished and others checkpointed; the same command run
# again completes the sweep: every trial done exactly once, the killed run marked crashed
# and its open attempts interrupted, interrupted trials resumed from their checkpoints, and
# an interrupted trial's whole loss curve in step_metrics identical to the same trial's
# curve when it runs without interruption.
export ORCH_TEST_NAME=orchestrator_kill_job
# shellcheck source-path=SCRIPTDIR source=orchestrator_lib.sh
source "$(dirname "$0")/orchestrator_lib.sh"
require_moby_dick

every=20
long=300
sweep_yaml() {  # NAME STEPS... SCHEDULES
  cat <<EOF
name: $1
model: {n_layer: 2, n_head: 2, n_embd: 64, block_size: 64}
data: {corpus: moby-dick, tokenizer: bytes}
train: {steps: 30, batch_size: 8, lr: 2.0e-3, min_lr: 2.0e-4, warmup_steps: 5}
locality: {mechanism: block}
eval: {every: 10, windows: 8}
record: {attention_windows: 1}
execution: {checkpoint_every: $every}
order: fifo
grid:
  train.steps: [$2]
  locality.schedule: [$3]
seeds: [0]
EOF
}
# Two short trials first (they finish), then two long ones (they checkpoint, then the kill).
sweep_yaml kj "40, $long" "distributed, quintic" >"$tmp/sweep.yaml"
sweep_yaml kj "$long" "quintic" >"$tmp/ref.yaml"
run_cmd=("${MPIRUN[@]}" -n 3 "$LOCSWEEP" run "$tmp/sweep.yaml" --db "$tmp/r.sqlite" --threads 1)
db=$tmp/r.sqlite

echo "== reference: the long quintic trial uninterrupted"
watched=$(reference_run "$tmp/ref.yaml" "$tmp/ref.sqlite")

echo "== run 1 (mpirun -n 3), killed with SIGKILL once 2 trials are done and the long quintic one checkpointed"
timeout -k 5 150 "${run_cmd[@]}" >"$tmp/run1.out" 2>&1 &
job=$!
ready_to_kill() {
  [[ -f $db ]] || return 1
  local state
  state=$(sql "$db" "SELECT (SELECT count(*) FROM trials WHERE status = 'done') || ' ' ||
                            (SELECT count(*) FROM trials WHERE hash = '$watched' AND status = 'running'
                             AND last_step >= $every)" 2>/dev/null) || return 1
  [[ $state == "2 1" ]]
}
wait_for 100 ready_to_kill || { cat "$tmp/run1.out" >&2; fail "never reached 2 done + a checkpointed trial"; }
# mpirun and the ranks: every `locsweep run` process and mpirun itself, all at once. The trial
# processes are left to notice (their parent's death signal) and checkpoint, as in real life.
victims=()
for p in $(pids_under_tmp); do
  cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline") || continue
  [[ $cmd == *" run $tmp/sweep.yaml "* && $cmd != timeout* ]] && victims+=("$p")
done
[[ ${#victims[@]} -ge 4 ]] || fail "expected mpirun and 3 ranks, found ${#victims[@]} processes"
kill -9 "${victims[@]}"
wait "$job" 2>/dev/null || true
echo "killed ${#victims[@]} processes (mpirun and ranks)"
no_trial_left() { [[ -z $(pids_under_tmp) ]]; }
wait_for 60 no_trial_left || fail "trial processes outlived the job by a minute"
[[ $(sql "$db" "SELECT status FROM runs") == running ]] || fail "run 1 was closed although it was killed"
open_before=$(sql "$db" "SELECT count(*) FROM attempts WHERE status = 'running'")
[[ $open_before -ge 1 ]] || fail "the killed run left no open attempt"
done_before=$(sql "$db" "SELECT group_concat(hash, ',') FROM (SELECT hash FROM trials WHERE status = 'done' ORDER BY hash)")

echo "== run 2: the same command again"
timeout -k 5 150 "${run_cmd[@]}" >"$tmp/run2.out" 2>&1 || { rc=$?; cat "$tmp/run2.out" >&2; fail "run 2 exited $rc"; }
grep -q "run 2 complete: 4 done, 0 failed, 0 left" "$tmp/run2.out" || fail "run 2: $(tail -3 "$tmp/run2.out")"

echo "== the database"
[[ $(sql "$db" "SELECT count(*) FROM sweep_results WHERE sweep = 'kj' AND status = 'done'") == 4 ]] ||
  fail "sweep_results: $(sql "$db" "SELECT label, status FROM sweep_results")"
[[ $(sql "$db" "SELECT count(*) FROM (SELECT trial_hash FROM attempts WHERE status = 'done'
                GROUP BY trial_hash HAVING count(*) = 1)") == 4 ]] || fail "a trial does not have exactly one done attempt"
[[ $(sql "$db" "SELECT count(*) FROM attempts WHERE status = 'done'") == 4 ]] || fail "more done attempts than trials"
[[ $(sql "$db" "SELECT group_concat(id || ':' || status, ',') FROM runs") == "1:crashed,2:complete" ]] ||
  fail "runs: $(sql "$db" "SELECT id, status FROM runs")"
[[ $(sql "$db" "SELECT count(*) FROM attempts WHERE status = 'running'") == 0 ]] || fail "attempts left open"
[[ $(sql "$db" "SELECT count(*) FROM attempts WHERE run_id = 1 AND status = 'interrupted' AND outcome = 'preempted'
                AND ended_at IS NOT NULL") == "$open_before" ]] || fail "run 1's open attempts were not closed as interrupted"
# Trials finished in run 1 were not run again.
[[ $(sql "$db" "SELECT count(*) FROM attempts WHERE run_id = 2 AND trial_hash IN (SELECT trial_hash FROM attempts
                WHERE run_id = 1 AND status = 'done')") == 0 ]] || fail "run 2 re-ran a finished trial"
[[ $(sql "$db" "SELECT count(*) FROM attempts WHERE run_id = 1 AND status = 'done'") == 2 ]] ||
  fail "expected the 2 short trials done in run 1 ($done_before)"
resumed=$(sql "$db" "SELECT resumed_from FROM attempts WHERE trial_hash = '$watched' AND status = 'done'")
[[ $resumed -ge $every && $resumed -lt $long ]] || fail "the long quintic trial resumed from step '$resumed'"
[[ $(sql "$db" "SELECT count(*) FROM attempts WHERE trial_hash = '$watched' AND status = 'interrupted'") == 1 ]] ||
  fail "the long quintic trial has no interrupted attempt"

echo "== its loss curve (every step) equals the uninterrupted trial's"
"$PY" - "$db" "$tmp/ref.sqlite" "$watched" "$long" <<'EOF' || fail "the curves differ"
import sqlite3, sys
a, b, h, steps = sqlite3.connect(sys.argv[1]), sqlite3.connect(sys.argv[2]), sys.argv[3], int(sys.argv[4])
curve = lambda con, split: con.execute(
    "SELECT step, loss FROM step_metrics WHERE trial_hash = ? AND split = ? ORDER BY step", (h, split)).fetchall()
for split in ("train", "val"):
    ca, cb = curve(a, split), curve(b, split)
    if split == "train":
        assert [s for s, _ in cb] == list(range(1, steps + 1)), "reference curve incomplete"
    missing = sorted(set(s for s, _ in cb) - set(s for s, _ in ca))
    assert not missing, f"{split}: steps missing after the resume: {missing[:10]}{'...' if len(missing) > 10 else ''} ({len(missing)})"
    diff = [(x, y) for x, y in zip(ca, cb) if x != y]
    assert len(ca) == len(cb) and not diff, f"{split}: {len(diff)} steps differ, first {diff[:3]}"
one = "SELECT val_loss, train_loss, steps_done FROM trials WHERE hash = ?"
assert a.execute(one, (h,)).fetchall() == b.execute(one, (h,)).fetchall(), "final results differ"
EOF
echo "== a trial that finished while its result was never recorded is adopted, with every step"
# The state a kill leaves when it lands between a trial's result.json and the coordinator's
# commit: the trial and its attempt still 'running', its last steps missing, the run 'running'
# under a pid that is gone. The next run must record it from its folder, not run it again.
short=$(sql "$db" "SELECT hash FROM trials WHERE steps_done = 40 ORDER BY hash LIMIT 1")
cp "$db" "$tmp/adopt.sqlite"
gone=$(sh -c 'echo $$')
sql "$tmp/adopt.sqlite" "UPDATE trials SET status = 'running', val_loss = NULL WHERE hash = '$short';
  UPDATE attempts SET status = 'running', outcome = NULL, ended_at = NULL WHERE trial_hash = '$short';
  DELETE FROM step_metrics WHERE trial_hash = '$short' AND step > 25;
  UPDATE runs SET status = 'running', pid = $gone, host = '$(hostname)' WHERE id = 2;"
attempts_before=$(sql "$tmp/adopt.sqlite" "SELECT count(*) FROM attempts WHERE trial_hash = '$short'")
timeout -k 5 60 "$LOCSWEEP" run "$tmp/sweep.yaml" --db "$tmp/adopt.sqlite" --threads 1 >"$tmp/adopt.out" 2>&1 ||
  { rc=$?; cat "$tmp/adopt.out" >&2; fail "the adopting run exited $rc"; }
grep -q "finished before the last run was interrupted; recorded" "$tmp/adopt.out" || fail "no adoption: $(cat "$tmp/adopt.out")"
[[ $(sql "$tmp/adopt.sqlite" "SELECT count(*) FROM attempts WHERE trial_hash = '$short'") == $((attempts_before + 1)) ]] ||
  fail "adoption should add exactly one attempt"
[[ $(sql "$tmp/adopt.sqlite" "SELECT status || ' ' || (json_extract(manifest_json, '\$.adopted_from') IS NOT NULL) FROM attempts
                              WHERE trial_hash = '$short' ORDER BY number DESC LIMIT 1") == "done 1" ]] ||
  fail "the new attempt is not an adoption"
[[ $(sql "$tmp/adopt.sqlite" "SELECT status FROM runs WHERE id = 2") == crashed ]] || fail "run 2 not marked crashed"
[[ $(sql "$tmp/adopt.sqlite" "SELECT group_concat(step || ':' || loss, ',') FROM (SELECT step, loss FROM step_metrics
                              WHERE trial_hash = '$short' ORDER BY split, step)") == \
  "$(sql "$db" "SELECT group_concat(step || ':' || loss, ',') FROM (SELECT step, loss FROM step_metrics
                WHERE trial_hash = '$short' ORDER BY split, step)")" ]] || fail "the adopted trial's steps are not all back"
[[ $(sql "$tmp/adopt.sqlite" "SELECT val_loss FROM trials WHERE hash = '$short'") == \
  "$(sql "$db" "SELECT val_loss FROM trials WHERE hash = '$short'")" ]] || fail "the adopted result differs"
echo "PASS"
