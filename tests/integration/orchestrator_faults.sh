#!/usr/bin/env bash
# Fault containment with real failing trial processes (the noop kind fails for real: SIGSEGV,
# abort(), a hang that ignores SIGTERM, an allocation failure under an address-space limit,
# a NaN result, an error): the worker ranks and the sweep survive every one, attempts.outcome
# classifies each correctly, retryable failures (crash, timeout, oom) get max_retries more
# attempts and then fail, nan and error fail at once, a trial that fails only on its first
# attempt ends done on its second, and the run still exits 0 (complete, with failures).
export ORCH_TEST_NAME=orchestrator_faults
# shellcheck source-path=SCRIPTDIR source=orchestrator_lib.sh
source "$(dirname "$0")/orchestrator_lib.sh"

retries=2
cat >"$tmp/faults.yaml" <<EOF
name: faults
kind: noop
noop: {duration_s: 0.2}
execution: {max_retries: $retries}
points:
  - {noop.fail: none}
  - {noop.fail: crash}
  - {noop.fail: abort}
  - {noop.fail: hang, execution.timeout_s: 2, execution.kill_grace_s: 1}  # SIGTERM ignored: SIGKILL 1 s later
  - {noop.fail: oom, execution.max_retries: 1}  # each oom attempt touches ~4 GiB: one retry only
  - {noop.fail: nan}
  - {noop.fail: error}
  - {noop.fail: crash, noop.fail_attempts: 1}
EOF
db=$tmp/faults.sqlite

echo "== mpirun -n 4: 8 trials, 7 of them failing at least once"
timeout -k 5 150 "${MPIRUN[@]}" -n 4 "$LOCSWEEP" run "$tmp/faults.yaml" --db "$db" --threads 1 >"$tmp/run.out" 2>&1 ||
  { rc=$?; cat "$tmp/run.out" >&2; fail "the sweep exited $rc (expected 0: complete with failures)"; }
grep -q "run 1 complete: 2 done, 6 failed, 0 left" "$tmp/run.out" || fail "summary: $(tail -3 "$tmp/run.out")"
[[ $(sql "$db" "SELECT status FROM runs") == complete ]] || fail "run not complete"

# Each trial's attempts as "status/outcome,..." in order, its final status and retries used.
trial_of() {  # FAIL [FAIL_ATTEMPTS]
  local where="json_extract(config_json, '\$.noop.fail') = '$1' AND json_extract(config_json, '\$.noop.fail_attempts') = ${2:--1}"
  sql "$db" "SELECT t.status || ' ' || t.retries_used || ' ' || group_concat(a.status || '/' || a.outcome, ',')
             FROM trials t JOIN (SELECT * FROM attempts ORDER BY number) a ON a.trial_hash = t.hash
             WHERE $where GROUP BY t.hash"
}
all_failed() {  # OUTCOME [RETRIES]: the trial failed after 1 + RETRIES attempts of OUTCOME
  local n=${2:-$retries}
  printf 'failed %s %s' "$n" "$(printf "failed/$1,%.0s" $(seq 0 "$n") | sed 's/,$//')"
}
check() {  # FAIL [FAIL_ATTEMPTS] EXPECTED
  local got
  got=$(trial_of "$1" ${3:+"$2"})
  [[ $got == "${3:-$2}" ]] || fail "noop.fail=$1${3:+ fail_attempts=$2}: got '$got', expected '${3:-$2}'"
  echo "ok: $1${3:+ (fail_attempts $2)}: $got"
}
check none "done 0 done/done"
check crash "$(all_failed crash)"
check abort "$(all_failed crash)"
check hang "$(all_failed timeout)"
check oom "$(all_failed oom 1)"
check nan "failed 0 failed/nan"
check error "failed 0 failed/error"
check crash 1 "done 1 failed/crash,done/done"

echo "== messages say what happened"
msg() { sql "$db" "SELECT group_concat(DISTINCT a.message) FROM attempts a JOIN trials t ON t.hash = a.trial_hash
                   WHERE json_extract(t.config_json, '\$.noop.fail') = '$1' AND a.status = 'failed'"; }
[[ $(msg crash) == *SIGSEGV* ]] || fail "crash message: $(msg crash)"
[[ $(msg abort) == *SIGABRT* ]] || fail "abort message: $(msg abort)"
[[ $(msg hang) == *"time limit of 2 s"* ]] || fail "hang message: $(msg hang)"
[[ $(msg oom) == *"out of memory"* ]] || fail "oom message: $(msg oom)"
[[ $(msg error) == *"configured to fail"* ]] || fail "error message: $(msg error)"
# Every attempt is closed, and the ranks kept working after failures: each of the 3 workers
# ran attempts, and every rank that saw a failure ran another attempt after it.
[[ $(sql "$db" "SELECT count(*) FROM attempts WHERE status = 'running' OR ended_at IS NULL") == 0 ]] ||
  fail "attempts left open"
[[ $(sql "$db" "SELECT count(*) FROM attempts") == 16 ]] || fail "expected 16 attempts, got $(sql "$db" "SELECT count(*) FROM attempts")"
[[ $(sql "$db" "SELECT count(DISTINCT worker_rank) FROM attempts") == 3 ]] || fail "not every worker rank ran attempts"
[[ $(sql "$db" "SELECT count(*) FROM attempts f WHERE f.status = 'failed' AND EXISTS (SELECT 1 FROM attempts n
                WHERE n.worker_rank = f.worker_rank AND n.id > f.id)") -ge 10 ]] ||
  fail "worker ranks did not go on after failures"
out=$("$LOCSWEEP" status --db "$db") || fail "status failed"
[[ $out == *"faults: 2/8 done, 0 running, 6 failed, 0 pending"* ]] || fail "status: $out"
out=$("$LOCSWEEP" plan "$tmp/faults.yaml" --db "$db") || fail "plan --db failed"
[[ $(head -1 <<<"$out") == "sweep faults: 8 trials: 2 done, 6 failed" ]] || fail "plan --db: $out"

echo "== running it again retries nothing: failed trials stay failed"
timeout -k 5 60 "${MPIRUN[@]}" -n 2 "$LOCSWEEP" run "$tmp/faults.yaml" --db "$db" --threads 1 >"$tmp/run2.out" 2>&1 ||
  { rc=$?; cat "$tmp/run2.out" >&2; fail "second run exited $rc"; }
[[ $(sql "$db" "SELECT count(*) FROM attempts") == 16 ]] || fail "the second run started attempts"

echo "== no launcher: the single process survives a crash and an error too"
cat >"$tmp/single.yaml" <<EOF
name: single-faults
kind: noop
execution: {max_retries: 1}
points:
  - {noop.fail: crash, noop.fail_attempts: 1}
  - {noop.fail: abort}
  - {noop.fail: error}
EOF
timeout -k 5 60 "$LOCSWEEP" run "$tmp/single.yaml" --db "$tmp/single.sqlite" --threads 1 >"$tmp/single.out" 2>&1 ||
  { rc=$?; cat "$tmp/single.out" >&2; fail "single-process run exited $rc"; }
[[ $(sql "$tmp/single.sqlite" "SELECT group_concat(outcome, ',') FROM (SELECT outcome FROM attempts ORDER BY id)" |
  tr ',' '\n' | sort | paste -sd,) == "crash,crash,crash,done,error" ]] ||
  fail "single-process attempts: $(sql "$tmp/single.sqlite" "SELECT trial_hash, number, outcome FROM attempts")"
echo "PASS"
