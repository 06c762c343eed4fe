#!/usr/bin/env bash
# A trial process killed with SIGKILL in the middle of a sweep (after its first checkpoint):
# the worker rank survives, the attempt is recorded as a crash, the trial is retried from its
# checkpoint (resumed_from > 0) and ends with exactly the result of the same trial run
# without interruption (val_loss equal as a double, and the same loss at every step).
export ORCH_TEST_NAME=orchestrator_kill_trial
# shellcheck source-path=SCRIPTDIR source=orchestrator_lib.sh
source "$(dirname "$0")/orchestrator_lib.sh"
require_moby_dick

steps=300
every=20
write_gpt2_sweep "$tmp/sweep.yaml" kt "$steps" "$every" "distributed, quintic" "0"
write_gpt2_sweep "$tmp/ref.yaml" kt "$steps" "$every" "quintic" "0"

echo "== reference: the quintic trial uninterrupted (one process)"
victim=$(reference_run "$tmp/ref.yaml" "$tmp/ref.sqlite")

echo "== the sweep under mpirun -n 3; kill -9 the quintic trial's process after its first checkpoint"
timeout -k 5 150 "${MPIRUN[@]}" -n 3 "$LOCSWEEP" run "$tmp/sweep.yaml" --db "$tmp/r.sqlite" --threads 1 \
  >"$tmp/run.out" 2>&1 &
job=$!
checkpointed() {
  [[ -f $tmp/r.sqlite ]] || return 1
  local step
  step=$(sql "$tmp/r.sqlite" "SELECT last_step FROM trials WHERE hash = '$victim' AND status = 'running'" 2>/dev/null) ||
    return 1
  [[ -n $step && $step -ge $every ]]
}
wait_for 90 checkpointed || { cat "$tmp/run.out" >&2; fail "the trial never checkpointed"; }
out_dir=$(sql "$tmp/r.sqlite" "SELECT out_dir FROM trials WHERE hash = '$victim'")
pid=""
for p in $(pids_under_tmp); do
  if tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline" | grep -q -- "trial-exec .*--out $out_dir "; then pid=$p; fi
done
[[ -n $pid ]] || fail "no trial-exec process for $out_dir"
kill -9 "$pid"
killed_at=$(sql "$tmp/r.sqlite" "SELECT last_step FROM trials WHERE hash = '$victim'")
echo "killed trial-exec $pid (last checkpoint recorded: step $killed_at of $steps)"
wait "$job" || { rc=$?; cat "$tmp/run.out" >&2; fail "the sweep exited $rc after a trial was killed"; }

echo "== the database"
db=$tmp/r.sqlite
[[ $(sql "$db" "SELECT count(*) FROM trials WHERE status = 'done'") == 2 ]] || fail "not every trial is done"
[[ $(sql "$db" "SELECT count(*) FROM attempts a JOIN trials t ON t.hash = a.trial_hash
                WHERE t.hash <> '$victim'") == 1 ]] || fail "the other trial was disturbed"
attempts=$(sql "$db" "SELECT group_concat(number || ':' || status || ':' || outcome, ',') FROM
                      (SELECT * FROM attempts WHERE trial_hash = '$victim' ORDER BY number)")
[[ $attempts == "1:failed:crash,2:done:done" ]] || fail "victim's attempts: $attempts"
msg=$(sql "$db" "SELECT message FROM attempts WHERE trial_hash = '$victim' AND number = 1")
[[ $msg == *SIGKILL* ]] || fail "the crash message does not name SIGKILL: $msg"
resumed=$(sql "$db" "SELECT resumed_from FROM attempts WHERE trial_hash = '$victim' AND number = 2")
[[ $resumed -ge $killed_at && $resumed -gt 0 && $((resumed % every)) == 0 && $resumed -lt $steps ]] ||
  fail "attempt 2 resumed from step '$resumed' (checkpoint recorded at $killed_at, every $every)"
[[ $(sql "$db" "SELECT retries_used || ' ' || attempts FROM trials WHERE hash = '$victim'") == "1 2" ]] ||
  fail "retries/attempts of the victim: $(sql "$db" "SELECT retries_used, attempts FROM trials WHERE hash = '$victim'")"
[[ $(sql "$db" "SELECT count(*) FROM step_metrics WHERE trial_hash = '$victim' AND split = 'train'") == "$steps" ]] ||
  fail "train steps of the victim are not exactly $steps rows"

echo "== its result equals the uninterrupted one"
"$PY" - "$db" "$tmp/ref.sqlite" "$victim" <<'EOF' || fail "the resumed trial's result differs from the reference"
import sqlite3, sys
a, b, h = sqlite3.connect(sys.argv[1]), sqlite3.connect(sys.argv[2]), sys.argv[3]
one = lambda con, sql: con.execute(sql, (h,)).fetchall()
ra = one(a, "SELECT val_loss, val_ppl, val_tokens, train_loss, steps_done FROM trials WHERE hash = ?")
rb = one(b, "SELECT val_loss, val_ppl, val_tokens, train_loss, steps_done FROM trials WHERE hash = ?")
print("resumed:", ra, "\nreference:", rb)
assert ra == rb and ra[0][0] is not None, "final result differs"
ca = one(a, "SELECT split, step, loss FROM step_metrics WHERE trial_hash = ? ORDER BY split, step")
cb = one(b, "SELECT split, step, loss FROM step_metrics WHERE trial_hash = ? ORDER BY split, step")
assert len(ca) == len(cb) > 0, (len(ca), len(cb))
diff = [(x, y) for x, y in zip(ca, cb) if x != y]
assert not diff, f"{len(diff)} steps differ, first {diff[:3]}"
hm = "SELECT layer, head, entropy_bits, in_block_mass, mean_distance FROM head_metrics WHERE trial_hash = ? ORDER BY 1, 2"
assert one(a, hm) == one(b, hm), "head metrics differ"
EOF
echo "PASS"
