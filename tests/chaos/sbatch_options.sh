#!/usr/bin/env bash
# `locsweep submit --sbatch=VALUE` and the other Slurm options (--gpus-per-node layouts,
# --gres, --cpus-per-task, --mpi, --setup, --setup-file); no Slurm needed (--dry-run, and a
# fake sbatch that records whether it ran). sbatch reads every argument of an #SBATCH line,
# so a reserved option hidden after the first (`--comment=x --no-requeue --signal=KILL@1`),
# behind a closing quote, or any value that is not exactly one option, is exit 2 with a message naming the option; nothing
# is written (no DB, no <db>.slurm folder), sbatch never runs, and no process is left. A quoted
# value with spaces is accepted and reaches the script verbatim. A GPU layout that would put
# two workers on one GPU (or leave one idle), a bad --gres/--cpus-per-task/--mpi, a --setup
# line that is not one line or is an #SBATCH line, an unreadable or CRLF --setup-file: exit 2
# the same way; the documented 2 x 4 GPU layout is mapped (5 + 4 ranks), not refused.
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

# refused_options PHRASE OPTION...: the other submit options (exit 2, PHRASE in the message,
# nothing written or submitted; without --dry-run, which checks them the same way).
refused_options() {
  local phrase=$1 rc=0
  shift
  timeout -k 5 60 "$LOCSWEEP" submit "$tmp/s.yaml" --db "$db" "$@" >"$tmp/out" 2>&1 || rc=$?
  [[ $rc == 2 ]] || { cat "$tmp/out" >&2; fail "$*: exited $rc, expected 2"; }
  grep -qF -- "$phrase" "$tmp/out" || fail "$*: the message does not say '$phrase': $(cat "$tmp/out")"
  [[ ! -e $db && ! -e $db.slurm && ! -e $tmp/sbatch.ran ]] || fail "$*: something was written or submitted"
  echo "ok: $*: $(head -c 200 "$tmp/out" | tr '\n' ' ')"
}

# Two workers never share a GPU: a layout that would is refused (docs/slurm.md).
refused_options "two workers on one GPU" --nodes 2 --ranks-per-node 6 --gpus-per-node 4
refused_options "would leave GPUs idle" --ranks-per-node 3 --gpus-per-node 4
refused_options "--gpus-per-node 2 too" --gres gpu:2
refused_options "not a Slurm GRES list" --gres "gpu:a100:4;rm"
refused_options "--cpus-per-task: must be between 1 and 1024" --cpus-per-task -2
refused_options "--mpi: 'openmpi'" --mpi openmpi
refused_options "run lease" --mpi none
refused_options "one line per --setup" --setup $'module load a\nmodule load b'
refused_options "sbatch ignores after the script's first command" --setup '#SBATCH --no-requeue'
refused_options "--setup-file: '$tmp/missing' cannot be read" --setup-file "$tmp/missing"
printf 'module load a\r\n' >"$tmp/crlf.sh"
refused_options "line 1" --setup-file "$tmp/crlf.sh"
refused_options "sets --cpus-per-task" --sbatch=--cpus-per-task=4

# The documented layout is mapped, not refused: rank 0 and 4 workers on the first node, 4 on
# the second: 8 workers for 8 GPUs.
"$LOCSWEEP" submit "$tmp/s.yaml" --db "$db" --dry-run --nodes 2 --ranks-per-node 5 \
  --gpus-per-node 4 >"$tmp/gpu.sbatch" 2>"$tmp/err" || { cat "$tmp/err" >&2; fail "the documented GPU layout was refused"; }
grep -qx 'first_node_ranks=5' "$tmp/gpu.sbatch" && grep -qx 'other_node_ranks=4' "$tmp/gpu.sbatch" ||
  fail "the GPU layout is not 5 + 4 ranks"

# A quoted value with spaces is one argument: accepted, verbatim in the script.
"$LOCSWEEP" submit "$tmp/s.yaml" --db "$db" --dry-run --sbatch '--comment="x --no-requeue"' \
  >"$tmp/job.sbatch" 2>"$tmp/err" || { cat "$tmp/err" >&2; fail "a quoted comment was refused"; }
grep -qxF '#SBATCH --comment="x --no-requeue"' "$tmp/job.sbatch" || fail "the quoted line is not in the script"
[[ ! -e $db && ! -e $tmp/sbatch.ran ]] || fail "--dry-run wrote or submitted something"
echo "PASS"
