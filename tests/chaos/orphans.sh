#!/usr/bin/env bash
# kill -9 of the coordinator in one-process mode while its trial child hangs ignoring SIGTERM
# (noop.fail: hang): the child gets SIGTERM at its parent's death (PR_SET_PDEATHSIG), ignores
# it, and its watchdog SIGKILLs it execution.kill_grace_s later: no process of the sweep
# survives. The rerun completes every trial exactly once. Then the rerun is started at once,
# while the orphan is still in its grace: the new attempt waits for the trial folder's lock
# and never works beside the old one.
export ORCH_TEST_NAME=chaos_orphans
# shellcheck source-path=SCRIPTDIR source=orphans_lib.sh
source "$(dirname "$0")/orphans_lib.sh"

write_sweep() {  # FILE GRACE
  cat >"$1" <<YAML
name: orphans
kind: noop
execution: {kill_grace_s: $2}
order: fifo
points:
  - {noop.fail: none}
  - {noop.fail: hang, noop.fail_attempts: 1}
  - {noop.fail: none, noop.duration_s: 0.1}
YAML
}

# start_and_orphan DB SWEEP: starts a one-process run, waits for the hang trial to ignore
# SIGTERM, kill -9s the coordinator; prints the orphaned child's pid.
start_and_orphan() {
  local db=$1 coord hang_dir child=""
  "$LOCSWEEP" run "$2" --db "$db" --threads 1 >"$db.run1.out" 2>&1 &
  coord=$!
  hang_running() {
    hang_dir=$(sql "$db" "SELECT out_dir FROM trials WHERE status = 'running' AND
                          json_extract(config_json, '\$.noop.fail') = 'hang'" 2>/dev/null) || return 1
    [[ -n $hang_dir ]] && child=$(trial_pid "$hang_dir") && [[ -n $child ]] && ignores_sigterm "$child"
  }
  wait_for 30 hang_running || { cat "$db.run1.out" >&2; fail "the hang trial never started"; }
  kill -9 "$coord"
  wait "$coord" 2>/dev/null || true
  echo "$child"
}

check_db() {  # DB: every trial done once, the hang trial resumed once, nothing running
  local db=$1 hang
  [[ $(sql "$db" "SELECT count(*) FROM trials WHERE status = 'done'") == 3 ]] ||
    fail "not every trial is done: $(sql "$db" "SELECT label, status FROM trials")"
  [[ $(sql "$db" "SELECT count(*) FROM attempts WHERE status = 'done'") == 3 ]] || fail "a trial ran to the end twice"
  hang=$(sql "$db" "SELECT hash FROM trials WHERE json_extract(config_json, '\$.noop.fail') = 'hang'")
  [[ $(attempts_of "$db" "$hang") == "1:interrupted:preempted,2:done:done" ]] ||
    fail "hang trial's attempts: $(attempts_of "$db" "$hang")"
  [[ $(sql "$db" "SELECT group_concat(status, ',') FROM (SELECT status FROM runs ORDER BY id)") == "crashed,complete" ]] ||
    fail "runs: $(sql "$db" "SELECT id, status FROM runs")"
  no_running_rows "$db"
}

echo "== kill -9 of the coordinator while its trial hangs, SIGTERM ignored (kill_grace_s: 2)"
write_sweep "$tmp/a.yaml" 2
db=$tmp/a.sqlite
child=$(start_and_orphan "$db" "$tmp/a.yaml")
killed_at=$SECONDS
# It outlives the SIGTERM of its parent's death (ignored) ...
alive "$child" || fail "the hang child died at once: it was meant to ignore SIGTERM"
[[ $(awk '/^PPid:/ {print $2}' "/proc/$child/status") != "$$" ]] || fail "unexpected parent"
# ... but not its grace: the watchdog SIGKILLs it, and nothing of the sweep is left.
wait_for 15 no_process_left || fail "still alive 15 s after the kill: $(pids_under_tmp | xargs -r ps -o pid,args -p)"
echo "ok: the orphan and every process of the sweep were gone $((SECONDS - killed_at)) s after the kill"

timeout -k 5 60 "$LOCSWEEP" run "$tmp/a.yaml" --db "$db" --threads 1 >"$tmp/a.run2.out" 2>&1 ||
  { rc=$?; cat "$tmp/a.run2.out" >&2; fail "the rerun exited $rc"; }
check_db "$db"
no_process_left || fail "processes left after the rerun"
echo "ok: the rerun completed every trial once"

echo "== the rerun starts while the orphan is still in its grace (kill_grace_s: 6)"
write_sweep "$tmp/b.yaml" 6
db=$tmp/b.sqlite
child=$(start_and_orphan "$db" "$tmp/b.yaml")
alive "$child" || fail "the orphan died before the rerun started"
timeout -k 5 60 "$LOCSWEEP" run "$tmp/b.yaml" --db "$db" --threads 1 >"$tmp/b.run2.out" 2>&1 ||
  { rc=$?; cat "$tmp/b.run2.out" >&2; fail "the rerun exited $rc"; }
check_db "$db"
hang_dir=$(sql "$db" "SELECT out_dir FROM trials WHERE json_extract(config_json, '\$.noop.fail') = 'hang'")
grep -q "waiting for pid $child (a previous attempt)" "$hang_dir/attempt-2.log" ||
  fail "attempt 2 did not wait for the orphan $child: $(cat "$hang_dir/attempt-2.log")"
alive "$child" && fail "the orphan $child outlived the rerun"
no_process_left || fail "processes left after the rerun"
echo "ok: attempt 2 waited for the orphan (pid $child) to end before it started"
echo "PASS"
