#!/usr/bin/env bash
# Databases a run must not use, and runs that must stop cleanly:
#  - --db pointing at an SQLite file of another schema version, a file that is not SQLite, an
#    SQLite database of another application, a file that cannot be written (immutable, or
#    read-only mounted), a path under /proc, a folder: each exits 2 with a message saying what
#    is wrong, and the file is left byte for byte as it was (no journal files left behind);
#  - a second coordinator on a database whose run is alive is refused (exit 2, "another
#    locsweep run") before it writes anything;
#  - SIGTERM to a run without launcher exits 75 with the running trial recorded interrupted,
#    and the next run finishes it; SIGUSR1 to mpirun (which forwards it to the ranks) does the
#    same for a multi-rank run.
export ORCH_TEST_NAME=orchestrator_bad_db
# shellcheck source-path=SCRIPTDIR source=orchestrator_lib.sh
source "$(dirname "$0")/orchestrator_lib.sh"

cat >"$tmp/quick.yaml" <<EOF
name: quick
kind: noop
EOF

# refused NAME DB EXPECTED...: `run` on DB exits 2 saying every EXPECTED, and leaves DB (and
# the files of its folder) exactly as they were; `status` and `plan --db` refuse it too.
refused() {
  local name=$1 db=$2 dir listing before=""
  shift 2
  dir=$(dirname "$db")
  listing=$(ls -A "$dir")
  [[ -f $db ]] && before=$(sha256sum <"$db")
  local rc=0
  "$LOCSWEEP" run "$tmp/quick.yaml" --db "$db" --inline-noop >"$tmp/out" 2>&1 || rc=$?
  [[ $rc == 2 ]] || { cat "$tmp/out" >&2; fail "$name: run exited $rc, expected 2"; }
  local part
  for part in "$@"; do
    grep -qF -- "$part" "$tmp/out" || fail "$name: the message does not say '$part': $(cat "$tmp/out")"
  done
  if [[ -n $before ]]; then
    [[ $(sha256sum <"$db") == "$before" ]] || fail "$name: the file was changed"
  fi
  [[ $(ls -A "$dir") == "$listing" ]] || fail "$name: files appeared or vanished next to it: $(ls -A "$dir")"
  echo "ok: $name: $(cat "$tmp/out")"
}
# For files that exist and are not locsweep databases, read-only commands refuse them too.
readers_refuse() {
  local name=$1 db=$2 before rc
  before=$(sha256sum <"$db")
  for cmd in "status --db $db" "plan $tmp/quick.yaml --db $db"; do
    rc=0
    # shellcheck disable=SC2086
    "$LOCSWEEP" $cmd >"$tmp/out" 2>&1 || rc=$?
    [[ $rc == 2 ]] || { cat "$tmp/out" >&2; fail "$name: '$cmd' exited $rc, expected 2"; }
  done
  [[ $(sha256sum <"$db") == "$before" ]] || fail "$name: a reader changed the file"
}

echo "== (a) an SQLite database of another schema version"
mkdir "$tmp/a"
sqlite3 "$tmp/a/r.sqlite" "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  INSERT INTO meta VALUES ('schema_version', '999'), ('application', 'locsweep');
  CREATE TABLE trials (hash TEXT PRIMARY KEY);"
refused "schema 999" "$tmp/a/r.sqlite" "has results schema version 999" "start a new --db file" "nothing was changed"
readers_refuse "schema 999" "$tmp/a/r.sqlite"

echo "== (b) a file that is not SQLite"
mkdir "$tmp/b"
for i in $(seq 1 200); do echo "line $i of a text file that someone called results.sqlite"; done >"$tmp/b/r.sqlite"
refused "not SQLite" "$tmp/b/r.sqlite" "is not a locsweep results database (not an SQLite file?)"
readers_refuse "not SQLite" "$tmp/b/r.sqlite"

echo "== (c) an SQLite database of another application"
mkdir "$tmp/c"
sqlite3 "$tmp/c/r.sqlite" "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO users(name) VALUES ('ada');"
refused "other application" "$tmp/c/r.sqlite" "is an SQLite database but not a locsweep results database" \
  "point --db at a locsweep database or a new file"
readers_refuse "other application" "$tmp/c/r.sqlite"

