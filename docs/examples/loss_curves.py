"""Training curves of a sweep: loss per step of each configuration, mean over its seeds.

usage: loss_curves.py RESULTS.sqlite [SWEEP]

Prints per configuration the steps covered, the first and last training loss, a text
sparkline of the curve, and the validation loss at each evaluation step.
"""
import sqlite3
import sys
from collections import defaultdict

db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
sweep = sys.argv[2] if len(sys.argv) > 2 else db.execute("SELECT name FROM sweeps").fetchone()[0]
curves = defaultdict(lambda: defaultdict(list))  # (configuration, split) -> step -> losses
for config, split, step, loss in db.execute("""
    SELECT substr(t.label, 1, instr(t.label, ' seed=') - 1), m.split, m.step, m.loss
    FROM step_metrics m JOIN trials t ON t.hash = m.trial_hash
    JOIN sweep_trials st ON st.trial_hash = t.hash JOIN sweeps s ON s.id = st.sweep_id
    WHERE s.name = ? AND t.status = 'done' ORDER BY st.position, m.step""", (sweep,)):
    curves[config, split][step].append(loss)

bars = "▁▂▃▄▅▆▇█"
for (config, split), by_step in curves.items():
    if split != "train":
        continue
    steps = sorted(by_step)
    mean = [sum(by_step[s]) / len(by_step[s]) for s in steps]
    lo, hi = min(mean), max(mean)
    spark = "".join(bars[round((v - lo) / (hi - lo or 1) * 7)] for v in mean[:: max(1, len(mean) // 40)])
    print(f"{config:<24} steps {steps[0]}-{steps[-1]}  train loss {mean[0]:.4f} -> {mean[-1]:.4f}  {spark}")
    val = curves.get((config, "val"), {})
    for s in sorted(val):
        print(f"{'':<24} val loss at step {s}: {sum(val[s]) / len(val[s]):.4f}")
