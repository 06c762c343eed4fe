#!/usr/bin/env bash
# A stopped holder loses its lease after its own lease, and then is fenced off. A run with
# --lease 3 is stopped (SIGSTOP to it and its trial child, as a suspended job, at a moment it
# does not hold the write lock); a second run watches its heartbeat for those 3 s, takes the
# database over and completes the sweep. Then the first run is resumed (SIGCONT): before its
# next write it finds it lost the lease and exits 1 with a clear message, having written
# nothing (the database is identical before and after its resumption). Every trial is done
# exactly once, nothing is left running, no process survives.
export ORCH_TEST_NAME=lease_stopped_holder
# shellcheck source-path=SCRIPTDIR source=lease_lib.sh
source "$(dirname "$0")/lease_lib.sh"

noop_sweep "$tmp/s.yaml" stopped 2 "0, 1, 2, 3"
db=$tmp/r.sqlite
"$LOCSWEEP" run "$tmp/s.yaml" --db "$db" --threads 1 --lease 3 >"$tmp/first.out" 2>&1 &
first=$!
wait_for 60 attempts_running "$db" 1 || { cat "$tmp/first.out" >&2; fail "the first run never started a trial"; }

# Stop the whole tree when it holds no write lock (a holder stopped inside a transaction blocks
# every other process until it resumes: SQLite cannot break another process's lock).
stopped=""
for _ in $(seq 1 50); do
  pids=$(tree_pids "$first")
  # shellcheck disable=SC2086
  kill -STOP $pids
  if write_lock_free "$db"; then stopped=$pids; break; fi
  # shellcheck disable=SC2086
  kill -CONT $pids
  sleep 0.05
done
[[ -n $stopped ]] || fail "could not stop the first run outside a transaction"
echo "stopped: $stopped"

start=$(date +%s.%N)
rc=0
timeout -k 5 120 "$LOCSWEEP" run "$tmp/s.yaml" --db "$db" --threads 1 >"$tmp/second.out" 2>&1 || rc=$?
[[ $rc == 0 ]] || { cat "$tmp/second.out" >&2; fail "the second run exited $rc"; }
grep -qF "run 1 (host $(hostname), pid $first) is recorded running on '$db' and its process is stopped here: watching its heartbeat for its lease (3 s" \
  "$tmp/second.out" || fail "the second run did not say it watched: $(cat "$tmp/second.out")"
# awk, not bc: Debian 13's base system has no bc.
took=$(awk -v end="$(date +%s.%N)" -v start="$start" 'BEGIN { printf "%.2f", end - start }')
awk -v took="$took" 'BEGIN { exit !(took >= 3) }' || fail "taken over after $took s, before the holder's 3 s lease"
[[ $(sql "$db" "SELECT group_concat(id || ':' || status, ',') FROM runs") == "1:crashed,2:complete" ]] ||
  fail "runs: $(sql "$db" "SELECT id, status FROM runs")"
dump_before=$(sqlite3 -readonly "$db" .dump)

# shellcheck disable=SC2086
kill -CONT $stopped
rc=0
wait "$first" || rc=$?
[[ $rc == 1 ]] || { cat "$tmp/first.out" >&2; fail "the resumed first run exited $rc, expected 1"; }
grep -qF "run 1 lost its lease on '$db': run 2 (host $(hostname), pid" "$tmp/first.out" ||
  fail "the resumed run's message: $(cat "$tmp/first.out")"
grep -qF "It stops here without writing anything more" "$tmp/first.out" || fail "$(cat "$tmp/first.out")"
[[ $(sqlite3 -readonly "$db" .dump) == "$dump_before" ]] ||
  fail "the fenced run wrote: $(diff <(echo "$dump_before") <(sqlite3 -readonly "$db" .dump))"
echo "ok: $(grep 'lost its lease' "$tmp/first.out")"

all_done_once "$db" 4
nothing_running "$db"
no_process_left
echo PASS
