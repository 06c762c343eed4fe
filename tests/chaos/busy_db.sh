#!/usr/bin/env bash
# A busy database is waited on, never fatal. While a 3-rank run (mpirun) works through noop
# trials, another process (python's sqlite3, as a user's shell or a backup would) holds the
# write lock with BEGIN EXCLUSIVE for 20 s. The run waits, says every few seconds on stderr
# that it waits for that database and which process holds its lock, says when it continues,
# and finishes: exit 0, every trial done exactly once, nothing left running, no process left.
# `locsweep status` reads the database meanwhile.
export ORCH_TEST_NAME=busy_db
# shellcheck source-path=SCRIPTDIR source=lease_lib.sh
source "$(dirname "$0")/lease_lib.sh"

noop_sweep "$tmp/s.yaml" busy 2 "0, 1, 2, 3, 4, 5"
db=$tmp/r.sqlite
"${MPIRUN[@]}" -n 3 "$LOCSWEEP" run "$tmp/s.yaml" --db "$db" --threads 1 >"$tmp/run.out" 2>&1 &
run=$!
wait_for 60 attempts_running "$db" 1 || { cat "$tmp/run.out" >&2; fail "the run never started a trial"; }

"$PY" - "$db" >"$tmp/holder.out" 2>&1 <<'PYTHON' &
import os, sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], timeout=60, isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
print("locked", os.getpid(), flush=True)
time.sleep(20)
db.execute("COMMIT")
print("released", flush=True)
PYTHON
holder=$!
locked() { grep -q locked "$tmp/holder.out"; }
wait_for 60 locked || fail "the lock holder never got the lock: $(cat "$tmp/holder.out")"
"$LOCSWEEP" status --db "$db" >"$tmp/status.out" 2>&1 || fail "status failed while the lock was held: $(cat "$tmp/status.out")"
wait "$holder" || fail "the lock holder failed: $(cat "$tmp/holder.out")"

rc=0
wait "$run" || rc=$?
[[ $rc == 0 ]] || { cat "$tmp/run.out" >&2; fail "the run exited $rc"; }
grep -qF "waiting for the results database '$db': another process (pid $holder, python3) holds its write lock" \
  "$tmp/run.out" || fail "no progress line naming the database and the holder: $(cat "$tmp/run.out")"
grep -qF "the results database '$db' is free again after" "$tmp/run.out" || fail "no line on continuing"
[[ $(grep -c "waiting for the results database" "$tmp/run.out") -ge 2 ]] || fail "progress not repeated"
grep -F "results database" "$tmp/run.out"
[[ $(sql "$db" "SELECT group_concat(status) FROM runs") == complete ]] ||
  fail "runs: $(sql "$db" "SELECT id, status FROM runs")"
all_done_once "$db" 6
nothing_running "$db"
no_process_left
echo PASS
