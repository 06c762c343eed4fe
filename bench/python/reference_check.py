#!/usr/bin/python3
"""Reference outputs of the Python GPT-2 (gpt2_ref.py) for checking the C++ model.

Usage:
  /usr/bin/python3 bench/python/reference_check.py --weights model.safetensors \
      --config cfg.json --tokens tokens.json [--blocks blocks.json] --out ref.json \
      [--grads] [--double] [--attn] [--full-logits] [--hdf5-group /model]

--weights   HF-layout safetensors file, or an HDF5 file (.h5/.hdf5/.hdf) whose group
            --hdf5-group (default /model) holds datasets named by the HF names.

--config    JSON object, all keys at the top level:
              {"n_layer": 2, "n_head": 2, "n_embd": 8, "block_size": 16, "vocab_size": 11,
               "mechanism": "block", "lambdas": [0.0, 1.0],
               "sigma": 4, "kappa": 8, "theta": 1, "rho": 0.5, "gamma": 1}
            mechanism: none|window|block|mask|penalty (default none); lambdas: one per layer
            (default all 0); sigma/kappa/theta/rho/gamma default to the SPEC values.
            "dropout" is accepted and ignored (the check runs in eval mode, no dropout).

--tokens    Either a list of windows [[t0, t1, ..., tT], ...] of T+1 tokens each:
              inputs = row[:-1], targets = row[1:] (next-token shift);
            or {"inputs": [[...T...], ...], "targets": [[...T...], ...]} (targets may
            hold -1 = ignored; "targets" may be omitted: then no loss).

--blocks    Block ids for the inputs, one of:
              [[0, 0, 1, 1, ...], ...]   ids per input position, shape [batch, T]
              {"fixed": N}               fixed:N blocks
              {"ends": [[0, 1, ...], ...]} per-token "ends a block" flags (a block ends
                                          AFTER a flagged token)
            Required by block, mask and penalty.

Output (--out), one JSON object:
  dtype, batch, T, vocab_size, mechanism, lambdas, params (sigma...gamma),
  loss (mean token NLL, no penalty; null without targets), penalty, objective (= loss +
  penalty), ppl (= exp(loss)),
  logits_summary: {shape, sum, abs_sum, min, max, mean, first: first 16 values of [0, 0, :]},
  logits: full nested [B][T][V] list (only with --full-logits, or when B*T*V <= 100000),
  metrics: {entropy, norm_entropy, mean_distance[, in_block_mass]} each [layer][head]
           (definitions in gpt2_ref.py; norm_entropy skips the query i = 0),
  attn: per layer [B][H][T][T] (only with --attn),
  grads (only with --grads): {hf name: flat row-major list} = d(loss + penalty)/d param.
"""

import argparse
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpt2_ref as G  # noqa: E402

FULL_LOGITS_LIMIT = 100_000


def parse_blocks(spec, batch, T):
    if isinstance(spec, dict):
        if "fixed" in spec:
            return G.fixed_block_ids(batch, T, int(spec["fixed"]))
        if "ends" in spec:
            ids = G.block_ids_from_flags(torch.tensor(spec["ends"], dtype=torch.long))
            if tuple(ids.shape) != (batch, T):
                raise ValueError(f"blocks 'ends' shape {tuple(ids.shape)} != {(batch, T)}")
            return ids
        raise ValueError("blocks object needs a 'fixed' or an 'ends' key")
    ids = torch.tensor(spec, dtype=torch.long)
    if tuple(ids.shape) != (batch, T):
        raise ValueError(f"blocks shape {tuple(ids.shape)} != {(batch, T)}")
    return ids


def parse_tokens(spec):
    if isinstance(spec, dict):
        inputs = torch.tensor(spec["inputs"], dtype=torch.long)
        targets = spec.get("targets")
        targets = None if targets is None else torch.tensor(targets, dtype=torch.long)
        if targets is not None and targets.shape != inputs.shape:
            raise ValueError(f"targets shape {tuple(targets.shape)} != inputs {tuple(inputs.shape)}")
        return inputs, targets
    rows = torch.tensor(spec, dtype=torch.long)
    if rows.dim() != 2 or rows.shape[1] < 2:
        raise ValueError("tokens must be a list of windows of T+1 >= 2 tokens each")
    return rows[:, :-1].contiguous(), rows[:, 1:].contiguous()


