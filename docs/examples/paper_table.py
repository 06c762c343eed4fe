"""The paper-style table of a sweep, straight from its results database (sqlite3 only).

usage: paper_table.py RESULTS.sqlite [SWEEP]

One row per configuration (its done trials over seeds): mean validation perplexity and
the mean ratio to the distributed trial with the same seed, data and model.
"""
import sqlite3
import sys

db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)  # read-only; fine during a run
sweep = sys.argv[2] if len(sys.argv) > 2 else db.execute("SELECT name FROM sweeps").fetchone()[0]
rows = db.execute("""
    WITH done AS (
      SELECT t.*, st.position, json_remove(t.canonical_json, '$.seed') AS config,
             json_remove(t.canonical_json, '$.seed', '$.locality') AS base
      FROM trials t JOIN sweep_trials st ON st.trial_hash = t.hash JOIN sweeps s ON s.id = st.sweep_id
      WHERE s.name = ? AND t.status = 'done')
    SELECT substr(d.label, 1, instr(d.label, ' seed=') - 1), count(*), avg(d.val_ppl), avg(d.val_ppl / b.val_ppl)
    FROM done d LEFT JOIN done b ON b.base = d.base AND b.seed = d.seed AND b.mechanism = 'none'
    GROUP BY d.config ORDER BY min(d.position)""", (sweep,)).fetchall()
print(f"{'configuration':<24} {'seeds':>5} {'PPL':>10} {'ratio':>7}")
for label, seeds, ppl, ratio in rows:
    print(f"{label:<24} {seeds:>5} {ppl:>10.4f} {ratio if ratio is not None else float('nan'):>7.4f}")
