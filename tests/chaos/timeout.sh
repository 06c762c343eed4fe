#!/usr/bin/env bash
# The hard time limit is SIGTERM, a checkpoint, then SIGKILL after execution.kill_grace_s:
# (1) a real GPT-2 trial longer than its limit: each attempt is stopped at the limit,
#     checkpoints at its next step (checkpoint_every is larger than the run, so every
#     resume point comes from a SIGTERM checkpoint), is recorded `timeout`, and the retry
#     resumes exactly there; the trial ends done with every step recorded once;
# (2) a noop trial that handles SIGTERM ends at once as timeout, long before its grace;
# (3) a noop trial that ignores SIGTERM (noop.fail: hang) is SIGKILLed after its grace.
export ORCH_TEST_NAME=chaos_timeout
# shellcheck source-path=SCRIPTDIR source=orphans_lib.sh
source "$(dirname "$0")/orphans_lib.sh"
require_moby_dick

steps=400
cat >"$tmp/gpt2.yaml" <<YAML
name: timeouts
model: {n_layer: 2, n_head: 2, n_embd: 64, block_size: 64}
data: {corpus: moby-dick, tokenizer: bytes}
train: {steps: $steps, batch_size: 8, lr: 2.0e-3, min_lr: 2.0e-4, warmup_steps: 5}
locality: {mechanism: block, schedule: quintic}
eval: {every: 0, windows: 4}
record: {attention_windows: 1}
execution: {checkpoint_every: 100000, timeout_s: 3, kill_grace_s: 30, max_retries: 30}
YAML
db=$tmp/gpt2.sqlite

echo "== (1) a GPT-2 trial of $steps steps under a 3 s limit per attempt"
timeout -k 5 200 "$LOCSWEEP" run "$tmp/gpt2.yaml" --db "$db" --threads 1 >"$tmp/gpt2.out" 2>&1 ||
  { rc=$?; cat "$tmp/gpt2.out" >&2; fail "the run exited $rc"; }
hash=$(sql "$db" "SELECT hash FROM trials")
[[ $(sql "$db" "SELECT status FROM trials") == done ]] || fail "the trial is not done: $(attempts_of "$db" "$hash")"
n=$(sql "$db" "SELECT count(*) FROM attempts")
((n >= 2)) || fail "the trial finished within its first 3 s attempt: the test proves nothing (make it longer)"
# Every attempt but the last: timeout, stopped by SIGTERM with a checkpoint, the next resumes there.
bad=$(sql "$db" "SELECT a.number || ':' || a.outcome || ':' || a.resumed_from || '-' || a.steps_done || '->' || ifnull(b.resumed_from, 'none')
                 FROM attempts a LEFT JOIN attempts b ON b.trial_hash = a.trial_hash AND b.number = a.number + 1
                 WHERE a.number < $n AND NOT (a.outcome = 'timeout' AND a.status = 'failed' AND
                       a.steps_done > a.resumed_from AND b.resumed_from = a.steps_done AND
                       a.message LIKE 'stopped at its time limit of 3 s (SIGTERM); checkpointed at step %')")
[[ -z $bad ]] || fail "attempts not stopped/checkpointed/resumed as expected: $bad; all: $(sql "$db" "SELECT number, outcome, resumed_from, steps_done, message FROM attempts")"
[[ $(sql "$db" "SELECT outcome FROM attempts WHERE number = $n") == done ]] || fail "the last attempt is not done"
[[ $(sql "$db" "SELECT count(*) FROM step_metrics WHERE split = 'train'") == "$steps" ]] ||
  fail "train steps recorded: $(sql "$db" "SELECT count(*) FROM step_metrics WHERE split = 'train'") (expected $steps)"
[[ $(sql "$db" "SELECT retries_used FROM trials") == $((n - 1)) ]] || fail "timeouts not counted as retries"
no_running_rows "$db"
echo "ok: $((n - 1)) timeouts, each checkpointed at SIGTERM and resumed there: $(sql "$db" "SELECT group_concat(resumed_from || '-' || steps_done, ' ') FROM attempts")"

# A limit of 3 s: a trial process needs up to a second or two to start on a loaded machine.
echo "== (2) and (3): noop trials that handle / ignore SIGTERM (limit 3 s, grace 5 s)"
cat >"$tmp/noop.yaml" <<YAML
name: noop-timeouts
kind: noop
execution: {timeout_s: 3, kill_grace_s: 5, max_retries: 0}
points:
  - {noop.duration_s: 600}
  - {noop.fail: hang}
YAML
db=$tmp/noop.sqlite
timeout -k 5 60 "$LOCSWEEP" run "$tmp/noop.yaml" --db "$db" --threads 1 >"$tmp/noop.out" 2>&1 ||
  { rc=$?; cat "$tmp/noop.out" >&2; fail "the run exited $rc"; }
seconds() {  # FAIL: the attempt's duration in seconds and its outcome and message
  sql "$db" "SELECT printf('%.1f', (julianday(a.ended_at) - julianday(a.started_at)) * 86400) || '|' || a.outcome || '|' || a.message
             FROM attempts a JOIN trials t ON t.hash = a.trial_hash WHERE json_extract(t.config_json, '\$.noop.fail') = '$1'"
}
IFS='|' read -r took outcome message <<<"$(seconds none)"
[[ $outcome == timeout && $message == "stopped at its time limit of 3 s (SIGTERM); checkpointed at step 0"* ]] ||
  fail "SIGTERM-handling trial: $outcome $message"
awk -v t="$took" 'BEGIN { exit !(t >= 2.9 && t < 7.5) }' || fail "SIGTERM-handling trial took $took s (expected ~3 s: stopped by SIGTERM, not SIGKILL at 8 s)"
IFS='|' read -r took outcome message <<<"$(seconds hang)"
[[ $outcome == timeout && $message == "killed after its time limit of 3 s: still running 5 s (execution.kill_grace_s) after SIGTERM"* ]] ||
  fail "hang trial: $outcome $message"
awk -v t="$took" 'BEGIN { exit !(t >= 7.9) }' || fail "the hang trial was killed after $took s, before its grace"
[[ $(sql "$db" "SELECT group_concat(status, ',') FROM trials") == "failed,failed" ]] || fail "trials not failed"
no_running_rows "$db"
no_process_left || fail "processes left"
echo "PASS"