echo "== (d) a database that cannot be written"
mkdir "$tmp/d"
"$LOCSWEEP" run "$tmp/quick.yaml" --db "$tmp/d/r.sqlite" --inline-noop >"$tmp/out" 2>&1 || fail "making a database failed"
rm -rf "$tmp/d/r-artifacts"
ro_db=""
if chattr +i "$tmp/d/r.sqlite" 2>/dev/null; then
  extra_cleanup() { chattr -i "$tmp/d/r.sqlite" 2>/dev/null; }
  ro_db=$tmp/d/r.sqlite
  how="immutable (chattr +i)"
elif mkdir "$tmp/ro" && mount --bind -o ro "$tmp/d" "$tmp/ro" 2>/dev/null; then
  extra_cleanup() { umount "$tmp/ro" 2>/dev/null; }
  ro_db=$tmp/ro/r.sqlite
  how="read-only bind mount"
fi
if [[ -n $ro_db ]]; then
  if (echo x >>"$ro_db") 2>/dev/null; then
    echo "SKIP (d): $how does not stop root from writing here"
  else
    refused "$how" "$ro_db" "cannot write the results database" "choose a writable --db path"
  fi
  extra_cleanup
  extra_cleanup() { :; }
else
  echo "SKIP (d): neither chattr +i nor a read-only bind mount works here"
fi
echo "-- a path under /proc"
rc=0
"$LOCSWEEP" run "$tmp/quick.yaml" --db "/proc/locsweep-test-$$.sqlite" --inline-noop >"$tmp/out" 2>&1 || rc=$?
[[ $rc == 2 ]] || { cat "$tmp/out" >&2; fail "/proc path: exited $rc, expected 2"; }
grep -qF "cannot open database '/proc/locsweep-test-$$.sqlite'" "$tmp/out" || fail "/proc path: $(cat "$tmp/out")"
[[ ! -e /proc/locsweep-test-$$.sqlite ]] || fail "a file appeared under /proc"
echo "ok: /proc: $(cat "$tmp/out")"

echo "== (e) a folder"
mkdir -p "$tmp/e/r.sqlite"
refused "folder" "$tmp/e/r.sqlite" "is a folder; give a file path"
[[ -z $(ls -A "$tmp/e/r.sqlite") ]] || fail "folder: something was written into it"

echo "== a second coordinator while a run is alive: refused before it writes"
cat >"$tmp/slow.yaml" <<EOF
name: slow
kind: noop
noop: {duration_s: 8}
EOF
cat >"$tmp/other.yaml" <<EOF
name: other
kind: noop
EOF
live=$tmp/live.sqlite
"$LOCSWEEP" run "$tmp/slow.yaml" --db "$live" --threads 1 >"$tmp/live.out" 2>&1 &
live_pid=$!
running() { [[ -f $live && $(sql "$live" "SELECT count(*) FROM attempts WHERE status = 'running'" 2>/dev/null) == 1 ]]; }
wait_for 30 running || { cat "$tmp/live.out" >&2; fail "the slow trial never started"; }
rc=0
timeout -k 5 60 "$LOCSWEEP" run "$tmp/other.yaml" --db "$live" --inline-noop >"$tmp/out" 2>&1 || rc=$?
[[ $rc == 2 ]] || { cat "$tmp/out" >&2; fail "second coordinator exited $rc, expected 2"; }
grep -qF "another locsweep run (run 1, host $(hostname), pid $live_pid) is using '$live'" "$tmp/out" ||
  fail "second coordinator: $(cat "$tmp/out")"
[[ $(sql "$live" "SELECT count(*) FROM sweeps WHERE name = 'other'") == 0 ]] ||
  fail "the refused coordinator registered its sweep"
[[ $(sql "$live" "SELECT count(*) FROM runs") == 1 ]] || fail "the refused coordinator recorded a run"
echo "ok: $(cat "$tmp/out")"

echo "== SIGTERM to the run without launcher: exit 75, the trial interrupted, resumed next time"
running || fail "the slow trial ended before the signal (machine too slow for an 8 s trial?)"
kill -TERM "$live_pid"
rc=0
wait "$live_pid" || rc=$?
[[ $rc == 75 ]] || { cat "$tmp/live.out" >&2; fail "SIGTERM: exited $rc, expected 75"; }
[[ $(sql "$live" "SELECT status FROM runs WHERE id = 1") == interrupted ]] || fail "run 1 not recorded interrupted"
[[ $(sql "$live" "SELECT status || ' ' || outcome || ' ' || (ended_at IS NOT NULL) FROM attempts") == "interrupted preempted 1" ]] ||
  fail "attempt: $(sql "$live" "SELECT status, outcome, message FROM attempts")"
