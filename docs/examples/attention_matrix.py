"""Reads a recorded attention file with h5py: one attention matrix as text, and per-layer
entropy and in-block mass computed from all recorded windows and heads.

usage: attention_matrix.py ATTENTION.h5 [LAYER [HEAD [WINDOW]]]   (default: last layer, head 0, window 0)
"""
import sys

import h5py
import numpy as np

f = h5py.File(sys.argv[1], "r")
att = f["attention"]  # float16 [windows, layers, heads, T, T]: query i (row), key j (column)
W, L, H, T, _ = att.shape
layer, head, window = [int(x) for x in sys.argv[2:5]] + [L - 1, 0, 0][len(sys.argv[2:5]):]
print(f"{f.attrs['mechanism']} {f.attrs['schedule']}: {W} windows x {L} layers x {H} heads x {T}x{T} {att.dtype}")

a = att[window, layer, head].astype(np.float64)  # reads one chunk
blocks = f["blocks"][window]
print(f"layer {layer} (lambda {f['lambda'][layer]:.3f}), head {head}, window {window}: "
      f"max |row sum - 1| = {np.abs(a.sum(axis=1) - 1).max():.1e}, max above diagonal = {np.triu(a, 1).max():g}")
shades = " .:-=+*#%@"  # darker = more attention, on a square-root scale
start = max(0, T - 32)  # the last 32 queries and keys of the window
print(f"a_ij for i, j >= {start}; B = block of query i")
for i in range(start, T):
    cells = "".join(shades[min(9, int(np.sqrt(a[i, j]) * 10))] for j in range(start, T))
    print(f"{i:>3} B={blocks[i]:<3} |{cells}|")

print("layer  lambda  entropy(bits)  in-block mass")
all_blocks = f["blocks"][()]
same = all_blocks[:, :, None] == all_blocks[:, None, :]  # [W, T, T]: key j in query i's block
for l in range(L):
    al = att[:, l].astype(np.float64)  # [W, H, T, T]
    entropy = -(al * np.log2(np.where(al > 0, al, 1))).sum(-1).mean()
    mass = (al * same[:, None]).sum(-1).mean()
    print(f"{l:>5}  {f['lambda'][l]:.4f}  {entropy:>13.3f}  {mass:>13.3f}")
