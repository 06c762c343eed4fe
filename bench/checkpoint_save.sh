#!/usr/bin/env bash
# A checkpoint save before and after a change, side by side (docs/benchmarks.md):
#
#   bench/checkpoint_save.sh OLD_BUILD NEW_BUILD [--rounds R] [--dir DIR] [--config C]
#
# OLD_BUILD and NEW_BUILD are build folders holding bench/checkpoint_bench (the bench source
# builds against older commits too: copy bench/checkpoint_bench.cpp and its CMake lines into
# the old tree). The two run in interleaved rounds, so the machine's noise hits both alike;
# each round saves twice and hashes the file as a trial's artifact record does. The file
# (≈ 1.5 GB for 124M) is written to DIR (default: a fresh folder under /tmp) and removed after
# each round. Rows go to stdout and bench/results/<UTC time>-checkpoint.jsonl; the last lines
# are the medians of each side.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
[ $# -ge 2 ] || { echo "usage: bench/checkpoint_save.sh OLD_BUILD NEW_BUILD [--rounds R] [--dir DIR] [--config C]" >&2; exit 2; }
old="$1/bench/checkpoint_bench"
new="$2/bench/checkpoint_bench"
shift 2
rounds=3
dir=""
config=gpt2-124m
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --dir) dir="$2"; shift 2 ;;
    --config) config="$2"; shift 2 ;;
    *) echo "bench/checkpoint_save.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
for b in "$old" "$new"; do
  [ -x "$b" ] || { echo "bench/checkpoint_save.sh: $b not built (ninja -C BUILD checkpoint_bench)" >&2; exit 2; }
done
if [ -z "$dir" ]; then
  dir=$(mktemp -d /tmp/checkpoint-bench.XXXXXX)
  trap 'rm -rf -- "$dir"' EXIT
fi
mkdir -p "$root/bench/results"
log="$root/bench/results/$(date -u +%Y%m%dT%H%M%SZ)-checkpoint.jsonl"
echo "# load before: $(cut -d' ' -f1-3 /proc/loadavg); rounds $rounds; dir $dir ($(df -h --output=avail "$dir" | tail -1) free); log $log"
for ((r = 1; r <= rounds; r++)); do
  for side in old new; do
    bin=$old
    [ "$side" = new ] && bin=$new
    "$bin" --config "$config" --rounds 2 --dir "$dir" --label "$side" | tee -a "$log"
  done
done
/usr/bin/python3 - "$log" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
def all_of(rows, key):
    return [s for r in rows for s in r[key]["all"]]
for side in ("old", "new"):
    mine = [r for r in rows if r["label"] == side]
    gb = mine[0]["bytes"] / 1e9
    parts = [f"{side}: {gb:.2f} GB, n={len(all_of(mine, 'save_s'))}"]
    for key, what in [("save_s", "save wall"), ("save_cpu_s", "save CPU"),
                      ("artifact_hash_s", "artifact hash wall"), ("artifact_hash_cpu_s", "artifact hash CPU")]:
        v = all_of(mine, key)
        parts.append(f"{what} median {statistics.median(v):.2f} s (best {min(v):.2f})")
    print("; ".join(parts))
PY
