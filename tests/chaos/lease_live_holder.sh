#!/usr/bin/env bash
# A live run is never displaced. While a 3-rank run (mpirun) works on its sweep, a second
# `locsweep run` on the same database is refused (exit 2, "another locsweep run ... its
# process is running on this machine") even when it asks for a 1 s lease, and even when both
# carry the same SLURM_JOB_ID (two steps of one job); the refused runs write nothing. The
# live run completes with every trial done exactly once, nothing left running, no process
# left over.
export ORCH_TEST_NAME=lease_live_holder
# shellcheck source-path=SCRIPTDIR source=lease_lib.sh
source "$(dirname "$0")/lease_lib.sh"

noop_sweep "$tmp/s.yaml" live 3 "0, 1, 2, 3, 4, 5, 6, 7"  # ~12 s of work: time for both refusals
db=$tmp/r.sqlite
SLURM_JOB_ID=4711 "${MPIRUN[@]}" -n 3 "$LOCSWEEP" run "$tmp/s.yaml" --db "$db" --threads 1 \
  >"$tmp/live.out" 2>&1 &
live=$!
wait_for 60 attempts_running "$db" 1 || { cat "$tmp/live.out" >&2; fail "the live run never started a trial"; }
holder_pid=$(sql "$db" "SELECT pid FROM runs WHERE id = 1")

second() {  # second NAME ENV...: a second run that must be refused
  local name=$1 rc=0
  shift
  env "$@" timeout -k 5 60 "$LOCSWEEP" run "$tmp/s.yaml" --db "$db" --lease 1 --threads 1 \
    >"$tmp/second.out" 2>&1 || rc=$?
  [[ $rc == 2 ]] || { cat "$tmp/second.out" >&2; fail "$name: the second run exited $rc, expected 2"; }
  grep -qF "another locsweep run (run 1, host $(hostname), pid $holder_pid, Slurm job 4711) is using '$db': its process is running on this machine" \
    "$tmp/second.out" || fail "$name: $(cat "$tmp/second.out")"
  [[ $(sql "$db" "SELECT count(*) FROM runs") == 1 ]] || fail "$name: the refused run recorded a run"
  echo "ok: $name: $(cat "$tmp/second.out")"
}
second "--lease 1" SLURM_JOB_ID=
second "--lease 1, same SLURM_JOB_ID" SLURM_JOB_ID=4711
attempts_running "$db" 1 || fail "the live run was disturbed"

rc=0
wait "$live" || rc=$?
[[ $rc == 0 ]] || { cat "$tmp/live.out" >&2; fail "the live run exited $rc"; }
[[ $(sql "$db" "SELECT group_concat(status) FROM runs") == complete ]] ||
  fail "runs: $(sql "$db" "SELECT id, status FROM runs")"
all_done_once "$db" 8
nothing_running "$db"
no_process_left
echo PASS