def run(args):
    with open(args.config) as f:
        cfg_json = json.load(f)
    cfg = G.GPTConfig(
        n_layer=int(cfg_json["n_layer"]), n_head=int(cfg_json["n_head"]),
        n_embd=int(cfg_json["n_embd"]), block_size=int(cfg_json["block_size"]),
        vocab_size=int(cfg_json["vocab_size"]), dropout=0.0)
    loc = G.Locality(
        mechanism=cfg_json.get("mechanism", "none"),
        **{k: float(cfg_json[k]) for k in ("sigma", "kappa", "theta", "rho", "gamma") if k in cfg_json})
    lambdas = [float(x) for x in cfg_json.get("lambdas", [0.0] * cfg.n_layer)]

    model = G.GPT2(cfg)
    if args.double:
        model = model.double()
    w = args.weights
    if w.endswith((".h5", ".hdf5", ".hdf")):
        G.load_hdf5(model, w, args.hdf5_group)
    else:
        G.load_safetensors(model, w)
    model.eval()

    with open(args.tokens) as f:
        inputs, targets = parse_tokens(json.load(f))
    batch, T = inputs.shape
    blocks = None
    if args.blocks:
        with open(args.blocks) as f:
            blocks = parse_blocks(json.load(f), batch, T)

    out = model(inputs, targets, blocks=blocks, lambdas=lambdas,
                         locality=loc, return_attn=True)
    objective = out.penalty if out.loss is None else out.loss + out.penalty

    logits = out.logits.detach().to(torch.float64)
    res = {
        "dtype": "float64" if args.double else "float32",
        "batch": batch, "T": T, "vocab_size": cfg.vocab_size,
        "mechanism": loc.mechanism, "lambdas": lambdas,
        "params": {k: getattr(loc, k) for k in ("sigma", "kappa", "theta", "rho", "gamma")},
        "loss": None if out.loss is None else out.loss.item(),
        "penalty": out.penalty.item(),
        "objective": objective.item(),
        "ppl": None if out.loss is None else math.exp(out.loss.item()),
        "logits_summary": {
            "shape": list(logits.shape), "sum": logits.sum().item(),
            "abs_sum": logits.abs().sum().item(), "min": logits.min().item(),
            "max": logits.max().item(), "mean": logits.mean().item(),
            "first": logits[0, 0, :16].tolist(),
        },
        "metrics": G.model_metrics(out.attn, blocks),
    }
    if args.full_logits or logits.numel() <= FULL_LOGITS_LIMIT:
        res["logits"] = logits.tolist()
    if args.attn:
        res["attn"] = [a.detach().to(torch.float64).tolist() for a in out.attn]
    if args.grads:
        model.zero_grad(set_to_none=True)
        objective.backward()
        res["grads"] = {
            name: (p.grad if p.grad is not None else torch.zeros_like(p))
            .detach().to(torch.float64).reshape(-1).tolist()
            for name, p in model.named_parameters()
        }
    return res


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--weights", required=True)
    ap.add_argument("--hdf5-group", default="/model")
    ap.add_argument("--config", required=True)
    ap.add_argument("--tokens", required=True)
    ap.add_argument("--blocks")
    ap.add_argument("--out", required=True)
    ap.add_argument("--grads", action="store_true", help="gradients of loss + penalty")
    ap.add_argument("--double", action="store_true", help="compute in float64")
    ap.add_argument("--attn", action="store_true", help="include attention weights")
    ap.add_argument("--full-logits", action="store_true")
    args = ap.parse_args(argv)
    try:
        res = run(args)
    except KeyError as e:
        print(f"reference_check: error: missing key {e} in an input JSON file", file=sys.stderr)
        return 2
    except (ValueError, FileNotFoundError, json.JSONDecodeError) as e:
        print(f"reference_check: error: {e}", file=sys.stderr)
        return 2
    tmp = args.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(res, f)
    os.replace(tmp, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
