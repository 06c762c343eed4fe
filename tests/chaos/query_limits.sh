#!/usr/bin/env bash
# Queries that must stop, and the results of a noop sweep:
#  - `results --sql` with a recursive CTE that never ends stops at --sql-timeout (exit 2, a
#    message naming the limit) instead of running forever; one that returns too many rows
#    stops at --max-rows; a writing statement is refused. The DB is byte for byte unchanged
#    and no process is left.
#  - `results` (table and JSON) and `report` on a sweep of noop trials exit 0 and say that
#    its done trials measure no perplexity (they used to exit 1 with a JSON type error).
export ORCH_TEST_NAME=query_limits
# shellcheck source-path=SCRIPTDIR source=../integration/orchestrator_lib.sh
source "$(dirname "$0")/../integration/orchestrator_lib.sh"

db=$tmp/r.sqlite
printf 'name: n\nkind: noop\ngrid: {noop.duration_s: [0, 0.01]}\nseeds: [0, 1]\n' >"$tmp/noop.yaml"
"$LOCSWEEP" run "$tmp/noop.yaml" --db "$db" --inline-noop >"$tmp/run.out" 2>&1 ||
  { cat "$tmp/run.out" >&2; fail "the noop sweep did not run"; }
[[ $(sql "$db" "SELECT count(*) FROM trials WHERE status = 'done'") == 4 ]] || fail "noop sweep not done"
before=$(sha256sum <"$db")

no_leftovers() { [[ -z $(pids_under_tmp) ]]; }
unchanged() {
  [[ $(sha256sum <"$db") == "$before" ]] || fail "$1: the DB was changed"
  [[ $(sql "$db" "SELECT count(*) FROM runs WHERE status = 'running'") == 0 ]] || fail "$1: a run is running"
  wait_for 10 no_leftovers || fail "$1: processes left: $(pids_under_tmp)"
}

# query NAME EXPECTED_RC PHRASE ARGS...: `results --db DB ARGS` exits EXPECTED_RC saying PHRASE.
query() {
  local name=$1 want=$2 phrase=$3 rc=0
  shift 3
  timeout -k 5 60 "$LOCSWEEP" results --db "$db" "$@" >"$tmp/out" 2>&1 || rc=$?
  [[ $rc == "$want" ]] || { cat "$tmp/out" >&2; fail "$name: exited $rc, expected $want"; }
  grep -qF -- "$phrase" "$tmp/out" || fail "$name: the output does not say '$phrase': $(head -c 600 "$tmp/out")"
  unchanged "$name"
  echo "ok: $name: $(head -c 300 "$tmp/out" | tr '\n' ' ')"
}

endless="WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"
started=$SECONDS
query "endless CTE, --sql-timeout 2" 2 "ran longer than --sql-timeout 2 s" --sql "$endless" --sql-timeout 2
((SECONDS - started <= 20)) || fail "the endless query took $((SECONDS - started)) s to stop at a 2 s limit"
rows="WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c"
query "endless rows, --max-rows 50" 2 "returns more than --max-rows 50 rows" --sql "$rows" --max-rows 50
query "bounded CTE within the limits" 0 "(1 row)" \
  --sql "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000) SELECT count(*) FROM c"
query "write refused" 2 "only reading queries are allowed" --sql "DELETE FROM trials"
query "attach refused" 2 "--sql refused" --sql "ATTACH DATABASE '$tmp/x.sqlite' AS x"
[[ ! -e $tmp/x.sqlite ]] || fail "ATTACH created a file"

query "noop table" 0 "4 done trials without a validation perplexity"
query "noop JSON" 0 '"unmeasured": 4' --format json
query "noop --where on a noop key" 0 "sweep n: 2 trials, 2 done" --where noop.duration_s=0.01
query "noop --where mechanism" 2 "no trial of sweep 'n' has a value for 'mechanism'" --where mechanism=block

rc=0
timeout -k 5 120 "$LOCSWEEP" report --db "$db" --out "$tmp/report" >"$tmp/out" 2>&1 || rc=$?
[[ $rc == 0 ]] || { cat "$tmp/out" >&2; fail "report on the noop sweep exited $rc"; }
grep -qF "4 done trials without a validation perplexity" "$tmp/report/index.html" || fail "the report has no note"
unchanged "report"
echo "ok: report on the noop sweep"
echo "PASS"
