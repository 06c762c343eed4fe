#!/usr/bin/env bash
# How a search is shown, end to end on a real noop search (the synthetic loss: val_loss =
# 3 + 0.05 (beta - 7.3)^2, so the best beta is 7.3): `plan` without a database shows the
# search and its first point; a search stopped by its budget and then extended shows its
# pending point in `plan --db`; the finished search shows every point, the best within 0.1
# of 7.3, finished, in `plan --db` (text and JSON), `results` (the points, the best starred,
# the ASCII curve), `results --format json` (parsed with python3) and the HTML report (the
# Search section's table and its plot). Every point shown is a trial of the database.
set -euo pipefail
ORCH_TEST_NAME=search-views
# shellcheck source-path=SCRIPTDIR source=orchestrator_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/orchestrator_lib.sh"

spec() {  # spec FILE BUDGET: the search with that budget (same sweep name)
  cat >"$1" <<EOF
name: search-views
kind: noop
locality: {schedule: quintic}
noop:
  duration_s: 0
  loss: {key: locality.schedule.beta, center: 7.3, curvature: 0.05, floor: 3.0}
search:
  key: locality.schedule.beta
  interval: [1, 20]
  method: brent
  objective: val_loss
  budget: $2
  tolerance: 0.01
EOF
}
spec "$tmp/short.yaml" 4
spec "$tmp/full.yaml" 20
db=$tmp/s.sqlite

run() {  # run SPEC: the search to its end (no launcher: one process)
  timeout -k 5 180 "$LOCSWEEP" run "$1" --db "$db" --threads 1 >"$tmp/run.out" 2>&1 ||
    { cat "$tmp/run.out" >&2; fail "run $1 exited $?"; }
}
expect() {  # expect FILE TEXT: FILE has the line fragment TEXT
  grep -qF -- "$2" "$1" || { cat "$1" >&2; fail "$(basename "$1") lacks '$2'"; }
}

# 1. No database: the search as specified and its first point.
"$LOCSWEEP" plan "$tmp/full.yaml" >"$tmp/plan0.txt"
expect "$tmp/plan0.txt" "search locality.schedule.beta in [1, 20]: brent, minimise val_loss, budget 20 points"
expect "$tmp/plan0.txt" "not finished; 0 points evaluated, 1 pending (locality.schedule.beta = "
expect "$tmp/plan0.txt" "best: none yet"

# 2. Budget 4: finished by its budget; the budget extended to 20: half-done, one pending.
run "$tmp/short.yaml"
[[ $(sql "$db" "SELECT count(*) FROM trials WHERE status = 'done'") == 4 ]] ||
  fail "the budget of 4 points ran $(sql "$db" "SELECT count(*) FROM trials") trials"
"$LOCSWEEP" plan "$tmp/short.yaml" --db "$db" >"$tmp/plan4.txt"
expect "$tmp/plan4.txt" "finished: budget of 4 points spent; 4 points evaluated, 0 pending"
"$LOCSWEEP" plan "$tmp/full.yaml" --db "$db" >"$tmp/plan-ext.txt"
expect "$tmp/plan-ext.txt" "not finished; 4 points evaluated, 1 pending (locality.schedule.beta = "
"$LOCSWEEP" plan "$tmp/full.yaml" --db "$db" --json >"$tmp/plan-ext.json"
$PY - "$tmp/plan-ext.json" <<'EOF'
import json, sys
plan = json.load(open(sys.argv[1]))
s = plan["search"]
assert not s["finished"], s
assert len(s["pending"]) == 1 and s["evaluated"] == 4, s
pending = [p for p in s["points"] if not p["known"]]
assert [p["x"] for p in pending] == s["pending"], (pending, s["pending"])
assert pending[0]["trials"][0]["status"] in ("absent", "pending"), pending
hashes = {t["hash"]: t.get("status") for t in plan["trials"]}
for p in s["points"]:  # each point's trials are in the plan, with the plan's status
    for t in p["trials"]:
        assert t["hash"] in hashes, t
print("ok: extended search pending", s["pending"])
EOF

