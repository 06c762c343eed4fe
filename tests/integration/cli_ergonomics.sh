#!/usr/bin/env bash
# Issue 15's conventions from Hydra and Optuna, through the binaries: `--version` of both;
# LOCSWEEP_DB as --db's default (an explicit --db wins); KEY=VALUE overrides on plan, run,
# submit and trial (they change the hashes, are recorded in the stored spec, reach the Slurm
# job, and their errors name them); `trial --device` defaulting to auto like `run`.
set -euo pipefail

: "${LOCSWEEP:?set LOCSWEEP to the locsweep binary}"
src=${LOCSWEEP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
trainer="$(dirname "$LOCSWEEP")/locsweep-trainer"
tmp=$(mktemp -d /tmp/locsweep-ergonomics.XXXXXX)
trap 'rm -rf -- "$tmp"' EXIT
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
unset LOCSWEEP_DB
# hashes FILE: the trial hashes of a `plan --json` output, one a line
hashes() { python3 -c 'import json,sys; [print(t["hash"]) for t in json.load(open(sys.argv[1]))["trials"]]' "$1"; }
# The same for the demo's trials that start from its base, and for its base (whose own block
# sets train.lr, so a train.lr override leaves it as it is).
grid_hashes() { python3 -c 'import json,sys; [print(t["hash"]) for t in json.load(open(sys.argv[1]))["trials"] if t.get("base")]' "$1"; }
base_hashes() { python3 -c 'import json,sys; [print(t["hash"]) for t in json.load(open(sys.argv[1]))["trials"] if not t.get("base")]' "$1"; }

echo "== --version"
"$LOCSWEEP" --version >"$tmp/v" || fail "locsweep --version exited $?"
head -1 "$tmp/v" | grep -Eq '^locsweep [0-9]+\.[0-9]+\.[0-9]+ \(git [0-9a-f]{7,}' ||
  fail "first line: $(head -1 "$tmp/v")"
for pattern in '^LibTorch \(build\): [0-9]' '^LibTorch \(trainer\): [0-9]' '^BLAS \(trainer\): .' \
  '^SQLite: 3\.' '^HDF5: 1\.' '^MPI: .'; do
  grep -Eq "$pattern" "$tmp/v" || fail "locsweep --version has no line '$pattern': $(cat "$tmp/v")"
done
"$trainer" --version >"$tmp/tv" || fail "locsweep-trainer --version exited $?"
head -1 "$tmp/tv" | grep -Eq '^locsweep-trainer [0-9.]+ \(git ' || fail "trainer: $(head -1 "$tmp/tv")"
grep -Eq '^LibTorch: [0-9]' "$tmp/tv" && grep -Eq '^BLAS: .' "$tmp/tv" || fail "trainer: $(cat "$tmp/tv")"
# The build's LibTorch is the one the trainer runs with.
[[ $(sed -n 's/^LibTorch (build): \([^ ]*\).*/\1/p' "$tmp/v") == $(sed -n 's/^LibTorch: //p' "$tmp/tv") ]] ||
  fail "LibTorch versions differ: $(grep LibTorch "$tmp/v" "$tmp/tv")"

echo "== overrides: plan"
"$LOCSWEEP" plan "$src/sweeps/demo.yaml" --json >"$tmp/plain.json"
# (the demo trains at lr 1e-3: an override to 5e-4 changes every trial that starts from its base)
"$LOCSWEEP" plan "$src/sweeps/demo.yaml" train.lr=5e-4 --json >"$tmp/lr.json"
"$LOCSWEEP" plan "$src/sweeps/demo.yaml" train.lr=5e-4 train.lr=5e-4 --json >"$tmp/lr2.json"
[[ $(hashes "$tmp/plain.json" | wc -l) == 13 && $(hashes "$tmp/lr.json" | wc -l) == 13 ]] ||
  fail "the demo does not plan 13 trials"
[[ $(grid_hashes "$tmp/lr.json" | wc -l) == 12 ]] || fail "the demo's trials from its base are not 12"
[[ -z $(comm -12 <(grid_hashes "$tmp/plain.json" | sort) <(grid_hashes "$tmp/lr.json" | sort)) ]] ||
  fail "train.lr=5e-4 left some hashes unchanged"
cmp -s <(base_hashes "$tmp/plain.json") <(base_hashes "$tmp/lr.json") ||
  fail "train.lr=5e-4 changed the base, whose own block sets train.lr"
cmp -s "$tmp/lr.json" "$tmp/lr2.json" || fail "the same override twice plans differently"
python3 - "$tmp/lr.json" <<'PY' || fail "the override is not in the trial configs"
import json, sys
assert all(t["config"]["train"]["lr"] == 5e-4 for t in json.load(open(sys.argv[1]))["trials"] if t.get("base"))
PY
"$LOCSWEEP" plan train.lr=5e-4 --json >"$tmp/embedded.json"  # no SWEEP: the embedded demo
cmp -s <(hashes "$tmp/lr.json") <(hashes "$tmp/embedded.json") || fail "plan KEY=VALUE is not the demo"
n=$("$LOCSWEEP" plan "$src/sweeps/beyond-quintic.yaml" 'grid.locality.schedule=[linear, cubic]' 'seeds=[0]' --json |
  python3 -c 'import json,sys; print(len(json.load(sys.stdin)["trials"]))')
[[ $n == 2 ]] || fail "grid/seeds overrides planned $n trials, not 2"
set +e
"$LOCSWEEP" plan "$src/sweeps/demo.yaml" train.lrr=1 >/dev/null 2>"$tmp/err"
rc=$?
set -e
[[ $rc == 2 ]] || fail "an unknown override key exited $rc, not 2"
grep -qF "<command line: train.lrr=1>: error: unknown key 'train.lrr'; did you mean 'train.lr'?" "$tmp/err" ||
  fail "unknown key message: $(cat "$tmp/err")"

echo "== overrides: run records them; LOCSWEEP_DB"
cat >"$tmp/noop.yaml" <<'YAML'
name: ergonomics
kind: noop
noop: {duration_s: 0}
seeds: [0, 1]
YAML
export LOCSWEEP_DB=$tmp/env.sqlite
"$LOCSWEEP" run "$tmp/noop.yaml" noop.duration_s=0.01 --threads 1 >"$tmp/run.out" 2>&1 ||
  fail "run with LOCSWEEP_DB and an override failed: $(tail -5 "$tmp/run.out")"
[[ -f $tmp/env.sqlite ]] || fail "run did not create \$LOCSWEEP_DB"
"$LOCSWEEP" results --sql "SELECT spec_yaml FROM sweeps" --format csv >"$tmp/spec.csv"
grep -q 'command-line overrides .*noop.duration_s=0.01' "$tmp/spec.csv" &&
  grep -qF 'noop: {duration_s: 0.01}' "$tmp/spec.csv" ||
  fail "the stored spec does not record the override: $(cat "$tmp/spec.csv")"
"$LOCSWEEP" plan "$tmp/noop.yaml" noop.duration_s=0.01 | grep -q ': 2 done' ||
  fail "plan with \$LOCSWEEP_DB and the same override does not see 2 done trials"
"$LOCSWEEP" plan "$tmp/noop.yaml" | grep -q ': 2 new' ||
  fail "plan without the override should see 2 new trials (other hashes)"
"$LOCSWEEP" status >/dev/null || fail "status with \$LOCSWEEP_DB failed"
"$LOCSWEEP" status --help | grep -q 'LOCSWEEP_DB' || fail "status --help does not mention LOCSWEEP_DB"
LOCSWEEP_DB=$tmp/nowhere/none.sqlite "$LOCSWEEP" results --db "$tmp/env.sqlite" >/dev/null ||
  fail "an explicit --db does not win over \$LOCSWEEP_DB"
set +e
env -u LOCSWEEP_DB "$LOCSWEEP" results >/dev/null 2>"$tmp/err"
rc=$?
set -e
[[ $rc == 2 ]] && grep -q -- '--db' "$tmp/err" || fail "results with no --db and no \$LOCSWEEP_DB: exit $rc, $(cat "$tmp/err")"

echo "== overrides: submit passes them to the job"
"$LOCSWEEP" submit "$tmp/noop.yaml" "name=it's" 'seeds=[0, 1, 2]' --dry-run >"$tmp/job.sbatch" ||
  fail "submit --dry-run with overrides failed"
bash -n "$tmp/job.sbatch" || fail "bash rejects the script"
eval "$(grep -E '^overrides=' "$tmp/job.sbatch")"
[[ ${#overrides[@]} == 2 && ${overrides[0]} == "name=it's" && ${overrides[1]} == 'seeds=[0, 1, 2]' ]] ||
  fail "the job's overrides: $(grep -E '^overrides=' "$tmp/job.sbatch")"
grep -qF '"$locsweep" run "$sweep" ${overrides[@]+"${overrides[@]}"}' "$tmp/job.sbatch" ||
  fail "the job's run command does not pass the overrides"
unset LOCSWEEP_DB

echo "== trial: overrides and --device auto"
# CLI11 2.3 (Debian 12) prints a default as 'TEXT=auto', CLI11 2.4 (Debian 13) as 'TEXT [auto]'.
"$LOCSWEEP" trial --help | grep -Eq -- '--device TEXT( \[auto\]|=auto)' ||
  fail "trial --device does not default to auto: $("$LOCSWEEP" trial --help | grep -- --device)"
python3 -c "print(' '.join(['the whale swam on.'] * 200))" >"$tmp/corpus.txt"
cat >"$tmp/trial.yaml" <<YAML
model: {n_layer: 1, n_head: 1, n_embd: 16, block_size: 16}
data: {corpus: $tmp/corpus.txt, tokenizer: bytes, val_fraction: 0.2}
train: {steps: 50, batch_size: 2, warmup_steps: 0}
eval: {every: 0, windows: 2}
record: {attention_windows: 0}
YAML
"$LOCSWEEP" trial "$tmp/trial.yaml" train.steps=2 --out "$tmp/t" --device auto --threads 1 \
  >"$tmp/trial.json" 2>"$tmp/trial.err" || fail "trial failed: $(tail -5 "$tmp/trial.err")"
grep -q 'parameters on cpu' "$tmp/trial.err" || fail "auto is not cpu without a GPU: $(cat "$tmp/trial.err")"
python3 - "$tmp/trial.json" <<'PY' || fail "the trial did not run the overridden 2 steps"
import json, sys
assert json.load(open(sys.argv[1]))["steps_done"] == 2
PY
echo "PASS"
