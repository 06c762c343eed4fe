#!/usr/bin/env bash
# `locsweep submit --sbatch=VALUE` (no Slurm needed: --dry-run, and a fake sbatch that records
# whether it ran): sbatch reads every argument of an #SBATCH line, so a reserved option hidden
# after the first (`--comment=x --no-requeue --signal=KILL@1`), behind a closing quote, or any
# value that is not exactly one option, is exit 2 with a message naming the option; nothing
# is written (no DB, no <db>.slurm folder), sbatch never runs, and no process is left. A quoted
# value with spaces is accepted and reaches the script verbatim.
export ORCH_TEST_NAME=sbatch_options
# shellcheck source-path=SCRIPTDIR source=../integration/orchestrator_lib.sh
source "$(dirname "$0")/../integration/orchestrator_lib.sh"

mkdir -p "$tmp/bin"
printf '#!/bin/bash\ntouch "%s/sbatch.ran"\necho 4711\n' "$tmp" >"$tmp/bin/sbatch"
chmod 755 "$tmp/bin/sbatch"
export PATH="$tmp/bin:$PATH"
printf 'name: s\nkind: noop\n' >"$tmp/s.yaml"
db=$tmp/r.sqlite
no_leftovers() { [[ -z $(pids_under_tmp) ]]; }

# refused VALUE PHRASE: with and without --dry-run, exit 2 saying PHRASE, nothing written.
refused() {
  local value=$1 phrase=$2 dry rc
  for dry in --dry-run ""; do
    rc=0
    timeout -k 5 60 "$LOCSWEEP" submit "$tmp/s.yaml" --db "$db" ${dry:+"$dry"} --sbatch "$value" \
      >"$tmp/out" 2>&1 || rc=$?
    [[ $rc == 2 ]] || { cat "$tmp/out" >&2; fail "--sbatch '$value' ${dry}: exited $rc, expected 2"; }
    grep -qF -- "$phrase" "$tmp/out" || fail "--sbatch '$value': the message does not say '$phrase': $(cat "$tmp/out")"
    [[ ! -e $db && ! -e $db.slurm && ! -e $tmp/sbatch.ran ]] || fail "--sbatch '$value' ${dry}: something was written or submitted"
    wait_for 10 no_leftovers || fail "processes left: $(pids_under_tmp)"
  done
  echo "ok: --sbatch '$value': $(head -c 300 "$tmp/out" | tr '\n' ' ')"
}

refused '--comment=x --no-requeue --signal=KILL@1' "sets --no-requeue"
refused '--exclusive --sig=KILL@1' "sets --signal"
refused '--comment="x" --requeue' "sets --requeue"
refused "--comment='x' --open-mode=truncate" "sets --open-mode"
refused '--exclusive --mail-type=END' "not one long sbatch option"
refused '--comment=x -t 5' "not one long sbatch option"
refused '--comment="x --time=1' "unclosed quote"
refused '--comment=a#b' "comment"
refused $'--comment=x\n#SBATCH --no-requeue' "newline"

# A quoted value with spaces is one argument: accepted, verbatim in the script.
"$LOCSWEEP" submit "$tmp/s.yaml" --db "$db" --dry-run --sbatch '--comment="x --no-requeue"' \
  >"$tmp/job.sbatch" 2>"$tmp/err" || { cat "$tmp/err" >&2; fail "a quoted comment was refused"; }
grep -qxF '#SBATCH --comment="x --no-requeue"' "$tmp/job.sbatch" || fail "the quoted line is not in the script"
[[ ! -e $db && ! -e $tmp/sbatch.ran ]] || fail "--dry-run wrote or submitted something"
echo "PASS"
