#!/usr/bin/python3
"""Training and evaluation throughput of the Python GPT-2 reference (the "same model in
PyTorch Python" side of the C++ benchmark).

  /usr/bin/python3 bench/python/bench_train.py --config tiny --mechanism none \
      --threads 1 --warmup 2 --steps 5 [--eval-steps N] [--verbose]

Configs (dropout 0, random tokens from a fixed seed):
  tiny       6 layers, 4 heads, 256 wide, T=128, B=8, vocab 50257, block_size 128
  gpt2-124m  12 layers, 12 heads, 768 wide, T=256, B=2, vocab 50257, block_size 1024
Locality (reproducible): lambdas = quintic schedule (l/(L-1))^5, blocks = fixed:16, SPEC
default parameters; --mechanism none|window|block|mask|penalty.
Train step = forward + backward of (loss + penalty) + clip_grad_norm_(1.0) +
torch.optim.AdamW(lr 3e-4, betas (0.9, 0.95), weight decay 0.1 on 2-D params only).
Eval step = no_grad forward + loss. Warm-up steps are excluded; tokens/s = B*T / median
step time (train_cpu_ms / eval_cpu_ms: the process's CPU time per step, to spot a
shared machine: wall >> cpu / threads means others held the cores). Prints one JSON line
on stdout; --verbose prints torch's build and parallel configuration on stderr.
Run it through scripts/launch for the BLAS/allocator settings of real runs; this script
never sets OPENBLAS_CORETYPE.
"""

import argparse
import json
import os
import statistics
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gpt2_ref as G  # noqa: E402
from sgemm_peak import blas_info  # noqa: E402

CONFIGS = {
    "tiny": dict(model=dict(n_layer=6, n_head=4, n_embd=256, block_size=128, vocab_size=50257),
                 T=128, B=8),
    "gpt2-124m": dict(model=dict(n_layer=12, n_head=12, n_embd=768, block_size=1024,
                                 vocab_size=50257), T=256, B=2),
}
FIXED_BLOCK = 16
SCHEDULE_BETA = 5  # quintic


def make_optimizer(model, lr=3e-4, weight_decay=0.1):
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    return torch.optim.AdamW(
        [{"params": decay, "weight_decay": weight_decay},
         {"params": no_decay, "weight_decay": 0.0}],
        lr=lr, betas=(0.9, 0.95))


def main(argv=None):
    ap = argparse.ArgumentParser(description="GPT-2 reference training/eval throughput")
    ap.add_argument("--config", choices=sorted(CONFIGS), default="tiny")
    ap.add_argument("--mechanism", choices=G.MECHANISMS, default="none")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch.set_num_threads(N) and set_num_interop_threads(1)")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5, help="timed training steps")
    ap.add_argument("--eval-steps", type=int, default=None, help="timed eval steps (default --steps)")
    ap.add_argument("--seed", type=int, default=1337)
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)
    if args.steps < 1 or args.warmup < 0:
        ap.error("--steps must be >= 1 and --warmup >= 0")
    eval_steps = args.steps if args.eval_steps is None else args.eval_steps

    if args.threads is not None:
        torch.set_num_interop_threads(1)
        torch.set_num_threads(args.threads)
    if args.verbose:
        print(torch.__config__.show(), file=sys.stderr)
        print(torch.__config__.parallel_info(), file=sys.stderr)
        print(json.dumps(blas_info()), file=sys.stderr)

    spec = CONFIGS[args.config]
    cfg = G.GPTConfig(**spec["model"], dropout=0.0)
    B, T = spec["B"], spec["T"]
    torch.manual_seed(args.seed)
    model = G.GPT2(cfg).init_weights(args.seed)
    opt = make_optimizer(model)
    loc = G.Locality(args.mechanism)
    lambdas = G.polynomial_lambdas(cfg.n_layer, SCHEDULE_BETA)
    blocks = G.fixed_block_ids(B, T, FIXED_BLOCK)
    gen = torch.Generator().manual_seed(args.seed)

    def batch():
        rows = torch.randint(0, cfg.vocab_size, (B, T + 1), generator=gen)
        return rows[:, :-1].contiguous(), rows[:, 1:].contiguous()

    model.train()
    train_times, train_cpu, losses = [], [], []
    for step in range(args.warmup + args.steps):
        x, y = batch()
        t0, c0 = time.perf_counter(), time.process_time()
        opt.zero_grad(set_to_none=True)
        out = model(x, y, blocks=blocks, lambdas=lambdas, locality=loc)
        (out.loss + out.penalty).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        loss = out.loss.item()
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
        losses.append(loss)
        if step >= args.warmup:
            train_times.append(dt)
            train_cpu.append(dc)

    model.eval()
    eval_times, eval_cpu = [], []
    with torch.no_grad():
        for step in range(args.warmup + eval_steps):
            x, y = batch()
            t0, c0 = time.perf_counter(), time.process_time()
            out = model(x, y, blocks=blocks, lambdas=lambdas, locality=loc)
            out.loss.item()
            dt, dc = time.perf_counter() - t0, time.process_time() - c0
            if step >= args.warmup:
                eval_times.append(dt)
                eval_cpu.append(dc)

    tr = statistics.median(train_times)
    ev = statistics.median(eval_times) if eval_times else None
    print(json.dumps({
        "bench": "train", "impl": "pytorch-python", "config": args.config,
        "mechanism": args.mechanism, "threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(), "batch": B, "seq": T,
        "n_params": sum(p.numel() for p in model.parameters()),
        "warmup": args.warmup, "steps": args.steps, "eval_steps": eval_steps,
        "train_tok_s": B * T / tr, "train_step_ms": 1e3 * tr,
        "eval_tok_s": None if ev is None else B * T / ev,
        "eval_step_ms": None if ev is None else 1e3 * ev,
        # CPU time of this process per step (all threads); step_ms well above
        # cpu_ms / threads means other processes held the cores
        "train_cpu_ms": 1e3 * statistics.median(train_cpu),
        "eval_cpu_ms": 1e3 * statistics.median(eval_cpu) if eval_cpu else None,
        "loss_first": losses[0], "loss_last": losses[-1],
        "lambdas": [round(l, 6) for l in lambdas], "blocks": f"fixed:{FIXED_BLOCK}",
        "blas": blas_info(),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
