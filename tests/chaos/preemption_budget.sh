#!/usr/bin/env bash
# A bounded preemption budget, with real processes. (1) A trial that kills its own job: a noop
# trial SIGKILLs its coordinator (one-process mode) on every attempt, and the test re-runs the
# same command each time, as a requeue would. With execution.max_preemptions: 2 the next run
# after the third interruption fails it with a clear reason instead of resuming it forever;
# the other trial is done once. --retry-failed gives it a new budget. (2) A trial stopped by
# SIGTERM (preempted, checkpointed) in every run: the second interruption beyond
# max_preemptions: 1 fails it in the run that sees it.
export ORCH_TEST_NAME=chaos_preemption
# shellcheck source-path=SCRIPTDIR source=orphans_lib.sh
source "$(dirname "$0")/orphans_lib.sh"

cat >"$tmp/kill.yaml" <<YAML
name: self-killer
kind: noop
execution: {max_preemptions: 2, kill_grace_s: 2}
order: fifo
points:
  - {noop.fail: none}
  - {noop.fail: kill_parent}
YAML
db=$tmp/kill.sqlite
victim_where="json_extract(config_json, '\$.noop.fail') = 'kill_parent'"

echo "== the trial kills its job on every attempt; the test requeues (re-runs) until the run ends"
codes=()
for i in $(seq 1 8); do
  rc=0
  timeout -k 5 60 "$LOCSWEEP" run "$tmp/kill.yaml" --db "$db" --threads 1 >"$tmp/kill.$i.out" 2>&1 || rc=$?
  codes+=("$rc")
  [[ $rc == 0 ]] && break
  [[ $rc == 137 ]] || { cat "$tmp/kill.$i.out" >&2; fail "run $i exited $rc (expected 137: killed by its trial)"; }
  wait_for 15 no_process_left || fail "run $i left processes: $(pids_under_tmp)"
done
[[ ${codes[*]} == "137 137 137 0" ]] || fail "exit codes of the runs: ${codes[*]} (expected 137 137 137 0)"
victim=$(sql "$db" "SELECT hash FROM trials WHERE $victim_where")
[[ $(attempts_of "$db" "$victim") == "1:interrupted:preempted,2:interrupted:preempted,3:failed:preempted" ]] ||
  fail "the self-killer's attempts: $(attempts_of "$db" "$victim")"
row=$(sql "$db" "SELECT status || '|' || outcome || '|' || message FROM trials WHERE hash = '$victim'")
[[ $row == "failed|preempted|interrupted 3 times in a row without progress (execution.max_preemptions: 2)"* ]] ||
  fail "the self-killer's row: $row"
grep -q "failed: interrupted 3 times in a row without progress" "$tmp/kill.4.out" || fail "run 4 did not say why: $(cat "$tmp/kill.4.out")"
[[ $(sql "$db" "SELECT count(*) FROM attempts a JOIN trials t ON t.hash = a.trial_hash
                WHERE t.hash <> '$victim'") == 1 ]] || fail "the other trial ran more than once"
[[ $(sql "$db" "SELECT count(*) FROM trials WHERE status = 'done'") == 1 ]] || fail "the other trial is not done"
[[ $(sql "$db" "SELECT group_concat(status, ',') FROM (SELECT status FROM runs ORDER BY id)") == "crashed,crashed,crashed,complete" ]] ||
  fail "runs: $(sql "$db" "SELECT id, status FROM runs")"
no_running_rows "$db"
no_process_left || fail "processes left"
echo "ok: failed after 3 interruptions in a row: $row"

echo "== --retry-failed gives it a new budget"
rc=0
timeout -k 5 60 "$LOCSWEEP" run "$tmp/kill.yaml" --db "$db" --threads 1 --retry-failed >"$tmp/kill.retry.out" 2>&1 || rc=$?
[[ $rc == 137 ]] || { cat "$tmp/kill.retry.out" >&2; fail "--retry-failed run exited $rc (expected 137: the trial ran again)"; }
[[ $(sql "$db" "SELECT count(*) FROM attempts WHERE trial_hash = '$victim'") == 4 ]] || fail "no new attempt after --retry-failed"
wait_for 15 no_process_left || fail "processes left after the retry"

echo "== a trial stopped by SIGTERM in every run (max_preemptions: 1)"
cat >"$tmp/stop.yaml" <<YAML
name: always-stopped
kind: noop
execution: {max_preemptions: 1}
points:
  - {noop.duration_s: 600}
YAML
db=$tmp/stop.sqlite
for i in 1 2; do
  "$LOCSWEEP" run "$tmp/stop.yaml" --db "$db" --threads 1 >"$tmp/stop.$i.out" 2>&1 &
  run=$!
  running() { [[ $(sql "$db" "SELECT count(*) FROM attempts WHERE status = 'running'" 2>/dev/null) == 1 ]]; }
  wait_for 30 running || fail "run $i: the trial never started"
  kill -TERM "$run"
  rc=0
  wait "$run" || rc=$?
  [[ $rc == 75 ]] || { cat "$tmp/stop.$i.out" >&2; fail "stopped run $i exited $rc (expected 75)"; }
done
hash=$(sql "$db" "SELECT hash FROM trials")
[[ $(attempts_of "$db" "$hash") == "1:interrupted:preempted,2:failed:preempted" ]] ||
  fail "attempts: $(attempts_of "$db" "$hash")"
[[ $(sql "$db" "SELECT status FROM trials") == failed ]] || fail "the trial is not failed"
[[ $(sql "$db" "SELECT message FROM trials") == "interrupted 2 times in a row without progress (execution.max_preemptions: 1)"* ]] ||
  fail "message: $(sql "$db" "SELECT message FROM trials")"
rc=0
timeout -k 5 60 "$LOCSWEEP" run "$tmp/stop.yaml" --db "$db" --threads 1 >"$tmp/stop.3.out" 2>&1 || rc=$?
[[ $rc == 0 ]] || { cat "$tmp/stop.3.out" >&2; fail "the third run exited $rc (expected 0: nothing left)"; }
[[ $(sql "$db" "SELECT count(*) FROM attempts") == 2 ]] || fail "the third run started an attempt"
no_running_rows "$db"
no_process_left || fail "processes left"
echo "PASS"
