#!/usr/bin/env bash
# Growing a sweep in place: after a run, the spec gets more grid values under the same name;
# `plan --db` marks exactly the added trials as new, and running it again runs only those
# (the old trials' attempts untouched). A spec that drops recorded trials under the same
# name is refused (exit 2, a message saying how to proceed) and leaves the database exactly
# as it was; --allow-spec-change accepts it without re-running anything.
export ORCH_TEST_NAME=orchestrator_extend
# shellcheck source-path=SCRIPTDIR source=orchestrator_lib.sh
source "$(dirname "$0")/orchestrator_lib.sh"

spec() {  # DURATIONS
  cat <<EOF
name: ext
kind: noop
grid:
  noop.duration_s: [$1]
seeds: [0, 1]
EOF
}
db=$tmp/ext.sqlite
run() {  # SPEC [FLAGS...]: a run without launcher, each trial in its own process
  local yaml=$1
  shift
  timeout -k 5 60 "$LOCSWEEP" run "$yaml" --db "$db" --threads 1 "$@" >"$tmp/run.out" 2>&1
}
# "hash status" per trial of SPEC, from plan --db --json.
plan_states() {
  "$LOCSWEEP" plan "$1" --db "$db" --json |
    "$PY" -c 'import json,sys; [print(t["hash"], t["status"], t["assignment"]["noop.duration_s"]) for t in json.load(sys.stdin)["trials"]]'
}

echo "== run the sweep: 2 durations x 2 seeds"
spec "0.05, 0.1" >"$tmp/v1.yaml"
run "$tmp/v1.yaml" || { cat "$tmp/run.out" >&2; fail "first run failed"; }
[[ $(sql "$db" "SELECT count(*) FROM trials WHERE status = 'done' AND attempts = 1") == 4 ]] || fail "first run incomplete"
old_attempts=$(sql "$db" "SELECT group_concat(trial_hash || ':' || id || ':' || number || ':' || status, ',') FROM
                          (SELECT * FROM attempts ORDER BY id)")

echo "== extend the grid: plan --db shows exactly the 2 new trials as new"
spec "0.05, 0.1, 0.15" >"$tmp/v2.yaml"
plan_states "$tmp/v2.yaml" >"$tmp/plan.txt" || fail "plan --db failed"
[[ $(awk '$2 == "new"' "$tmp/plan.txt" | wc -l) == 2 && $(awk '$2 == "new" && $3 == 0.15' "$tmp/plan.txt" | wc -l) == 2 ]] ||
  fail "plan --db new trials: $(cat "$tmp/plan.txt")"
[[ $(awk '$2 == "done" && $3 != 0.15' "$tmp/plan.txt" | wc -l) == 4 ]] || fail "plan --db done trials: $(cat "$tmp/plan.txt")"
summary=$("$LOCSWEEP" plan "$tmp/v2.yaml" --db "$db" | head -1)
[[ $summary == "sweep ext: 6 trials: 4 done, 2 new" ]] || fail "plan --db summary: $summary"
# plan only reads: the database is unchanged by it.
[[ $(sql "$db" "SELECT count(*) FROM trials") == 4 ]] || fail "plan --db wrote to the database"

echo "== run the extended sweep: only the new trials run"
run "$tmp/v2.yaml" || { cat "$tmp/run.out" >&2; fail "extended run failed"; }
grep -q "6 trials (2 new)" "$tmp/run.out" || fail "the run did not report 2 new trials: $(head -2 "$tmp/run.out")"
[[ $(sql "$db" "SELECT group_concat(trial_hash || ':' || id || ':' || number || ':' || status, ',') FROM
                (SELECT * FROM attempts WHERE id <= 4 ORDER BY id)") == "$old_attempts" ]] || fail "old attempts changed"
[[ $(sql "$db" "SELECT count(*) FROM attempts") == 6 ]] || fail "expected 6 attempts in all"
new_hashes=$(awk '$2 == "new" {print $1}' "$tmp/plan.txt" | sort | paste -sd,)
[[ $(sql "$db" "SELECT group_concat(trial_hash, ',') FROM (SELECT trial_hash FROM attempts WHERE run_id = 2 ORDER BY trial_hash)") == \
  "$new_hashes" ]] || fail "run 2 ran other trials than the new ones"
[[ $(sql "$db" "SELECT count(*) FROM sweep_results WHERE sweep = 'ext' AND status = 'done' AND attempts = 1") == 6 ]] ||
  fail "not all 6 trials done once"
[[ $(plan_states "$tmp/v2.yaml" | awk '$2 == "done"' | wc -l) == 6 ]] || fail "plan --db does not show 6 done"

echo "== a spec that drops trials under the same name: refused, database untouched"
spec "0.05, 0.15" >"$tmp/v3.yaml"
dump_before=$(sql "$db" .dump | sha256sum)
files_before=$(cd "$tmp" && sha256sum ext.sqlite* | sort)
rc=0
"$LOCSWEEP" run "$tmp/v3.yaml" --db "$db" --threads 1 >"$tmp/refused.out" 2>&1 || rc=$?
[[ $rc == 2 ]] || { cat "$tmp/refused.out" >&2; fail "a spec dropping trials exited $rc, expected 2"; }
msg=$(cat "$tmp/refused.out")
for part in "sweep 'ext' is already in '$db' with a different spec" "2 of its 6 recorded trials" \
  "--allow-spec-change" "Nothing was changed"; do
  [[ $msg == *"$part"* ]] || fail "the refusal does not say '$part': $msg"
done
[[ $(sql "$db" .dump | sha256sum) == "$dump_before" ]] || fail "the refused run changed the database contents"
[[ $(cd "$tmp" && sha256sum ext.sqlite* | sort) == "$files_before" ]] || fail "the refused run changed the database files"
# plan --db of the narrower spec still works (it only reads) and shows its 4 trials as done.
[[ $(plan_states "$tmp/v3.yaml" | awk '$2 == "done"' | wc -l) == 4 ]] || fail "plan --db of the narrower spec"

echo "== --allow-spec-change accepts it, runs nothing, keeps the results"
run "$tmp/v3.yaml" --allow-spec-change || { cat "$tmp/run.out" >&2; fail "--allow-spec-change run failed"; }
[[ $(sql "$db" "SELECT count(*) FROM attempts") == 6 ]] || fail "--allow-spec-change re-ran trials"
[[ $(sql "$db" "SELECT count(*) FROM trials WHERE status = 'done' AND val_loss IS NULL AND attempts = 1") == 6 ]] ||
  fail "results were lost"
[[ $(sql "$db" "SELECT spec_yaml FROM sweeps WHERE name = 'ext'") == "$(cat "$tmp/v3.yaml")" ]] ||
  fail "the new spec was not recorded"
[[ $(sql "$db" "SELECT group_concat(status, ',') FROM (SELECT status FROM runs ORDER BY id)") == "complete,complete,complete" ]] ||
  fail "runs: $(sql "$db" "SELECT id, status FROM runs")"
echo "PASS"
