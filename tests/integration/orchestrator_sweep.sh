#!/usr/bin/env bash
# A small real GPT-2 sweep end to end: mpirun -n 4 (a coordinator and 3 worker ranks, each
# trial in its own child process) completes, and the results database says so in every
# table (checked with the sqlite3 shell and, independently, Python's sqlite3 module):
# every trial done exactly once, one row per step, L*H head rows, artifacts whose files
# exist with the recorded sha256, complete manifests and run rows. `status` and `plan --db`
# agree. The same sweep without a launcher (one process) works too, and running the
# finished sweep again starts no attempt.
export ORCH_TEST_NAME=orchestrator_sweep
# shellcheck source-path=SCRIPTDIR source=orchestrator_lib.sh
source "$(dirname "$0")/orchestrator_lib.sh"
require_moby_dick

steps=30
n_layer=2
n_head=2
write_gpt2_sweep "$tmp/sweep.yaml" t1 "$steps" 10 "distributed, localist, quintic" "0, 1"
trials=6

run_mpi() {
  timeout -k 5 150 "${MPIRUN[@]}" -n 4 "$LOCSWEEP" run "$tmp/sweep.yaml" --db "$tmp/r.sqlite" --threads 1 \
    >"$tmp/run$1.out" 2>&1 || { rc=$?; cat "$tmp/run$1.out" >&2; fail "mpirun -n 4 run exited $rc"; }
}