[[ $(sql "$live" "SELECT status || ' ' || attempts || ' ' || retries_used FROM trials") == "pending 1 0" ]] ||
  fail "trial: $(sql "$live" "SELECT status, attempts, retries_used FROM trials")"
[[ -z $(pids_under_tmp) ]] || fail "processes left after the interrupted run: $(pids_under_tmp)"
timeout -k 5 60 "$LOCSWEEP" run "$tmp/slow.yaml" --db "$live" --threads 1 >"$tmp/live2.out" 2>&1 ||
  { rc=$?; cat "$tmp/live2.out" >&2; fail "the resumed run exited $rc"; }
[[ $(sql "$live" "SELECT group_concat(number || ':' || status, ',') FROM (SELECT * FROM attempts ORDER BY number)") == \
  "1:interrupted,2:done" ]] || fail "attempts after resuming: $(sql "$live" "SELECT number, status FROM attempts")"
[[ $(sql "$live" "SELECT group_concat(status, ',') FROM (SELECT status FROM runs ORDER BY id)") == "interrupted,complete" ]] ||
  fail "runs after resuming: $(sql "$live" "SELECT id, status FROM runs")"

echo "== SIGUSR1 to mpirun of a 3-rank run: exit 75, both trials interrupted, resumed next time"
cat >"$tmp/slow2.yaml" <<EOF
name: slow2
kind: noop
noop: {duration_s: 8}
seeds: [0, 1]
EOF
mdb=$tmp/mpi.sqlite
"${MPIRUN[@]}" -n 3 "$LOCSWEEP" run "$tmp/slow2.yaml" --db "$mdb" --threads 1 >"$tmp/mpi.out" 2>&1 &
mpirun_pid=$!
mpi_running() { [[ -f $mdb && $(sql "$mdb" "SELECT count(*) FROM attempts WHERE status = 'running'" 2>/dev/null) == 2 ]]; }
wait_for 40 mpi_running || { cat "$tmp/mpi.out" >&2; fail "the two slow trials never ran"; }
kill -USR1 "$mpirun_pid"
rc=0
wait "$mpirun_pid" || rc=$?
[[ $rc == 75 ]] || { cat "$tmp/mpi.out" >&2; fail "SIGUSR1 to mpirun: exited $rc, expected 75"; }
[[ $(sql "$mdb" "SELECT status FROM runs") == interrupted ]] || fail "the MPI run is not recorded interrupted"
[[ $(sql "$mdb" "SELECT count(*) FROM attempts WHERE status = 'interrupted' AND outcome = 'preempted'") == 2 ]] ||
  fail "attempts: $(sql "$mdb" "SELECT status, outcome, message FROM attempts")"
[[ $(sql "$mdb" "SELECT count(*) FROM trials WHERE status = 'pending' AND retries_used = 0") == 2 ]] ||
  fail "trials: $(sql "$mdb" "SELECT status, retries_used FROM trials")"
no_process_left() { [[ -z $(pids_under_tmp) ]]; }
wait_for 10 no_process_left || fail "processes left after the interrupted MPI run"
timeout -k 5 90 "${MPIRUN[@]}" -n 3 "$LOCSWEEP" run "$tmp/slow2.yaml" --db "$mdb" --threads 1 >"$tmp/mpi2.out" 2>&1 ||
  { rc=$?; cat "$tmp/mpi2.out" >&2; fail "the resumed MPI run exited $rc"; }
[[ $(sql "$mdb" "SELECT count(*) FROM attempts WHERE status = 'done' AND number = 2 AND run_id = 2") == 2 ]] ||
  fail "after resuming: $(sql "$mdb" "SELECT trial_hash, number, status, run_id FROM attempts")"
[[ $(sql "$mdb" "SELECT group_concat(status, ',') FROM (SELECT status FROM runs ORDER BY id)") == "interrupted,complete" ]] ||
  fail "runs: $(sql "$mdb" "SELECT id, status FROM runs")"
echo "PASS"
