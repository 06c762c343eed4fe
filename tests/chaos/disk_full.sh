#!/usr/bin/env bash
# A disk that fills up while a real GPT-2 trial checkpoints: the artifacts folder is a small
# tmpfs that holds one checkpoint but not a second one beside it. The attempt ends
# `disk_full` (not error), the trial stays pending with its previous checkpoint intact, the
# sweep pauses (the next trial never starts), the run ends `interrupted` with exit 74 and
# "disk full at DIR (N MB free): free space and run the same command again", no row is left
# running and no process survives. Run again without room: it pauses again at once. Enlarge
# the file system and run again: the trial resumes from the intact checkpoint and the sweep
# completes, every step recorded once. Needs root (mount); skipped (77) otherwise.
export ORCH_TEST_NAME=chaos_disk_full
# shellcheck source-path=SCRIPTDIR source=orphans_lib.sh
source "$(dirname "$0")/orphans_lib.sh"
require_moby_dick

art=$tmp/artifacts
mkdir -p "$art"
mount -t tmpfs -o size=16M tmpfs "$art" 2>/dev/null || { echo "SKIP: cannot mount a tmpfs (needs root)"; exit 77; }
extra_cleanup() { kill_leftovers; umount "$art" 2>/dev/null || umount -l "$art"; }

model='model: {n_layer: 2, n_head: 2, n_embd: 64, block_size: 64}
data: {corpus: moby-dick, tokenizer: bytes}'
echo "== the size of one checkpoint (a 1-step trial)"
cat >"$tmp/probe.yaml" <<YAML
$model
train: {steps: 1, batch_size: 8, warmup_steps: 1}
eval: {every: 0, windows: 1}
record: {attention_windows: 0}
YAML
"$LOCSWEEP" trial "$tmp/probe.yaml" --out "$tmp/probe" --threads 1 >/dev/null 2>"$tmp/probe.err" ||
  { cat "$tmp/probe.err" >&2; fail "the probe trial failed"; }
ckpt_kb=$(($(stat -c %s "$tmp/probe/checkpoint.h5") / 1024))
size_kb=$((ckpt_kb * 16 / 10))  # one checkpoint and its logs fit; a second one beside it does not
mount -o remount,size=${size_kb}k "$art"
echo "checkpoint: $ckpt_kb KiB; artifacts file system: $size_kb KiB"

steps=60
every=20
cat >"$tmp/sweep.yaml" <<YAML
name: full
$model
train: {steps: $steps, batch_size: 8, lr: 2.0e-3, min_lr: 2.0e-4, warmup_steps: 5}
locality: {mechanism: block, schedule: quintic}
eval: {every: 0, windows: 4}
record: {attention_windows: 1}
execution: {checkpoint_every: $every}
order: fifo
seeds: [0, 1]
YAML
db=$tmp/full.sqlite
run() {  # NAME: one run in one process; sets rc
  rc=0
  timeout -k 5 120 "$LOCSWEEP" run "$tmp/sweep.yaml" --db "$db" --artifacts "$art" --threads 1 >"$tmp/$1.out" 2>&1 || rc=$?
}
first=""
check_paused() {  # NAME ATTEMPT: the run $1 paused on the first trial's attempt $2
  [[ $rc == 74 ]] || { cat "$tmp/$1.out" >&2; fail "$1 exited $rc (expected 74: paused)"; }
  grep -Eq "sweep paused: disk full at $art/trials/[0-9a-f]+ \([0-9.]+ MB free\): free space and run the same command again" "$tmp/$1.out" ||
    fail "$1: no pause message: $(tail -5 "$tmp/$1.out")"
  first=$(sql "$db" "SELECT hash FROM trials WHERE seed = 0")
  local a
  a=$(sql "$db" "SELECT status || '|' || outcome || '|' || resumed_from FROM attempts WHERE trial_hash = '$first' AND number = $2")
  [[ $a == "interrupted|disk_full|$3" ]] || fail "$1: attempt $2: $a (expected interrupted|disk_full|$3): $(sql "$db" "SELECT message FROM attempts")"
  [[ $(sql "$db" "SELECT message FROM attempts WHERE trial_hash = '$first' AND number = $2") == "disk full at "*"the checkpoint of step $every is intact" ]] ||
    fail "$1: message: $(sql "$db" "SELECT message FROM attempts WHERE number = $2")"
  [[ $(sql "$db" "SELECT status || ' ' || last_step || ' ' || retries_used FROM trials WHERE hash = '$first'") == "pending $every 0" ]] ||
    fail "$1: trial row: $(sql "$db" "SELECT status, last_step, retries_used FROM trials WHERE hash = '$first'")"
  [[ $(sql "$db" "SELECT count(*) FROM attempts WHERE trial_hash <> '$first'") == 0 ]] || fail "$1: the sweep went on after the disk filled up"
  [[ $(sql "$db" "SELECT status FROM runs ORDER BY id DESC LIMIT 1") == interrupted ]] || fail "$1: run row not interrupted"
  no_running_rows "$db"
  no_process_left || fail "$1: processes left: $(pids_under_tmp)"
  ls "$art"/trials/*/checkpoint.h5.* >/dev/null 2>&1 && fail "$1: a partial checkpoint was left: $(ls "$art"/trials/*)"
  return 0
}

echo "== run 1: the second checkpoint does not fit"
run run1
check_paused run1 1 0
sum=$(sha256sum "$art"/trials/*/checkpoint.h5 | cut -d' ' -f1)
echo "ok: paused; $(grep -o 'sweep paused: .*' "$tmp/run1.out")"

echo "== run 2, still no room: it pauses again, the checkpoint untouched"
run run2
check_paused run2 2 "$every"
[[ $(sha256sum "$art"/trials/*/checkpoint.h5 | cut -d' ' -f1) == "$sum" ]] || fail "the intact checkpoint changed"

echo "== room made (tmpfs enlarged): run 3 completes"
mount -o remount,size=64M "$art"
run run3
[[ $rc == 0 ]] || { cat "$tmp/run3.out" >&2; fail "run 3 exited $rc"; }
[[ $(sql "$db" "SELECT count(*) FROM trials WHERE status = 'done'") == 2 ]] || fail "not both trials done"
[[ $(attempts_of "$db" "$first") == "1:interrupted:disk_full,2:interrupted:disk_full,3:done:done" ]] ||
  fail "first trial's attempts: $(attempts_of "$db" "$first")"
[[ $(sql "$db" "SELECT resumed_from FROM attempts WHERE trial_hash = '$first' AND number = 3") == "$every" ]] ||
  fail "attempt 3 did not resume from the intact checkpoint"
[[ $(sql "$db" "SELECT count(*) FROM attempts WHERE trial_hash <> '$first'") == 1 ]] || fail "the second trial ran more than once"
[[ $(sql "$db" "SELECT count(*) FROM step_metrics WHERE split = 'train'") == $((2 * steps)) ]] || fail "steps lost or duplicated"
no_running_rows "$db"
no_process_left || fail "processes left"
echo "PASS"
