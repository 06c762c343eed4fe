#!/usr/bin/env bash
# The coordinator's host out of reach: `locsweep status` on a login node cannot read the
# database's WAL, so it reads the status snapshot the coordinator keeps beside the database
# (<db>.status.json). Checked: a real run writes it (running trial with rank, host, attempt)
# and a final one at its end (complete, the counts of the database); `status` on a copy of
# the snapshot whose coordinator host is another machine (with and without the database
# beside it) prints the snapshot's counts and says where they are from and how old they are;
# an old snapshot of a live run is labelled STALE (text and JSON); on the run's own host
# `status` reads the database; `cancel` says where its jobs came from.
export ORCH_TEST_NAME=status_snapshot
# shellcheck source-path=SCRIPTDIR source=../integration/orchestrator_lib.sh
source "$(dirname "$0")/../integration/orchestrator_lib.sh"

db=$tmp/r.sqlite
snap=$db.status.json
printf 'name: snap\nkind: noop\ngrid: {noop.duration_s: [2]}\nseeds: [0, 1, 2]\n' >"$tmp/noop.yaml"
timeout -k 5 120 "$LOCSWEEP" run "$tmp/noop.yaml" --db "$db" --threads 1 >"$tmp/run.out" 2>&1 &
run_pid=$!

# field EXPR [FILE]: a Python expression over the snapshot `s`.
field() { "$PY" -c 'import json,sys; s=json.load(open(sys.argv[2])); print(eval(sys.argv[1]))' "$1" "${2:-$snap}"; }
running_snapshot() { [[ -f $snap ]] && [[ $(field 's["run_status"] + str(len(s["running"]))') == running1 ]]; }
wait_for 60 running_snapshot || { cat "$tmp/run.out" >&2; fail "no snapshot of a running trial"; }
[[ $(field 's["coordinator"]["host"] == s["running"][0]["host"] and s["running"][0]["rank"] == 1 and s["running"][0]["attempt"] == 1') == True ]] ||
  fail "running trial fields: $(cat "$snap")"
echo "ok: the run writes $snap: $(field 's["counts"]')"

# On the run's host: the database.
out=$("$LOCSWEEP" status --db "$db" --json)
[[ $(field 's[0]["source"]' <(echo "$out")) == database ]] || fail "same host should read the database: $out"

# A login node: the snapshot copied without the database, its coordinator elsewhere.
mkdir "$tmp/login" "$tmp/login2"
"$PY" - "$snap" "$tmp/login/r.sqlite.status.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
s["coordinator"]["host"] = "compute-elsewhere"
json.dump(s, open(sys.argv[2], "w"))
PY
cp "$tmp/login/r.sqlite.status.json" "$tmp/login2/r.sqlite.status.json"
sqlite3 "$db" ".backup $tmp/login2/r.sqlite"
for where in login login2; do
  out=$("$LOCSWEEP" status --db "$tmp/$where/r.sqlite") || fail "$where: status exited $?: $out"
  [[ $out == *"snap: "*" running"*"last run running on compute-elsewhere"* ]] || fail "$where: counts line: $out"
  [[ $out == *"from the status snapshot $tmp/$where/r.sqlite.status.json (run 1 on compute-elsewhere"*"s ago)"* ]] ||
    fail "$where: where from: $out"
  [[ $out != *STALE* ]] || fail "$where: a fresh snapshot is not stale: $out"
  [[ $out == *"running: noop seed="*"(rank 1 on "* ]] || fail "$where: running trial: $out"
done
echo "ok: status from another host reads the snapshot (with and without the database)"

# Stale: written 10 minutes ago.
"$PY" - "$tmp/login/r.sqlite.status.json" <<'PY'
import json, sys, time
s = json.load(open(sys.argv[1]))
s["updated_unix"] = time.time() - 600
json.dump(s, open(sys.argv[1], "w"))
PY
out=$("$LOCSWEEP" status --db "$tmp/login/r.sqlite")
[[ $out == *"STALE: from the status snapshot"*"60"?" s ago"*"stopped updating it"* ]] || fail "stale label: $out"
json=$("$LOCSWEEP" status --db "$tmp/login/r.sqlite" --json)
[[ $(field 's[0]["source"], s[0]["snapshot"]["stale"], s[0]["snapshot"]["age_s"] > 590' <(echo "$json")) == "('snapshot', True, True)" ]] ||
  fail "stale JSON: $json"
echo "ok: a stale snapshot is labelled STALE"

rc=0
"$LOCSWEEP" cancel --db "$tmp/login/r.sqlite" >"$tmp/cancel.out" 2>&1 || rc=$?
[[ $rc == 1 ]] && grep -q "jobs are from the status snapshot" "$tmp/cancel.out" &&
  grep -q "no Slurm job is recorded" "$tmp/cancel.out" || fail "cancel (exit $rc): $(cat "$tmp/cancel.out")"

rc=0
wait "$run_pid" || rc=$?
[[ $rc == 0 ]] || { cat "$tmp/run.out" >&2; fail "the run exited $rc"; }
[[ $(field 's["run_status"], s["counts"]["done"], len(s["running"])') == "('complete', 3, 0)" ]] ||
  fail "final snapshot: $(cat "$snap")"
[[ $(sql "$db" "SELECT count(*) FROM trials WHERE status = 'done'") == 3 ]] || fail "trials not done"
out=$("$LOCSWEEP" status --db "$tmp/login2/r.sqlite" --source snapshot)
[[ $out == *"snap: "* ]] || fail "--source snapshot: $out"
echo "ok: the final snapshot says complete with the database's counts"
