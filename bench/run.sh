#!/usr/bin/env bash
# Worker benchmarks in one command. Run it through the launcher, so that both sides get the
# same BLAS kernels, allocator and thread count:
#
#   scripts/launch bench/run.sh [BUILD_DIR] [--threads N] [--rounds R] [--quick]
#
# 1. sgemm peak: best 2048^3 torch.mm (same libtorch and BLAS as both sides)
# 2. training and evaluation tokens/s, C++ (bench/train_bench) vs PyTorch Python
#    (bench/python/bench_train.py), tiny and GPT-2 124M, in interleaved rounds (so noise hits
#    both alike), medians and best rounds, and the ratios; the C++ textbook path (--plain) as
#    a control
# 3. achieved fraction of the sgemm peak on GPT-2 124M (model FLOPs / step time)
# 4. the cost of each locality mechanism relative to plain attention (mechanism_harness perf)
# Figures go to stdout and to bench/results/<date>.json.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$root/build"
threads="$(nproc)"
rounds=3
quick=0
while [ $# -gt 0 ]; do
  case "$1" in
    --threads) threads="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --quick) quick=1; rounds=1; shift ;;
    -*) echo "bench/run.sh: unknown option $1" >&2; exit 2 ;;
    *) build="$(cd "$1" && pwd)"; shift ;;
  esac
done
py=/usr/bin/python3
cpp="$build/bench/train_bench"
[ -x "$cpp" ] || { echo "bench/run.sh: $cpp not built (ninja -C $build train_bench mechanism_harness)" >&2; exit 2; }
out="$root/bench/results"
mkdir -p "$out"
log="$out/$(date -u +%Y%m%dT%H%M%SZ).jsonl"
echo "# load before: $(cut -d' ' -f1-3 /proc/loadavg); threads $threads; rounds $rounds; log $log"

peak=$($py "$root/bench/python/sgemm_peak.py" --threads "$threads" --runs 5)
echo "$peak" >> "$log"
peak_gflops=$($py -c 'import json,sys; print(json.loads(sys.argv[1])["gflops"])' "$peak")
echo "sgemm peak (2048^3, $threads threads): $(printf '%.1f' "$peak_gflops") GFLOP/s"

run_pair() {  # config steps -> appends JSON lines for cpp, python, cpp-plain
  local config="$1" steps="$2"
  for r in $(seq "$rounds"); do
    "$cpp" --config "$config" --threads "$threads" --warmup 2 --steps "$steps" >> "$log"
    $py "$root/bench/python/bench_train.py" --config "$config" --threads "$threads" --warmup 2 --steps "$steps" >> "$log"
    "$cpp" --config "$config" --threads "$threads" --warmup 2 --steps "$steps" --plain >> "$log"
  done
}
if [ "$quick" = 1 ]; then run_pair tiny 3; run_pair gpt2-124m 2; else run_pair tiny 10; run_pair gpt2-124m 5; fi

$py - "$log" "$peak_gflops" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
peak = float(sys.argv[2])
def values(impl, config, key):
    return [r[key] for r in rows if r.get("bench") == "train" and r["impl"] == impl and r["config"] == config]
def med(impl, config, key):
    v = values(impl, config, key)
    return statistics.median(v) if v else float("nan")
def best(impl, config, key):  # the least disturbed round: this machine's noise only ever slows a run
    v = values(impl, config, key)
    return max(v) if v else float("nan")
def flops_per_token(config):
    # matmul FLOPs of a forward pass per token: per layer 24 C^2 (qkv, proj, mlp) + 4 T C
    # (scores and weighted sum), plus the LM head 2 C V; a training step is 3x forward.
    L, C, T, V = {"tiny": (6, 256, 128, 50257), "gpt2-124m": (12, 768, 256, 50257)}[config]
    return L * (24 * C * C + 4 * T * C) + 2 * C * V
print(f"{'config':<10} {'metric':<14} {'C++':>10} {'Python':>10} {'ratio':>7} {'C++ plain':>10}   {'best C++':>9} {'best Py':>9} {'ratio':>7}")
for config in ("tiny", "gpt2-124m"):
    for key, name in (("train_tok_s", "train tok/s"), ("eval_tok_s", "eval tok/s")):
        c, p, plain = med("libtorch-cpp", config, key), med("pytorch-python", config, key), med("libtorch-cpp-plain", config, key)
        bc, bp = best("libtorch-cpp", config, key), best("pytorch-python", config, key)
        print(f"{config:<10} {name:<14} {c:>10.1f} {p:>10.1f} {c / p:>6.3f}x {plain:>10.1f}   {bc:>9.1f} {bp:>9.1f} {bc / bp:>6.3f}x")
    achieved = 3 * flops_per_token(config) * med("libtorch-cpp", config, "train_tok_s") / 1e9
    top = 3 * flops_per_token(config) * best("libtorch-cpp", config, "train_tok_s") / 1e9
    print(f"{config:<10} {'train GFLOP/s':<14} {achieved:>10.1f}  = {100 * achieved / peak:.1f} % of the sgemm peak"
          f" (best round {top:.1f} = {100 * top / peak:.1f} %)")
PY

if [ -x "$build/bench/mechanism_harness" ]; then
  echo "# locality mechanisms (tiny config, attention forward+backward inside the full model):"
  "$build/bench/mechanism_harness" perf --threads "$threads" | tee -a "$log"
fi
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
