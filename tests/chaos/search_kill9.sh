#!/usr/bin/env bash
# A search survives kill -9 (issue 16): real processes (`locsweep run`, noop trials whose
# synthetic loss is 3 + 0.05 (beta - 7.3)^2). A brent search for beta* = 7.3 in [1, 20] ends
# with its best point within 0.1 of 7.3 in at most 20 trials. The same search killed -9 in
# the middle (the run and its trial children) and rerun to the end: every trial done before
# the kill has exactly one attempt, the best point is the uninterrupted run's, and a third
# run starts nothing. Then a lipo search with parallel 2 under mpirun -n 3 (two workers):
# two points in flight at once, every trial done once.
export ORCH_TEST_NAME=chaos_search_kill9
# shellcheck source-path=SCRIPTDIR source=orphans_lib.sh
source "$(dirname "$0")/orphans_lib.sh"

write_sweep() {  # FILE SEARCH_EXTRA [DURATION]
  cat >"$1" <<YAML
name: search
kind: noop
locality: {schedule: quintic}
noop:
  duration_s: ${3:-0.2}
  loss: {key: locality.schedule.beta, center: 7.3, curvature: 0.05, floor: 3}
search:
  key: locality.schedule.beta
  interval: [1, 20]
  objective: val_loss
  $2
YAML
}

# The searched point of each of the sweep's trials, and its loss.
POINTS="SELECT json_extract(st.assignment_json, '\$.search.\"locality.schedule.beta\"') AS x,
               t.val_loss AS loss, t.hash AS hash, t.status AS status
        FROM sweep_trials st JOIN trials t ON t.hash = st.trial_hash"
best_of() { sql "$1" "SELECT x FROM ($POINTS) WHERE status = 'done' ORDER BY loss, x LIMIT 1"; }
trials_of() { sql "$1" "SELECT count(*) FROM ($POINTS)"; }
done_of() { sql "$1" "SELECT count(*) FROM ($POINTS) WHERE status = 'done'"; }

run_to_end() {  # NAME LOCSWEEP-ARGS...: a run that must complete
  local name=$1 rc
  shift
  timeout -k 5 240 "$LOCSWEEP" run "$@" --threads 1 >"$tmp/$name.out" 2>&1 ||
    { rc=$?; cat "$tmp/$name.out" >&2; fail "run $name exited $rc"; }
}

check_search() {  # DB: finished, <= 20 trials, every trial done, best within 0.1 of 7.3
  local db=$1 n best
  n=$(trials_of "$db")
  ((n >= 3 && n <= 20)) || fail "the search ran $n trials (want 3 to 20)"
  [[ $(done_of "$db") == "$n" ]] || fail "not every trial is done: $(sql "$db" "SELECT x, status FROM ($POINTS)")"
  best=$(best_of "$db")
  awk -v b="$best" 'BEGIN { exit !(b - 7.3 < 0.1 && 7.3 - b < 0.1) }' ||
    fail "best point $best is not within 0.1 of 7.3: $(sql "$db" "SELECT x, loss FROM ($POINTS)")"
  no_running_rows "$db"
}

brent="method: brent
  budget: 20
  tolerance: 0.01"

echo "== an uninterrupted brent search"
write_sweep "$tmp/a.yaml" "$brent"
run_to_end a "$tmp/a.yaml" --db "$tmp/a.sqlite"
check_search "$tmp/a.sqlite"
reference_best=$(best_of "$tmp/a.sqlite")
echo "ok: $(trials_of "$tmp/a.sqlite") trials, best beta $reference_best"

echo "== the same search, kill -9 of the run and its trial children in the middle"
db=$tmp/b.sqlite
"$LOCSWEEP" run "$tmp/a.yaml" --db "$db" --threads 1 >"$tmp/b1.out" 2>&1 &
coord=$!
some_done() { [[ $(done_of "$db" 2>/dev/null || echo 0) -ge 4 ]]; }
wait_for 120 some_done || { cat "$tmp/b1.out" >&2; fail "the search never got 4 trials done"; }
kill -9 "$coord"
for p in $(pids_under_tmp); do kill -9 "$p" 2>/dev/null || true; done
wait "$coord" 2>/dev/null || true
wait_for 15 no_process_left || fail "processes left after the kill"
done_before=$(sql "$db" "SELECT hash FROM trials WHERE status = 'done'")
n_before=$(wc -w <<<"$done_before")
(( $(trials_of "$db") < $(trials_of "$tmp/a.sqlite") )) ||
  fail "the kill came after the search had asked every point"
echo "killed with $n_before trials done"
run_to_end b2 "$tmp/a.yaml" --db "$db"
check_search "$db"
for hash in $done_before; do
  [[ $(sql "$db" "SELECT count(*) FROM attempts WHERE trial_hash = '$hash'") == 1 ]] ||
    fail "trial $hash, done before the kill, ran again: $(attempts_of "$db" "$hash")"
done
[[ $(best_of "$db") == "$reference_best" ]] ||
  fail "best after the kill $(best_of "$db") differs from the uninterrupted $reference_best"
[[ $(trials_of "$db") == $(trials_of "$tmp/a.sqlite") ]] ||
  fail "$(trials_of "$db") trials after the kill, $(trials_of "$tmp/a.sqlite") uninterrupted"
attempts=$(sql "$db" "SELECT count(*) FROM attempts")
run_to_end b3 "$tmp/a.yaml" --db "$db"
[[ $(sql "$db" "SELECT count(*) FROM attempts") == "$attempts" ]] ||
  fail "the third run started trials: $(cat "$tmp/b3.out")"
echo "ok: the rerun ran nothing done again and found beta $reference_best; a third run started nothing"

echo "== a lipo search, parallel 2, under mpirun -n 3"
write_sweep "$tmp/c.yaml" "method: lipo
  budget: 6
  parallel: 2" 1
timeout -k 5 240 "${MPIRUN[@]}" -n 3 "$LOCSWEEP" run "$tmp/c.yaml" --db "$tmp/c.sqlite" \
  --threads 1 >"$tmp/c.out" 2>&1 || { rc=$?; cat "$tmp/c.out" >&2; fail "mpirun exited $rc"; }
db=$tmp/c.sqlite
n=$(trials_of "$db")
((n >= 3 && n <= 6)) || fail "lipo ran $n trials, want 3 to its budget of 6: $(sql "$db" "SELECT x, status FROM ($POINTS)")"
[[ $(done_of "$db") == "$n" ]] || fail "not every lipo trial is done"
[[ $(sql "$db" "SELECT count(*) FROM attempts") == "$n" ]] || fail "a lipo trial ran twice"
[[ $(sql "$db" "SELECT count(DISTINCT worker_rank) FROM attempts") == 2 ]] ||
  fail "the trials did not run on both workers"
overlap=$(sql "$db" "SELECT count(*) FROM attempts a JOIN attempts b ON a.id < b.id
                     AND a.started_at < b.ended_at AND b.started_at < a.ended_at")
((overlap > 0)) || fail "no two points were in flight at once"
no_running_rows "$db"
echo "ok: lipo ran $n points on 2 workers, $overlap pairs in flight together"
