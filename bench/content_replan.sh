#!/usr/bin/env bash
# Re-planning a 100,000-trial gpt2 sweep by content (docs/benchmarks.md, "Re-planning by
# content"): 100 learning rates x 1,000 seeds on Moby-Dick with the GPT-2 tokenizer. Times
# `locsweep plan SWEEP > /dev/null` with a cold digest cache (every input read and hashed), then
# REPEATS times with the cache warm. Needs scripts/fetch-data.sh's data.
#   bench/content_replan.sh build/locsweep
set -euo pipefail
LOCSWEEP=${1:?usage: bench/content_replan.sh LOCSWEEP_BINARY}
REPEATS=${REPEATS:-3}
tmp=$(mktemp -d /tmp/locsweep-replan.XXXXXX)
trap 'rm -rf -- "$tmp"' EXIT
data=${LOCSWEEP_DATA:-$HOME/.cache/locsweep/data}
# A private data folder: the real corpora and tokenizer (links), its own digest cache.
mkdir -p "$tmp/data"
for entry in "$data"/*; do [[ $(basename "$entry") == digests.json ]] || ln -s "$entry" "$tmp/data/"; done
export LOCSWEEP_DATA=$tmp/data
python3 - "$tmp/big.yaml" <<'PYTHON'
import sys
lrs = ", ".join(f"{1e-4 * (1 + i):.6g}" for i in range(100))
seeds = ", ".join(str(s) for s in range(1000))
open(sys.argv[1], "w").write(
    "name: replan\nmodel: {n_layer: 2, n_head: 2, n_embd: 64, block_size: 64}\n"
    "data: {corpus: moby-dick, tokenizer: gpt2}\n"
    f"grid:\n  train.lr: [{lrs}]\nseeds: [{seeds}]\n")
PYTHON
time_plan() {
  local start end
  start=$(date +%s.%N)
  /usr/bin/time -f "%U %S" -o "$tmp/cpu" "$LOCSWEEP" plan "$tmp/big.yaml" >/dev/null
  end=$(date +%s.%N)
  python3 -c "import sys; u, s = open(sys.argv[1]).read().split()[-2:]; print(f'wall {$end - $start:.2f} s, cpu {float(u) + float(s):.2f} s')" "$tmp/cpu"
}
echo "cold cache: $(time_plan)"
for ((i = 1; i <= REPEATS; i++)); do echo "warm cache: $(time_plan)"; done
