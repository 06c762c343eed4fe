"""Reads a locsweep checkpoint with h5py: its attributes, its parameters, and its checksum.

usage: read_checkpoint.py CHECKPOINT.h5

Exits 1 when the stored checksum does not match the file's contents (a damaged file).
"""
import hashlib
import json
import sys

import h5py

f = h5py.File(sys.argv[1], "r")
a = f.attrs
config = json.loads(a["config"])
print(f"{a['format']} v{a['version']}  trial {a['trial_hash'][:12]}  step {a['step']}  threads {a['threads']}")
model = f["model"]
total = sum(model[name].size for name in model)
print(f"{len(model)} parameter tensors, {total} parameters; wte.weight {model['wte.weight'].shape} "
      f"{model['wte.weight'].dtype}; model config {config['model']}")

# The checksum: SHA-256 of the config text, the step in decimal, then each dataset's path and
# raw bytes: parameters in the model's order, the two AdamW moments in that order, the RNG
# state and the recent losses.
order = ["wte.weight", "wpe.weight"]
for layer in range(config["model"]["n_layer"]):
    for part in ["ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias", "attn.c_proj.weight",
                 "attn.c_proj.bias", "ln_2.weight", "ln_2.bias", "mlp.c_fc.weight", "mlp.c_fc.bias",
                 "mlp.c_proj.weight", "mlp.c_proj.bias"]:
        order.append(f"h.{layer}.{part}")
order += ["ln_f.weight", "ln_f.bias"]
paths = [f"/{group}/{name}" for group in ("model", "optimizer/exp_avg", "optimizer/exp_avg_sq") for name in order]
h = hashlib.sha256(a["config"].encode() + str(a["step"]).encode())
for path in paths + ["/rng/dropout", "/train/recent_loss"]:
    h.update(path.encode())
    h.update(f[path][()].tobytes())
ok = h.hexdigest() == a["checksum"]
print("checksum", "OK" if ok else f"MISMATCH (stored {a['checksum'][:16]}, computed {h.hexdigest()[:16]})")
sys.exit(0 if ok else 1)
