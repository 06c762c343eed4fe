#!/usr/bin/env bash
# stdout carries data, never log lines: a damaged token cache makes the data layer log a
# warning (spdlog), which must go to stderr. `locsweep tokenize --cache` prints the same ids
# with a damaged cache as with a good one (the warning on stderr), and a trial child's stdout
# (its JSON-lines channel to the rank) holds only JSON while it warns about a damaged cache.
export ORCH_TEST_NAME=log_channel
# shellcheck source-path=SCRIPTDIR source=../integration/orchestrator_lib.sh
source "$(dirname "$0")/../integration/orchestrator_lib.sh"

export HOME=$tmp/home  # a private data cache: the real one is never touched
mkdir -p "$HOME"
printf 'hello world, hello tokens\n' >"$tmp/a.txt"
"$LOCSWEEP" tokenize --vocab bytes --cache "$tmp/a.txt" >"$tmp/good.out" 2>"$tmp/good.err" ||
  fail "tokenize failed: $(cat "$tmp/good.err")"
cache=$(find "$HOME" -name '*.tokens' | head -1)
[[ -n $cache ]] || fail "tokenize --cache wrote no token cache under $HOME"
printf 'garbage' >"$cache"
"$LOCSWEEP" tokenize --vocab bytes --cache "$tmp/a.txt" >"$tmp/bad.out" 2>"$tmp/bad.err" ||
  fail "tokenize with a damaged cache failed: $(cat "$tmp/bad.err")"
cmp -s "$tmp/good.out" "$tmp/bad.out" || fail "stdout changed with a damaged cache: $(head -c 300 "$tmp/bad.out")"
grep -q 'token cache .* is unusable' "$tmp/bad.err" || fail "no warning on stderr: $(cat "$tmp/bad.err")"
echo "tokenize: same ids, the warning on stderr"

# A trial child reading a corpus whose token cache is damaged: through a one-process `run`
# (the rank tails the child's stdout), the trial is done and its events file holds only JSON.
python3 -c "print(' '.join(['the whale swam on.'] * 400))" >"$tmp/corpus.txt"
cat >"$tmp/sweep.yaml" <<YAML
name: log-channel
model: {n_layer: 1, n_head: 1, n_embd: 16, block_size: 16}
data: {corpus: $tmp/corpus.txt, tokenizer: bytes, val_fraction: 0.2}
train: {steps: 2, batch_size: 2, warmup_steps: 0}
eval: {every: 2, windows: 2}
record: {attention_windows: 0}
YAML
"$LOCSWEEP" run "$tmp/sweep.yaml" --db "$tmp/r.sqlite" --threads 1 >"$tmp/run1.out" 2>&1 ||
  fail "the first run failed: $(tail -5 "$tmp/run1.out")"
for c in $(find "$HOME" -name '*.tokens'); do printf 'garbage' >"$c"; done
"$LOCSWEEP" run "$tmp/sweep.yaml" --db "$tmp/r2.sqlite" --threads 1 >"$tmp/run2.out" 2>&1 ||
  fail "the run with a damaged token cache failed: $(tail -5 "$tmp/run2.out")"
[[ $(sql "$tmp/r2.sqlite" "SELECT count(*) FROM trials WHERE status = 'done'") == 1 ]] ||
  fail "the trial is not done"
events=$(find "$tmp/r2-artifacts" -name 'attempt-1.events.jsonl')
[[ -n $events ]] || fail "no events file"
python3 - "$events" <<'PY' || fail "the trial child's stdout holds a line that is not JSON"
import json, sys
for line in open(sys.argv[1]):
    json.loads(line)
PY
log=${events%.events.jsonl}.log
grep -q 'token cache .* is unusable' "$log" || fail "the child's warning is not in its log ($log): $(cat "$log")"
echo "trial child: stdout only JSON, the warning in its log"
[[ -z $(pids_under_tmp) ]] || fail "processes left: $(pids_under_tmp)"
echo "PASS"