# 3. The extended search to its end.
run "$tmp/full.yaml"
trials=$(sql "$db" "SELECT count(*) FROM trials")
((trials <= 20)) || fail "$trials trials for a budget of 20"
"$LOCSWEEP" plan "$tmp/full.yaml" --db "$db" >"$tmp/plan.txt"
expect "$tmp/plan.txt" "finished: "
expect "$tmp/plan.txt" ", 0 pending"
grep -E "^best locality\.schedule\.beta = 7\.[2-3][0-9]*" "$tmp/plan.txt" >/dev/null ||
  { cat "$tmp/plan.txt" >&2; fail "plan shows no best beta near 7.3"; }

# 4. results: the table, the search's points with the best starred, the curve.
"$LOCSWEEP" results --db "$db" >"$tmp/results.txt"
expect "$tmp/results.txt" "search locality.schedule.beta in [1, 20]: brent"
expect "$tmp/results.txt" "val_loss over locality.schedule.beta (o a point, @ the best)"
starred=$(grep -c '^\*' "$tmp/results.txt" || true)
[[ $starred == 1 ]] || { cat "$tmp/results.txt" >&2; fail "$starred starred rows, expected 1"; }
[[ $(grep -c '@' "$tmp/results.txt") == 2 ]] || fail "the curve marks no best (or several)"

"$LOCSWEEP" results --db "$db" --format json >"$tmp/results.json"
$PY - "$tmp/results.json" "$trials" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
s = r["search"]
assert s["finished"] and s["pending"] == [], s
xs = [p["x"] for p in s["points"]]
assert xs == sorted(xs), xs
assert len(xs) == int(sys.argv[2]), (len(xs), sys.argv[2])  # every trial is a point (1 seed)
assert all(p["known"] and t["status"] == "done" for p in s["points"] for t in p["trials"])
best = [p for p in s["points"] if p["best"]]
assert len(best) == 1 and best[0]["x"] == s["best"]["x"], best
assert abs(s["best"]["x"] - 7.3) < 0.1, s["best"]
assert abs(best[0]["metric"] - 3.0) < 0.05 * 0.1 ** 2 + 1e-9, best  # the quadratic's floor
assert best[0]["metric"] == min(p["metric"] for p in s["points"]), best
print(f"ok: results json: {len(xs)} points, best beta {s['best']['x']}")
EOF

# 5. The report: the Search section, the best row, the plot (if gnuplot is there).
if command -v gnuplot >/dev/null; then
  "$LOCSWEEP" report --db "$db" --out "$tmp/report" >/dev/null
  $PY - "$tmp/report/index.html" "$tmp/results.json" <<'EOF'
import html.parser, json, sys
page = open(sys.argv[1]).read()
search = json.load(open(sys.argv[2]))["search"]
class Rows(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(); self.rows = []; self.cell = None; self.in_search = False
        self.figure = False; self.svg = False
    def handle_starttag(self, tag, a):
        a = dict(a)
        if tag == "section": self.in_search = a.get("id") == "search"
        if tag == "tr" and "search-point" in a.get("class", ""):
            self.rows.append({"best": "best" in a["class"].split(), "cells": []})
        if tag == "td" and self.rows and self.in_search: self.cell = ""
        if tag == "figure" and a.get("id") == "plot-search" and self.in_search: self.figure = True
        if tag == "svg" and self.figure: self.svg = True
    def handle_data(self, d):
        if self.cell is not None: self.cell += d
    def handle_endtag(self, tag):
        if tag == "td" and self.cell is not None:
            self.rows[-1]["cells"].append(self.cell); self.cell = None
        if tag == "figure": self.figure = False
p = Rows(); p.feed(page)
assert len(p.rows) == len(search["points"]), (len(p.rows), len(search["points"]))
xs = [float(r["cells"][2]) for r in p.rows]
assert xs == sorted(xs), xs
best = [r for r in p.rows if r["best"]]
assert len(best) == 1 and abs(float(best[0]["cells"][2]) - 7.3) < 0.1, best
assert p.svg, "no inline SVG in the search figure"
assert "finished: " in page
print("ok: report: %d rows, best %s" % (len(p.rows), best[0]["cells"][2]))
EOF
  [[ -s $tmp/report/plots/plot-search.svg ]] || fail "no plots/plot-search.svg"
  [[ -s $tmp/report/data/plot-search-best.dat ]] || fail "no data/plot-search-best.dat"
else
  echo "note: gnuplot not installed: the report is not checked"
fi
echo "ok: search views"
