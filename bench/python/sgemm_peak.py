#!/usr/bin/python3
"""The machine's single-precision GEMM peak as PyTorch sees it: best-of-N 2048^3 torch.mm.

  /usr/bin/python3 bench/python/sgemm_peak.py [--threads 1] [--size 2048] [--runs 5]

Prints one JSON line: {"bench": "sgemm_peak", "gflops": best, "gflops_median", "size",
"threads", "runs", "best_s", "blas": {...}}. Use scripts/launch to get the BLAS/allocator
settings of real runs (this script never sets OPENBLAS_CORETYPE itself).
"""

import argparse
import ctypes
import json
import os
import re
import statistics
import sys
import time

import torch


def blas_info():
    """What BLAS libtorch will use: torch's build flags plus the loaded libblas.so.3."""
    cfg = torch.__config__.show()
    info = {
        "torch": torch.__version__,
        "torch_blas_info": m.group(1) if (m := re.search(r"\bBLAS_INFO=([^,\s]+)", cfg)) else None,
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
        "jemalloc_preloaded": "jemalloc" in os.environ.get("LD_PRELOAD", ""),
    }
    try:
        lib = ctypes.CDLL("libblas.so.3")
        f = lib.openblas_get_corename
        f.restype = ctypes.c_char_p
        info["libblas"] = "openblas"
        info["openblas_core"] = f().decode()
    except OSError:
        info["libblas"] = "not found"
    except AttributeError:
        info["libblas"] = "not openblas (reference BLAS, BLIS, ...)"
    return info


def set_threads(n):
    if n is not None:
        torch.set_num_interop_threads(1)
        torch.set_num_threads(n)


def main(argv=None):
    ap = argparse.ArgumentParser(description="sgemm peak GFLOP/s via torch.mm")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--size", type=int, default=2048)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args(argv)
    set_threads(args.threads)
    n = args.size
    g = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=g)
    b = torch.randn(n, n, generator=g)
    c = torch.empty(n, n)
    torch.mm(a, b, out=c)  # warm-up (thread pool, page faults)
    times = []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        torch.mm(a, b, out=c)
        times.append(time.perf_counter() - t0)
    flop = 2.0 * n * n * n
    print(json.dumps({
        "bench": "sgemm_peak", "size": n, "threads": torch.get_num_threads(),
        "runs": args.runs, "best_s": min(times), "gflops": flop / min(times) / 1e9,
        "gflops_median": flop / statistics.median(times) / 1e9, "blas": blas_info(),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
