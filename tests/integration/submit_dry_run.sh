#!/usr/bin/env bash
# `locsweep submit` without a cluster: --dry-run prints a script that bash accepts and that
# holds hostile paths verbatim; invalid options and specs exit 2 and submit nothing; a real
# submission goes through sbatch (a fake one here) and prints the job id; no sbatch: exit 1.
set -euo pipefail

: "${LOCSWEEP:?set LOCSWEEP to the locsweep binary}"
src=${LOCSWEEP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
tmp=$(mktemp -d /tmp/locsweep-submit-test.XXXXXX)
trap 'rm -rf -- "$tmp"' EXIT
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# A fake sbatch first on PATH: records that it ran, prints a job id.
mkdir -p "$tmp/bin"
cat >"$tmp/bin/sbatch" <<EOF
#!/bin/bash
printf '%s\n' "\$@" >"$tmp/sbatch.ran"
echo 4711
EOF
chmod 755 "$tmp/bin/sbatch"
export PATH="$tmp/bin:$PATH"

# A sweep in a folder whose name would run commands if it were not quoted.
hostile="$tmp/we'ird \"dir\" \$(touch $tmp/pwned) \`touch $tmp/pwned\`; touch $tmp/pwned"
mkdir -p "$hostile"
cp "$src/sweeps/demo.yaml" "$hostile/demo.yaml"
db="$hostile/results.sqlite"

echo "== --dry-run with hostile paths and --sbatch lines"
"$LOCSWEEP" submit "$hostile/demo.yaml" --db "$db" --artifacts "$hostile/art" --dry-run \
  --sbatch=--mail-type=END --sbatch '--comment="a \"quoted\" $(touch pwned) comment"' \
  --partition debug --time 1-12 --gpus-per-node 2 >"$tmp/job.sbatch" || fail "dry run failed"
bash -n "$tmp/job.sbatch" || fail "bash rejects the script"
grep -qx '#SBATCH --mail-type=END' "$tmp/job.sbatch" || fail "extra --sbatch line missing"
grep -qxF '#SBATCH --comment="a \"quoted\" $(touch pwned) comment"' "$tmp/job.sbatch" ||
  fail "the second --sbatch line was changed"
grep -qx '#SBATCH --gpus-per-node=2' "$tmp/job.sbatch" || fail "gpu line missing"
grep -qx '#SBATCH --time=1-12' "$tmp/job.sbatch" || fail "time line missing"
# The assignments of the script give back the exact paths.
eval "$(grep -E '^(locsweep|sweep|db|artifacts_args)=' "$tmp/job.sbatch")"
[[ $sweep == "$hostile/demo.yaml" ]] || fail "sweep path in the script: $sweep"
[[ $db == "$hostile/results.sqlite" ]] || fail "db path in the script: $db"
[[ ${artifacts_args[*]} == "--artifacts $hostile/art" && ${#artifacts_args[@]} == 2 ]] ||
  fail "artifacts args: ${artifacts_args[*]}"
[[ $locsweep == /* && -x $locsweep ]] || fail "binary path in the script: $locsweep"
[[ ! -e $tmp/pwned ]] || fail "a command in a path ran"
[[ ! -e $tmp/sbatch.ran && ! -e "$db.slurm" ]] || fail "--dry-run submitted or wrote files"

echo "== invalid options and specs: exit 2, nothing submitted"
expect_input_error() {  # flag-in-message args...
  local want=$1 rc=0
  shift
  "$LOCSWEEP" submit "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
  [[ $rc == 2 ]] || fail "'$*' exited $rc, expected 2: $(cat "$tmp/err")"
  grep -qF -- "$want" "$tmp/err" || fail "'$*' did not name $want: $(cat "$tmp/err")"
  [[ ! -e $tmp/sbatch.ran && ! -e "$db.slurm" ]] || fail "'$*' submitted or wrote files"
}
demo=$src/sweeps/demo.yaml
expect_input_error --nodes "$demo" --db "$db" --nodes=-5
expect_input_error --nodes "$demo" --db "$db" --nodes 0
expect_input_error --time "$demo" --db "$db" --time 1h
expect_input_error --time "$demo" --db "$db" --time abc --dry-run
expect_input_error --time "$demo" --db "$db" --time=-5
expect_input_error --ranks-per-node "$demo" --db "$db" --ranks-per-node 1
expect_input_error --mem "$demo" --db "$db" --mem 4GB
expect_input_error --partition "$demo" --db "$db" --partition 'a;b'
expect_input_error --signal-warn "$demo" --db "$db" --time 2 --signal-warn 120
expect_input_error --sbatch "$demo" --db "$db" --sbatch $'--comment=x\ntouch pwned'
expect_input_error --sbatch "$demo" --db "$db" --sbatch mail-type=END
expect_input_error --sbatch "$demo" --db "$db" --sbatch=--no-requeue
expect_input_error --db "$demo" --db $'/tmp/new\nline.sqlite'
printf 'name: broken\ntrain: {steps: -1}\n' >"$tmp/broken.yaml"
expect_input_error broken.yaml "$tmp/broken.yaml" --db "$db"
expect_input_error "cannot read" "$tmp/missing.yaml" --db "$db"
[[ ! -e $tmp/pwned ]] || fail "a command ran"

echo "== a submission through (fake) sbatch prints the job id"
(cd "$tmp" && "$LOCSWEEP" submit "$hostile/demo.yaml" --db "$db" >"$tmp/out" 2>"$tmp/err") ||
  fail "submit failed: $(cat "$tmp/err")"
[[ $(cat "$tmp/out") == 4711 ]] || fail "stdout: $(cat "$tmp/out")"
[[ $(sed -n 1p "$tmp/sbatch.ran") == --parsable ]] || fail "sbatch args: $(cat "$tmp/sbatch.ran")"
script=$(sed -n 2p "$tmp/sbatch.ran")
[[ $script == "$db.slurm/demo-"*.sbatch && -f $script ]] || fail "script path: $script"
bash -n "$script" || fail "bash rejects the submitted script"
[[ ! -e $tmp/pwned ]] || fail "a command ran"

echo "== no sbatch on PATH: exit 1, a clear message"
rm -f "$tmp/sbatch.ran"
rc=0
PATH=$tmp/empty "$LOCSWEEP" submit "$demo" --db "$tmp/r.sqlite" 2>"$tmp/err" >/dev/null || rc=$?
[[ $rc == 1 ]] || fail "exit $rc without sbatch"
grep -q 'sbatch not found' "$tmp/err" || fail "message: $(cat "$tmp/err")"

echo "PASS"
