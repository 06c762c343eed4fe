"""Per-layer attention metrics of a sweep (head_metrics), mean over heads and seeds.

usage: layer_metrics.py RESULTS.sqlite [SWEEP]

Prints per configuration and layer: lambda, attention entropy (bits), in-block mass and
mean attention distance (tokens), as measured on the validation windows.
"""
import sqlite3
import sys

db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
sweep = sys.argv[2] if len(sys.argv) > 2 else db.execute("SELECT name FROM sweeps").fetchone()[0]
print(f"{'configuration':<24} {'layer':>5} {'lambda':>7} {'entropy':>8} {'in-block':>8} {'distance':>8}")
for row in db.execute("""
    SELECT substr(t.label, 1, instr(t.label, ' seed=') - 1) AS config, h.layer, avg(h.lambda),
           avg(h.entropy_bits), avg(h.in_block_mass), avg(h.mean_distance)
    FROM head_metrics h JOIN trials t ON t.hash = h.trial_hash
    JOIN sweep_trials st ON st.trial_hash = t.hash JOIN sweeps s ON s.id = st.sweep_id
    WHERE s.name = ? AND t.status = 'done'
    GROUP BY json_remove(t.canonical_json, '$.seed'), h.layer ORDER BY min(st.position), h.layer""", (sweep,)):
    print("{:<24} {:>5} {:>7.4f} {:>8.4f} {:>8.4f} {:>8.3f}".format(*row))
