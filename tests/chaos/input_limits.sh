#!/usr/bin/env bash
# Bad input to `locsweep run` and `plan`: each is exit 2 with one message that says what,
# where (file:line:column for specs) and how to fix it, and nothing is written: an existing DB
# stays byte for byte as it was (no `running` row), a new DB path gets no file, and no process
# is left behind.
#  - seeds past 2147483647, a grid of 10^12 trials (refused before it is expanded, quickly),
#    train.beta1/beta2 = 1 and model.dropout = 1 (documented as [0, 1));
#  - --artifacts under a regular file, alone and under `mpirun -n 3`: every rank checks it
#    before MPI starts, so the job ends at once with exit 2 instead of hanging.
export ORCH_TEST_NAME=input_limits
# shellcheck source-path=SCRIPTDIR source=../integration/orchestrator_lib.sh
source "$(dirname "$0")/../integration/orchestrator_lib.sh"

db=$tmp/r.sqlite
printf 'name: good\nkind: noop\nseeds: [0, 1]\n' >"$tmp/good.yaml"
"$LOCSWEEP" run "$tmp/good.yaml" --db "$db" --inline-noop >"$tmp/good.out" 2>&1 ||
  { cat "$tmp/good.out" >&2; fail "the good sweep did not run"; }
[[ $(sql "$db" "SELECT count(*) FROM trials WHERE status = 'done'") == 2 ]] || fail "good sweep not done"

list() { python3 -c "import sys; print('[' + ', '.join(map(str, range(int(sys.argv[1])))) + ']')" "$1"; }
write() { printf '%b' "$2" >"$tmp/$1.yaml"; }
write seeds 'name: s\nkind: noop\nseeds: {start: 2147483647, count: 2}\n'
write grid "name: g\nkind: noop\ngrid:\n  noop.duration_s: $(list 1000)\n  noop.fail_attempts: $(list 1000)\n  train.steps: $(list 1000)\n  eval.every: $(list 1000)\n"
write beta1 'name: b1\ntrain: {beta1: 1.0}\n'
write beta2 'name: b2\ntrain:\n  beta2: 1\n'
write dropout 'name: d\nmodel: {n_layer: 2, dropout: 1.0}\n'

no_leftovers() { [[ -z $(pids_under_tmp) ]]; }

# refused NAME COMMAND...: exit 2 within 30 s, every phrase of $expected in the output, the
# DB unchanged, no new DB or artifacts folder, nothing left running, no process left.
refused() {
  local name=$1 rc=0 before started
  shift
  before=$(sha256sum <"$db")
  started=$SECONDS
  timeout -k 5 60 "$@" >"$tmp/out" 2>&1 || rc=$?
  [[ $rc == 2 ]] || { cat "$tmp/out" >&2; fail "$name: exited $rc, expected 2"; }
  ((SECONDS - started < 30)) || fail "$name: took $((SECONDS - started)) s"
  local phrase
  for phrase in "${expected[@]}"; do
    grep -qF -- "$phrase" "$tmp/out" || fail "$name: the message does not say '$phrase': $(cat "$tmp/out")"
  done
  [[ $(sha256sum <"$db") == "$before" ]] || fail "$name: the DB was changed"
  [[ ! -e $tmp/new.sqlite && ! -e $tmp/new-artifacts ]] || fail "$name: a new DB or artifacts folder was created"
  [[ $(sql "$db" "SELECT count(*) FROM runs WHERE status = 'running'") == 0 ]] || fail "$name: a run is left running"
  [[ $(sql "$db" "SELECT count(*) FROM trials WHERE status = 'running'") == 0 ]] || fail "$name: a trial is left running"
  wait_for 10 no_leftovers || fail "$name: processes left: $(pids_under_tmp)"
  echo "ok: $name: $(head -c 300 "$tmp/out" | tr '\n' ' ')"
}

spec_refused() { # NAME: plan, run on the DB and run on a new DB path are all refused
  local name=$1
  refused "$name (plan)" "$LOCSWEEP" plan "$tmp/$name.yaml"
  refused "$name (run, existing DB)" "$LOCSWEEP" run "$tmp/$name.yaml" --db "$db" --inline-noop
  refused "$name (run, new DB)" "$LOCSWEEP" run "$tmp/$name.yaml" --db "$tmp/new.sqlite" --inline-noop
}

expected=("$tmp/seeds.yaml:3:8: error:" "beyond the largest seed 2147483647" "lower start or count")
spec_refused seeds
expected=("$tmp/grid.yaml:4:3: error:" "expands into 1000000000000 trials" "limit of 1000000 trials per sweep" "split it")
spec_refused grid
expected=("$tmp/beta1.yaml:2:16: error: train.beta1: must be in [0, 1), got 1.0")
spec_refused beta1
expected=("$tmp/beta2.yaml:3:10: error: train.beta2: must be in [0, 1), got 1")
spec_refused beta2
expected=("$tmp/dropout.yaml:2:30: error: model.dropout: must be in [0, 1), got 1.0")
spec_refused dropout

# --artifacts under a regular file.
touch "$tmp/afile"
expected=("--artifacts '$tmp/afile/x'" "'$tmp/afile' is a file, not a folder" "choose another folder with --artifacts")
refused "artifacts (one process)" "$LOCSWEEP" run "$tmp/good.yaml" --db "$db" --artifacts "$tmp/afile/x"
refused "artifacts (new DB)" "$LOCSWEEP" run "$tmp/good.yaml" --db "$tmp/new.sqlite" --artifacts "$tmp/afile/x"
refused "artifacts (mpirun -n 3)" "${MPIRUN[@]}" -n 3 "$LOCSWEEP" run "$tmp/good.yaml" --db "$db" --artifacts "$tmp/afile/x"
echo "PASS"
