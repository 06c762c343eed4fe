#!/usr/bin/env bash
# --worker-silence below the minimum (5 heartbeat periods of 1 s) would declare healthy ranks
# lost: it is refused as bad input, exit 2 at once on every rank under mpirun (no hang, no
# DB), with a message naming the minimum; alone too. The minimum itself is accepted.
export ORCH_TEST_NAME=rank_silence_min
# shellcheck source-path=SCRIPTDIR source=rank_lib.sh
source "$(dirname "$0")/rank_lib.sh"

cat >"$tmp/s.yaml" <<EOF
name: silence
kind: noop
seeds: [0, 1]
EOF
db=$tmp/s.sqlite
for value in 2 4.9; do
  rc=0
  timeout -k 5 60 "${MPIRUN[@]}" -n 3 "$LOCSWEEP" run "$tmp/s.yaml" --db "$db" --worker-silence "$value" \
    >"$tmp/mpi.out" 2>&1 || rc=$?
  [[ $rc == 2 ]] || { cat "$tmp/mpi.out" >&2; fail "mpirun with --worker-silence $value exited $rc, expected 2"; }
  grep -q -- "--worker-silence $value: must be a number of seconds from 5 to 1e9" "$tmp/mpi.out" ||
    fail "message: $(cat "$tmp/mpi.out")"
  [[ ! -e $db ]] || fail "a DB was created"
  echo "ok: mpirun, --worker-silence $value: exit 2"
done
for value in 1 0 -1 abc; do
  rc=0
  "$LOCSWEEP" run "$tmp/s.yaml" --db "$db" --worker-silence "$value" >"$tmp/one.out" 2>&1 || rc=$?
  [[ $rc == 2 ]] || fail "alone, --worker-silence $value: exited $rc"
  grep -q -- "--worker-silence $value: .*heartbeat each 1 s" "$tmp/one.out" || fail "message: $(cat "$tmp/one.out")"
  [[ ! -e $db ]] || fail "a DB was created"
done
wait_for 10 no_process_left || fail "processes survive: $(pids_under_tmp)"

timeout -k 5 60 "${MPIRUN[@]}" -n 3 "$LOCSWEEP" run "$tmp/s.yaml" --db "$db" --worker-silence 5 \
  >"$tmp/ok.out" 2>&1 || { cat "$tmp/ok.out" >&2; fail "--worker-silence 5 refused"; }
expect_done_once "$db" 2
echo "PASS"
