#!/usr/bin/env bash
# Trial identity by content through the real CLI: a sweep runs; the same sweep moved to another
# folder is the same trials (`plan --db`: done); its corpus edited, `plan --db` says which input
# changed and that its trials run again, and `run` trains them; a trial config planned before
# the edit fails as bad input when it starts, naming the changed input; a database recorded before
# identity by content (schema 2, no digests) is upgraded but its trials are not reused.
export ORCH_TEST_NAME=edited_inputs
# shellcheck source-path=SCRIPTDIR source=../integration/orchestrator_lib.sh
source "$(dirname "$0")/../integration/orchestrator_lib.sh"
export LOCSWEEP_DATA=$tmp/data  # the digest cache; the bytes tokenizer needs no data

corpus() { "$PY" -c "import sys; print((sys.argv[1] + ' ') * 300)" "$1" >"$2"; }
mkdir -p "$tmp/a" "$tmp/b"
cat >"$tmp/a/s.yaml" <<YAML
name: edited
model: {n_layer: 1, n_head: 1, n_embd: 8, block_size: 8}
data: {corpus: c.txt, tokenizer: bytes}
train: {steps: 2, batch_size: 2, warmup_steps: 1}
eval: {every: 0, windows: 2}
record: {attention_windows: 0}
grid:
  locality.schedule: [distributed, localist]
YAML
corpus "call me ishmael" "$tmp/a/c.txt"
cp "$tmp/a/s.yaml" "$tmp/a/c.txt" "$tmp/b/"
db=$tmp/r.sqlite

run() { timeout -k 5 200 "$LOCSWEEP" run "$1" --db "$db" --threads 1 >"$tmp/run.out" 2>&1 ||
  { cat "$tmp/run.out" >&2; fail "run $1 exited $?"; }; }
run "$tmp/a/s.yaml"
[[ $(sql "$db" "SELECT count(*) FROM trials WHERE status = 'done'") == 2 ]] || fail "not 2 trials done"
[[ $(sql "$db" "SELECT json_extract(config_json, '\$.inputs.corpus') FROM trials LIMIT 1") == sha256:* ]] ||
  fail "the DB does not store the trials' inputs: $(sql "$db" "SELECT config_json FROM trials LIMIT 1")"

echo "== the same sweep in another folder is the same trials"
"$LOCSWEEP" plan "$tmp/b/s.yaml" --db "$db" >"$tmp/moved.out" 2>"$tmp/moved.err"
grep -qF "sweep edited: 2 trials: 2 done" "$tmp/moved.out" || fail "moved: $(cat "$tmp/moved.out" "$tmp/moved.err")"
[[ ! -s $tmp/moved.err ]] || fail "moved: unexpected report: $(cat "$tmp/moved.err")"

# Trials planned but not started when the corpus is edited (a run stopped before them): made
# here by setting the done trials pending again and removing their folders.
for dir in $(sql "$db" "SELECT out_dir FROM trials"); do rm -rf -- "$dir"; done
sql "$db" "UPDATE trials SET status = 'pending'" >/dev/null

echo "== the corpus edited: plan --db names the change"
old=$("$PY" -c "import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], 'rb').read().rstrip(b'\r\n')).hexdigest()[:8])" "$tmp/a/c.txt")
corpus "loomings" "$tmp/a/c.txt"
new=$("$PY" -c "import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], 'rb').read().rstrip(b'\r\n')).hexdigest()[:8])" "$tmp/a/c.txt")
"$LOCSWEEP" plan "$tmp/a/s.yaml" --db "$db" >"$tmp/edited.out" 2>"$tmp/edited.err"
grep -qF "data.corpus 'c.txt' changed since the DB's trials (sha256 $old… → sha256 $new…): 2 trials will run again" \
  "$tmp/edited.err" || fail "edited: $(cat "$tmp/edited.err")"
grep -qF "sweep edited: 2 trials: 2 new" "$tmp/edited.out" || fail "edited: $(cat "$tmp/edited.out")"
echo "ok: $(cat "$tmp/edited.err")"

echo "== run again: the trials planned before the edit refuse the edited text, the new ones train"
# (its exit status is not checked: a run that ends with failed trials has finished its work)
timeout -k 5 300 "$LOCSWEEP" run "$tmp/a/s.yaml" --db "$db" --threads 1 --allow-spec-change >"$tmp/run2.out" 2>&1 || true
stale=$(sql "$db" "SELECT count(*) FROM trials WHERE status = 'failed' AND message LIKE
  '%data.corpus ''c.txt'' changed since the sweep was planned%'")
[[ $stale == 2 ]] || { cat "$tmp/run2.out" >&2; fail "stale trials: $(sql "$db" "SELECT label, status, outcome, message FROM trials")"; }
[[ $(sql "$db" "SELECT count(*) FROM trials WHERE status = 'done'") == 2 ]] ||
  fail "the edited text's trials did not train: $(sql "$db" "SELECT label, status, message FROM trials")"
[[ $(sql "$db" "SELECT count(*) FROM attempts a JOIN trials t ON t.hash = a.trial_hash WHERE t.status = 'failed' AND a.status = 'failed'") == 2 ]] ||
  fail "a bad-input failure was retried"
echo "ok: $(sql "$db" "SELECT message FROM trials WHERE status = 'failed' LIMIT 1")"

echo "== a database from before identity by content: upgraded, its trials not reused"
old_db=$tmp/old.sqlite
sql "$db" ".backup '$old_db'"
# As such a locsweep wrote it: hashes of the paths (here: any other hashes), no digests.
sql "$old_db" "PRAGMA foreign_keys = OFF;
  UPDATE trials SET hash = 'path' || substr(hash, 5),
    config_json = json_remove(config_json, '\$.inputs');
  UPDATE sweep_trials SET trial_hash = 'path' || substr(trial_hash, 5);
  UPDATE attempts SET trial_hash = 'path' || substr(trial_hash, 5);
  UPDATE meta SET value = '2' WHERE key = 'schema_version'" >/dev/null
"$LOCSWEEP" plan "$tmp/a/s.yaml" --db "$old_db" >"$tmp/old.out" 2>"$tmp/old.err"
grep -qF "4 of the DB's trials of sweep 'edited' were identified by path" "$tmp/old.err" ||
  fail "old plan: $(cat "$tmp/old.out" "$tmp/old.err")"
rc=0
timeout -k 5 60 "$LOCSWEEP" run "$tmp/a/s.yaml" --db "$old_db" --threads 1 >"$tmp/old_run.out" 2>&1 || rc=$?
[[ $rc == 2 ]] || { cat "$tmp/old_run.out" >&2; fail "run on the old DB exited $rc, expected 2"; }
grep -qF "trials identified by path" "$tmp/old_run.out" || fail "old run: $(cat "$tmp/old_run.out")"
echo "ok: $(grep -F 'identified by path' "$tmp/old_run.out" | head -1)"
echo "PASS"