# Checks every table of DB for a finished sweep of $trials trials run by RANKS ranks.
check_db() {
  local db=$1 ranks=$2
  echo "-- sqlite3 shell: $db"
  [[ $(sql "$db" "SELECT count(*) FROM sweep_results WHERE sweep = 't1'") == "$trials" ]] ||
    fail "expected $trials trials in sweep_results"
  [[ $(sql "$db" "SELECT count(*) FROM sweep_results WHERE status = 'done' AND attempts = 1
                  AND val_loss IS NOT NULL AND steps_done = $steps") == "$trials" ]] ||
    fail "not every trial is done once: $(sql "$db" "SELECT label, status, attempts FROM sweep_results")"
  [[ $(sql "$db" "SELECT count(*) FROM attempts") == "$trials" ]] || fail "more attempts than trials"
  [[ $(sql "$db" "SELECT count(*) FROM trials t WHERE (SELECT count(*) FROM attempts a
                  WHERE a.trial_hash = t.hash AND a.status = 'done' AND a.outcome = 'done'
                  AND a.ended_at IS NOT NULL) = 1") == "$trials" ]] || fail "a trial lacks exactly one done attempt"
  # One training row per step 1..steps (no duplicates, no gaps), from the trial's one attempt.
  [[ $(sql "$db" "SELECT count(*) FROM (SELECT trial_hash FROM step_metrics WHERE split = 'train'
                  GROUP BY trial_hash HAVING count(*) = $steps AND count(DISTINCT step) = $steps
                  AND min(step) = 1 AND max(step) = $steps)") == "$trials" ]] ||
    fail "step_metrics rows per trial are not exactly steps 1..$steps"
  [[ $(sql "$db" "SELECT count(*) FROM step_metrics s JOIN attempts a ON a.id = s.attempt_id
                  AND a.trial_hash = s.trial_hash") == "$(sql "$db" "SELECT count(*) FROM step_metrics")" ]] ||
    fail "step_metrics rows point at attempts of other trials"
  [[ $(sql "$db" "SELECT count(*) FROM (SELECT trial_hash FROM step_metrics WHERE split = 'val'
                  GROUP BY trial_hash HAVING count(*) >= 2)") == "$trials" ]] || fail "periodic evals missing"
  [[ $(sql "$db" "SELECT count(*) FROM (SELECT trial_hash FROM head_metrics GROUP BY trial_hash
                  HAVING count(*) = $((n_layer * n_head)))") == "$trials" ]] || fail "head_metrics is not L*H per trial"
  [[ $(sql "$db" "SELECT count(*) FROM head_metrics WHERE entropy_bits IS NULL OR in_block_mass IS NULL") == 0 ]] ||
    fail "head_metrics has empty values"
  # Artifacts: a checkpoint and an attention file per trial, files present, sha256 as recorded.
  [[ $(sql "$db" "SELECT count(DISTINCT trial_hash) FROM artifacts WHERE kind = 'checkpoint'") == "$trials" ]] ||
    fail "a checkpoint artifact is missing"
  [[ $(sql "$db" "SELECT count(DISTINCT trial_hash) FROM artifacts WHERE kind = 'attention'") == "$trials" ]] ||
    fail "an attention artifact is missing"
  local path bytes sha
  while IFS='|' read -r path bytes sha; do
    [[ -f $path ]] || fail "artifact $path does not exist"
    [[ $(stat -c %s "$path") == "$bytes" ]] || fail "artifact $path: size differs from the record"
    [[ $(sha256sum "$path" | cut -d' ' -f1) == "$sha" ]] || fail "artifact $path: sha256 differs from the record"
  done < <(sql "$db" "SELECT path, bytes, sha256 FROM artifacts")
  # The run: complete, with its host, pid, ranks and command.
  [[ $(sql "$db" "SELECT count(*) FROM runs") == 1 ]] || fail "expected one run"
  [[ $(sql "$db" "SELECT status || ' ' || ranks FROM runs") == "complete $ranks" ]] ||
    fail "run row: $(sql "$db" "SELECT * FROM runs")"
  [[ $(sql "$db" "SELECT count(*) FROM runs WHERE host = '$(hostname)' AND pid > 0 AND ended_at IS NOT NULL
                  AND ended_at >= started_at AND command LIKE '% run %sweep.yaml%'") == 1 ]] ||
    fail "run row incomplete: $(sql "$db" "SELECT * FROM runs")"

  echo "-- Python sqlite3: $db"
  "$PY" - "$db" "$trials" "$steps" "$((n_layer * n_head))" "$ranks" "$(hostname)" <<'EOF' || fail "Python checks failed"
import hashlib, json, os, sqlite3, sys
db, trials, steps, heads, ranks, host = sys.argv[1], *map(int, sys.argv[2:6]), sys.argv[6]
con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
q = lambda sql, *a: con.execute(sql, a).fetchall()
rows = q("SELECT hash, status, attempts, val_loss, val_ppl, seed FROM trials")
assert len(rows) == trials, rows
for h, status, attempts, val_loss, val_ppl, seed in rows:
    assert status == "done" and attempts == 1, (h, status, attempts)
    assert abs(val_ppl - __import__("math").exp(val_loss)) < 1e-9 * val_ppl, (val_loss, val_ppl)
    att = q("SELECT status, outcome, number, manifest_json, run_id FROM attempts WHERE trial_hash = ?", h)
    assert [(a[0], a[1], a[2]) for a in att] == [("done", "done", 1)], att
    m = json.loads(att[0][3])
    for key in ("git_revision", "host", "device", "seed", "worker_versions", "locsweep_version", "run_id"):
        assert key in m and m[key] not in ("", None), (key, m)
    assert m["seed"] == seed and m["host"] == host and m["trial_hash"] == h, m
    for lib in ("torch", "hdf5", "blas"):
        assert m["worker_versions"].get(lib), m["worker_versions"]
    steps_rows = q("SELECT step FROM step_metrics WHERE trial_hash = ? AND split = 'train' ORDER BY step", h)
    assert [s for (s,) in steps_rows] == list(range(1, steps + 1)), steps_rows
    assert q("SELECT count(*) FROM head_metrics WHERE trial_hash = ?", h)[0][0] == heads
    for path, size, sha in q("SELECT path, bytes, sha256 FROM artifacts WHERE trial_hash = ?", h):
        data = open(path, "rb").read()
        assert len(data) == size and hashlib.sha256(data).hexdigest() == sha, path
(status, r, ended) = q("SELECT status, ranks, ended_at FROM runs")[0]
assert status == "complete" and r == ranks and ended, (status, r, ended)
EOF
}

echo "== mpirun -n 4: 3 worker ranks"
run_mpi 1
grep -q "run 1 complete: $trials done, 0 failed, 0 left" "$tmp/run1.out" || fail "no completion line: $(tail -3 "$tmp/run1.out")"
check_db "$tmp/r.sqlite" 4
[[ $(sql "$tmp/r.sqlite" "SELECT count(DISTINCT worker_rank) FROM attempts") -ge 2 ]] ||
  fail "the trials did not spread over the worker ranks"
[[ $(sql "$tmp/r.sqlite" "SELECT count(*) FROM attempts WHERE worker_rank NOT BETWEEN 1 AND 3") == 0 ]] ||
  fail "an attempt ran on a rank that is not a worker"

echo "== status and plan --db say all done"
out=$("$LOCSWEEP" status --db "$tmp/r.sqlite") || fail "status failed"
[[ $out == *"t1: $trials/$trials done, 0 running, 0 failed, 0 pending; last run complete"* ]] || fail "status: $out"
out=$("$LOCSWEEP" status --db "$tmp/r.sqlite" --json) || fail "status --json failed"
"$PY" -c 'import json,sys; s=json.loads(sys.argv[1]); assert s==[{"sweep":"t1","done":6,"running":0,"failed":0,"pending":0,"stopped":0,"last_run_status":"complete","slurm_jobs":[],"running_trials":[],"source":"database"}], s' "$out" ||
  fail "status --json: $out"
out=$("$LOCSWEEP" plan "$tmp/sweep.yaml" --db "$tmp/r.sqlite") || fail "plan --db failed"
[[ $(head -1 <<<"$out") == "sweep t1: $trials trials: $trials done" ]] || fail "plan --db: $out"
[[ $(grep -c '  done  ' <<<"$out") == "$trials" ]] || fail "plan --db rows: $out"

echo "== the finished sweep again: nothing new runs"
before=$(sql "$tmp/r.sqlite" "SELECT count(*) || ' ' || max(id) FROM attempts")
steps_before=$(sql "$tmp/r.sqlite" "SELECT count(*), sum(loss) FROM step_metrics")
run_mpi 2
grep -q "run 2 complete: $trials done, 0 failed, 0 left" "$tmp/run2.out" || fail "second run: $(tail -3 "$tmp/run2.out")"
[[ $(sql "$tmp/r.sqlite" "SELECT count(*) || ' ' || max(id) FROM attempts") == "$before" ]] ||
  fail "the second run started attempts"
[[ $(sql "$tmp/r.sqlite" "SELECT count(*), sum(loss) FROM step_metrics") == "$steps_before" ]] ||
  fail "the second run changed step_metrics"
[[ $(sql "$tmp/r.sqlite" "SELECT group_concat(status, ',') FROM (SELECT status FROM runs ORDER BY id)") == \
  "complete,complete" ]] || fail "runs: $(sql "$tmp/r.sqlite" "SELECT * FROM runs")"

echo "== no launcher: one process runs the trials itself (each in a child)"
timeout -k 5 150 "$LOCSWEEP" run "$tmp/sweep.yaml" --db "$tmp/single.sqlite" --threads 1 >"$tmp/single.out" 2>&1 ||
  { rc=$?; cat "$tmp/single.out" >&2; fail "single-process run exited $rc"; }
check_db "$tmp/single.sqlite" 1
# Same trials, same seeds, same threads: the same numbers as under MPI.
[[ $(sql "$tmp/single.sqlite" "SELECT group_concat(hash || ':' || val_loss, ',') FROM (SELECT hash, val_loss FROM trials ORDER BY hash)") == \
  "$(sql "$tmp/r.sqlite" "SELECT group_concat(hash || ':' || val_loss, ',') FROM (SELECT hash, val_loss FROM trials ORDER BY hash)")" ]] ||
  fail "the single-process results differ from the MPI ones"
echo "PASS"
