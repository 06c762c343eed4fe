"""Crafts one hostile variant of a real locsweep HDF5 file (for hostile_files.sh).

usage: hostile_files_craft.py SOURCE.h5 DEST.h5 CASE
"""
import shutil
import sys

import h5py
import numpy as np

src, dst, case = sys.argv[1:]
shutil.copy(src, dst)


def replace(f, path, data, **kw):
    del f[path]
    f.create_dataset(path, data=data, **kw)


if case == "truncated":
    with open(dst, "r+b") as g:
        g.truncate(2048)
    sys.exit(0)

with h5py.File(dst, "r+") as f:
    L = f["lambda"].shape[0] if "lambda" in f else 0
    W, T = f["blocks"].shape if "blocks" in f else (0, 0)
    if case == "step_array":
        f.attrs["step"] = np.arange(64, dtype=np.int64)
    elif case == "version_vector":
        f.attrs["version"] = np.ones(3, dtype=np.int64)
    elif case == "version_matrix":
        f.attrs["version"] = np.ones((4, 4), dtype=np.int64)
    elif case == "lambda_rank2":
        replace(f, "lambda", np.zeros((L, 3)))
    elif case == "lambda_larger":
        replace(f, "lambda", np.zeros(1000))
    elif case == "blocks_larger":
        replace(f, "blocks", np.zeros((W, 5000), dtype=np.int32))
    elif case == "blocks_short":
        replace(f, "blocks", np.zeros((W, T - 1), dtype=np.int32))
    elif case == "blocks_float":
        replace(f, "blocks", np.zeros((W, T)))
    elif case == "attention_rank4":
        replace(f, "attention", np.zeros((W, L, T, T), dtype=np.float16))
    elif case == "attention_huge":
        del f["attention"]
        f.create_dataset("attention", shape=(4000, 90, 100, 64, 64), dtype=np.float16,
                         chunks=(1, 1, 1, 64, 64))
    elif case == "wte_rank3":
        s = f["model/wte.weight"].shape
        replace(f, "model/wte.weight", np.zeros((1,) + s, dtype=np.float32))
    elif case == "wte_int":
        replace(f, "model/wte.weight", np.zeros(f["model/wte.weight"].shape, dtype=np.int32))
    else:
        raise SystemExit("unknown case " + case)
