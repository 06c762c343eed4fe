"""Independent PyTorch reference of locsweep's localist GPT-2 (one file, nanoGPT style).

Written from /work/shared/SPEC.md only (not from the C++ code), so the C++ model can be
checked against it (like llm.c's test_gpt2.c) and so the benchmark has a "same model in
PyTorch Python" side.

Model: GPT-2 with Hugging Face `gpt2` parameter names and Conv1D layout (weight [in, out],
y = x @ W + b); pre-LN blocks, LayerNorm eps 1e-5, GELU tanh approximation ("gelu_new"),
learned positions, LM head tied to wte (logits = ln_f(x) @ wte.weight.T), no other
parameters or persistent buffers (state_dict() == the HF names below, nothing else):

    wte.weight [V, C]            wpe.weight [T, C]
    h.{i}.ln_1.weight/bias [C]   h.{i}.attn.c_attn.weight [C, 3C] / bias [3C]
    h.{i}.attn.c_proj.weight [C, C] / bias [C]
    h.{i}.ln_2.weight/bias [C]   h.{i}.mlp.c_fc.weight [C, 4C] / bias [4C]
    h.{i}.mlp.c_proj.weight [4C, C] / bias [C]
    ln_f.weight/bias [C]

c_attn's output is [q | k | v], each C wide; head h is the contiguous slice
[h*d, (h+1)*d) of each, d = C / n_head.

Locality (SPEC "Mechanisms"), for layer l with lambda_l and block ids B [batch, T]:
    s_ij = q_i . k_j / sqrt(d), causal (j <= i), then
    none    : nothing
    window  : s_ij -= lambda_l * (i - j) / sigma
    block   : s_ij -= lambda_l * kappa * [B(j) != B(i)]
    mask    : if lambda_l >= theta (and lambda_l > 0): keys outside B(i) get -inf
              (the query itself is always in B(i)); otherwise as `block`
    penalty : scores unchanged; extra loss
              gamma * sum_l lambda_l * mean_{batch,h,i} max(0, rho - m_i),
              m_i = sum_{j in B(i)} a_ij
Defaults sigma=4, kappa=8, theta=1, rho=0.5, gamma=1. The bias is applied even at
lambda = 0 (0 * x == 0 and s - 0 == s in IEEE arithmetic), so lambda = 0 is bit-for-bit
plain attention for every mechanism. The one exception needs a rule: `mask` with
theta <= 0 would mask at lambda = 0, so the hard mask requires lambda_l > 0 as well.

Attention weights returned (return_attn=True) and used by the penalty are the softmax
output *before* attention dropout. Dropout (embedding, attention, residual; all = config
dropout) is only active in train() mode.

Metrics (attention_metrics), per layer and head, averaged over batch and queries:
    entropy        mean_i  H_i,  H_i = -sum_j a_ij log2 a_ij  (0 log 0 = 0), bits
    norm_entropy   mean over queries i >= 1 of H_i / log2(i + 1); the query i = 0 is
                   SKIPPED (log2(1) = 0). With T = 1 there is no query left: value 0.
    in_block_mass  mean_i m_i, m_i = sum_{j in B(i)} a_ij   (needs blocks)
    mean_distance  mean_i sum_j a_ij (i - j)

Block ids (SPEC "Blocks"): contiguous ids starting at 0 in every window; "sentence": a
block ends after a token whose text ends with '.', '!', '?' or '\\n'; "fixed:N": every N
tokens. See block_ids_from_flags, fixed_block_ids, sentence_end_flags.

Weights: load_safetensors (json/struct/numpy only, no `safetensors` package),
save_safetensors, load_hdf5 / save_hdf5 (datasets <group>/<hf name>, float32).
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass
from typing import Dict, List, NamedTuple, Optional, Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

MECHANISMS = ("none", "window", "block", "mask", "penalty")


# --------------------------------------------------------------------------- config


@dataclass
class GPTConfig:
    n_layer: int = 12
    n_head: int = 12
    n_embd: int = 768
    block_size: int = 1024
    vocab_size: int = 50257
    dropout: float = 0.0

    def __post_init__(self):
        if self.n_embd % self.n_head != 0:
            raise ValueError(f"n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head})")


@dataclass
class Locality:
    """A mechanism and its parameters (SPEC defaults)."""

    mechanism: str = "none"
    sigma: float = 4.0
    kappa: float = 8.0
    theta: float = 1.0
    rho: float = 0.5
    gamma: float = 1.0

    def __post_init__(self):
        if self.mechanism not in MECHANISMS:
            raise ValueError(f"unknown mechanism {self.mechanism!r}; one of {MECHANISMS}")
        if not self.sigma > 0:
            raise ValueError(f"sigma must be > 0, got {self.sigma}")

    @property
    def needs_blocks(self) -> bool:
        return self.mechanism in ("block", "mask", "penalty")


# --------------------------------------------------------------------------- modules


class Conv1D(nn.Module):
    """HF's Conv1D: weight [in, out], y = x @ W + b."""

    def __init__(self, n_in: int, n_out: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_in, n_out))
        self.bias = nn.Parameter(torch.zeros(n_out))

    def forward(self, x):
        shape = x.shape[:-1] + (self.weight.shape[1],)
        return torch.addmm(self.bias, x.reshape(-1, x.shape[-1]), self.weight).view(shape)


class Attention(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.n_head = cfg.n_head
        self.c_attn = Conv1D(cfg.n_embd, 3 * cfg.n_embd)
        self.c_proj = Conv1D(cfg.n_embd, cfg.n_embd)
        self.attn_dropout = nn.Dropout(cfg.dropout)
        self.resid_dropout = nn.Dropout(cfg.dropout)

    def forward(self, x, ctx: "_LayerContext", lam: float):
        Bsz, T, C = x.shape
        H, d = self.n_head, C // self.n_head
        q, k, v = self.c_attn(x).split(C, dim=2)
        q = q.view(Bsz, T, H, d).transpose(1, 2)  # [B, H, T, d]
        k = k.view(Bsz, T, H, d).transpose(1, 2)
        v = v.view(Bsz, T, H, d).transpose(1, 2)
        s = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(d))
        s = s.masked_fill(ctx.future, float("-inf"))

        loc = ctx.loc
        mech = loc.mechanism
        if mech == "window":
            s = s - (lam * ctx.distance / loc.sigma)
        elif mech == "block" or (mech == "mask" and not (lam > 0 and lam >= loc.theta)):
            s = s - (lam * loc.kappa) * ctx.other_block
        elif mech == "mask":
            s = s.masked_fill(ctx.other_block_bool, float("-inf"))

        a = F.softmax(s, dim=-1)
        penalty = None
        if mech == "penalty":
            m = (a * ctx.same_block).sum(-1)  # [B, H, T]
            penalty = lam * F.relu(loc.rho - m).mean()
        y = self.attn_dropout(a) @ v
        y = y.transpose(1, 2).contiguous().view(Bsz, T, C)
        return self.resid_dropout(self.c_proj(y)), a, penalty


class MLP(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.c_fc = Conv1D(cfg.n_embd, 4 * cfg.n_embd)
        self.c_proj = Conv1D(4 * cfg.n_embd, cfg.n_embd)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, x):
        return self.dropout(self.c_proj(F.gelu(self.c_fc(x), approximate="tanh")))


class Block(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(cfg.n_embd, eps=1e-5)
        self.attn = Attention(cfg)
        self.ln_2 = nn.LayerNorm(cfg.n_embd, eps=1e-5)
        self.mlp = MLP(cfg)

    def forward(self, x, ctx, lam):
        y, a, pen = self.attn(self.ln_1(x), ctx, lam)
        x = x + y
        x = x + self.mlp(self.ln_2(x))
        return x, a, pen


class _LayerContext:
    """Masks and biases shared by all layers of one forward pass."""

    def __init__(self, loc: Locality, T: int, blocks, dtype, device):
        self.loc = loc
        i = torch.arange(T, device=device)
        self.future = (i[None, :] > i[:, None])  # [T, T], True where j > i
        self.distance = (i[:, None] - i[None, :]).to(dtype)  # i - j
        if blocks is not None:
            same = blocks[:, :, None] == blocks[:, None, :]  # [B, T, T]
            self.other_block_bool = (~same)[:, None]  # [B, 1, T, T]
            self.other_block = self.other_block_bool.to(dtype)
            self.same_block = same[:, None].to(dtype)


class ForwardOutput(NamedTuple):
    logits: torch.Tensor  # [B, T, V]
    loss: Optional[torch.Tensor]  # mean token NLL (no penalty), None without targets
    penalty: torch.Tensor  # scalar; 0 unless mechanism == "penalty"
    attn: Optional[List[torch.Tensor]]  # per layer [B, H, T, T] when return_attn


class GPT2(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.config = cfg
        self.wte = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.wpe = nn.Embedding(cfg.block_size, cfg.n_embd)
        self.drop = nn.Dropout(cfg.dropout)
        self.h = nn.ModuleList([Block(cfg) for _ in range(cfg.n_layer)])
        self.ln_f = nn.LayerNorm(cfg.n_embd, eps=1e-5)

    @torch.no_grad()
    def init_weights(self, seed: int = 0):
        """GPT-2 initialisation: N(0, 0.02), residual projections N(0, 0.02/sqrt(2L)),
        zero biases, LayerNorm weight 1. Deterministic for a given seed."""
        g = torch.Generator().manual_seed(seed)
        for name, p in self.named_parameters():
            if name.endswith(("ln_1.weight", "ln_2.weight", "ln_f.weight")):
                p.fill_(1.0)
            elif name.endswith(".bias"):
                p.zero_()
            else:
                std = 0.02
                if name.endswith("c_proj.weight"):
                    std = 0.02 / math.sqrt(2 * self.config.n_layer)
                p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float32) * std)
        return self

    def forward(
        self,
        idx: torch.Tensor,
        targets: Optional[torch.Tensor] = None,
        blocks: Optional[torch.Tensor] = None,
        lambdas: Optional[Sequence[float]] = None,
        mechanism: str = "none",
        sigma: float = 4.0,
        kappa: float = 8.0,
        theta: float = 1.0,
        rho: float = 0.5,
        gamma: float = 1.0,
        return_attn: bool = False,
        locality: Optional[Locality] = None,
    ) -> ForwardOutput:
        """idx, targets: LongTensor [B, T] (targets may hold -1 = ignored).
        blocks: LongTensor [B, T] of block ids (needed by block/mask/penalty).
        lambdas: one float per layer in [0, 1] (default all 0).
        locality: a Locality, overriding mechanism/sigma/kappa/theta/rho/gamma."""
        cfg = self.config
        loc = locality or Locality(mechanism, sigma, kappa, theta, rho, gamma)
        Bsz, T = idx.shape
        if T > cfg.block_size:
            raise ValueError(f"sequence length {T} > block_size {cfg.block_size}")
        lams = [0.0] * cfg.n_layer if lambdas is None else [float(x) for x in lambdas]
        if len(lams) != cfg.n_layer:
            raise ValueError(f"lambdas has {len(lams)} values, the model has {cfg.n_layer} layers")
        if loc.needs_blocks:
            if blocks is None:
                raise ValueError(f"mechanism {loc.mechanism!r} needs block ids")
            if tuple(blocks.shape) != (Bsz, T):
                raise ValueError(f"blocks shape {tuple(blocks.shape)} != idx shape {(Bsz, T)}")

        dtype = self.wte.weight.dtype
        pos = torch.arange(T, device=idx.device)
        x = self.drop(self.wte(idx) + self.wpe(pos)[None])
        ctx = _LayerContext(loc, T, blocks if loc.needs_blocks else None, dtype, idx.device)
        attn = [] if return_attn else None
        penalty = torch.zeros((), dtype=dtype, device=idx.device)
        for block, lam in zip(self.h, lams):
            x, a, pen = block(x, ctx, lam)
            if return_attn:
                attn.append(a)
            if pen is not None:
                penalty = penalty + pen
        if loc.mechanism == "penalty":
            penalty = loc.gamma * penalty
        x = self.ln_f(x)
        logits = x @ self.wte.weight.t()  # tied LM head
        loss = None
        if targets is not None:
            loss = F.cross_entropy(
                logits.view(-1, logits.size(-1)), targets.reshape(-1), ignore_index=-1
            )
        return ForwardOutput(logits, loss, penalty, attn)


# --------------------------------------------------------------------------- schedules


def polynomial_lambdas(n_layer: int, beta: float, lmin: float = 0.0, lmax: float = 1.0):
    """SPEC polynomial schedule: lmin + (lmax - lmin) * (l / (L-1))^beta; L = 1 -> [lmax]."""
    if n_layer == 1:
        return [lmax]
    return [lmin + (lmax - lmin) * (l / (n_layer - 1)) ** beta for l in range(n_layer)]


# --------------------------------------------------------------------------- blocks


def block_ids_from_flags(ends) -> torch.Tensor:
    """Block ids from per-token "ends a block" flags ([T] or [B, T], bool/0-1).
    A block ends AFTER a flagged token: id_t = number of flagged tokens before t."""
    e = torch.as_tensor(ends).to(torch.long)
    squeeze = e.dim() == 1
    if squeeze:
        e = e[None]
    ids = torch.cumsum(e, dim=1) - e  # exclusive cumulative sum
    return ids[0] if squeeze else ids


def fixed_block_ids(batch: int, T: int, n: int) -> torch.Tensor:
    """"fixed:N" blocks: id_t = t // N for every window. Returns LongTensor [batch, T]."""
    if n <= 0:
        raise ValueError(f"fixed block size must be > 0, got {n}")
    return (torch.arange(T) // n)[None].expand(batch, T).clone()


def token_ends_sentence(text) -> bool:
    """True if a token's text (str or bytes) ends with '.', '!', '?' or a newline."""
    if isinstance(text, str):
        text = text.encode("utf-8")
    return len(text) > 0 and text[-1:] in (b".", b"!", b"?", b"\n")


def _gpt2_byte_decoder() -> Dict[str, int]:
    # GPT-2's bytes_to_unicode, inverted: printable char -> byte.
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    bs += list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs)}


def gpt2_token_bytes(encoder_json_path: str) -> List[bytes]:
    """Bytes of every token id from GPT-2's encoder.json (index = token id)."""
    with open(encoder_json_path, encoding="utf-8") as f:
        enc = json.load(f)
    dec = _gpt2_byte_decoder()
    out: List[bytes] = [b""] * (max(enc.values()) + 1)
    for s, i in enc.items():
        out[i] = bytes(dec[ch] for ch in s)
    return out


def sentence_end_flags(tokens, token_text) -> torch.Tensor:
    """Flags for "sentence" blocks. tokens: ids [T] or [B, T]; token_text: id -> str/bytes
    (a list such as gpt2_token_bytes(), or raw bytes demos: lambda t: bytes([t]))."""
    t = torch.as_tensor(tokens)
    look = token_text.__getitem__ if not callable(token_text) else token_text
    flat = [token_ends_sentence(look(int(x))) for x in t.reshape(-1)]
    return torch.tensor(flat, dtype=torch.bool).view(t.shape)


# --------------------------------------------------------------------------- metrics


@torch.no_grad()
def attention_metrics(a: torch.Tensor, blocks: Optional[torch.Tensor] = None) -> Dict[str, torch.Tensor]:
    """Per-head metrics of one layer's attention a [B, H, T, T] (rows sum to 1, causal).
    Returns tensors of shape [H] (float64): entropy, norm_entropy, mean_distance and, when
    blocks [B, T] is given, in_block_mass. See the module docstring for the definitions."""
    a = a.detach().to(torch.float64)
    Bsz, H, T, _ = a.shape
    plogp = torch.where(a > 0, a * torch.log2(torch.where(a > 0, a, torch.ones_like(a))),
                        torch.zeros_like(a))
    Hq = -plogp.sum(-1)  # [B, H, T]
    out = {"entropy": Hq.mean(dim=(0, 2))}
    if T > 1:
        norm = torch.log2(torch.arange(2, T + 1, dtype=torch.float64))  # i = 1..T-1
        out["norm_entropy"] = (Hq[:, :, 1:] / norm).mean(dim=(0, 2))
    else:
        out["norm_entropy"] = torch.zeros(H, dtype=torch.float64)
    i = torch.arange(T, dtype=torch.float64)
    dist = (i[:, None] - i[None, :]).clamp(min=0)
    out["mean_distance"] = (a * dist).sum(-1).mean(dim=(0, 2))
    if blocks is not None:
        same = (blocks[:, :, None] == blocks[:, None, :])[:, None].to(torch.float64)
        out["in_block_mass"] = (a * same).sum(-1).mean(dim=(0, 2))
    return out


def model_metrics(attn: List[torch.Tensor], blocks=None) -> Dict[str, List[List[float]]]:
    """attention_metrics for every layer: {metric: [[per head] per layer]}."""
    per_layer = [attention_metrics(a, blocks) for a in attn]
    return {k: [m[k].tolist() for m in per_layer] for k in per_layer[0]}


# --------------------------------------------------------------------------- weights

_ST_DTYPES = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "BF16": None,
              "I64": np.int64, "I32": np.int32, "U8": np.uint8}
_IGNORED_SUFFIXES = (".attn.bias", ".attn.masked_bias")  # HF causal-mask buffers


def read_safetensors(path: str) -> Dict[str, np.ndarray]:
    """Every tensor of a safetensors file as numpy (BF16 widened to float32).
    Format: u64 little-endian header length N, N bytes of JSON
    {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}, raw buffer."""
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise ValueError(f"{path}: too short for a safetensors file")
        (n,) = struct.unpack("<Q", head)
        size = f.seek(0, 2)
        if 8 + n > size:
            raise ValueError(f"{path}: header length {n} exceeds the file size {size}")
        f.seek(8)
        header = json.loads(f.read(n).decode("utf-8"))
    buf = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + n) if size > 8 + n \
        else np.zeros(0, np.uint8)
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dt = info["dtype"]
        if dt not in _ST_DTYPES:
            raise ValueError(f"{path}: tensor {name}: unsupported dtype {dt}")
        b, e = info["data_offsets"]
        if not 0 <= b <= e <= buf.size:
            raise ValueError(f"{path}: tensor {name}: data_offsets {[b, e]} outside the buffer")
        raw = np.asarray(buf[b:e])
        shape = tuple(info["shape"])
        if dt == "BF16":
            arr = (raw.view("<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            arr = raw.view(np.dtype(_ST_DTYPES[dt]).newbyteorder("<"))
        if arr.size != int(np.prod(shape)):
            raise ValueError(f"{path}: tensor {name}: {arr.size} values for shape {list(shape)}")
        out[name] = arr.reshape(shape).astype(arr.dtype.newbyteorder("="), copy=True)
    return out


def write_safetensors(tensors: Dict[str, np.ndarray], path: str, metadata=None):
    """Write numpy arrays (float32/float64/...) as a safetensors file."""
    rev = {np.dtype(v): k for k, v in _ST_DTYPES.items() if v is not None}
    header, chunks, off = {}, [], 0
    for name, arr in tensors.items():
        arr = np.ascontiguousarray(arr)
        raw = arr.astype(arr.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": rev[arr.dtype], "shape": list(arr.shape),
                        "data_offsets": [off, off + len(raw)]}
        chunks.append(raw)
        off += len(raw)
    if metadata:
        header["__metadata__"] = metadata
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)  # align the buffer to 8 bytes
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for c in chunks:
            f.write(c)


@torch.no_grad()
def load_state(model: GPT2, tensors: Dict[str, np.ndarray], source: str = "weights",
               crop_wpe: bool = True):
    """Copy HF-named arrays into the model. Tolerates a "transformer." prefix, HF's
    attention-mask buffers and lm_head.weight (tied, so ignored). With crop_wpe, a wpe with
    more rows than block_size (HF gpt2 has 1024) keeps its first block_size rows."""
    params = dict(model.named_parameters())
    seen = set()
    for raw_name, arr in tensors.items():
        name = raw_name[len("transformer."):] if raw_name.startswith("transformer.") else raw_name
        if name.endswith(_IGNORED_SUFFIXES) or name == "lm_head.weight":
            continue
        if name not in params:
            raise ValueError(f"{source}: unexpected tensor {raw_name!r} (not a GPT-2 parameter)")
        p = params[name]
        t = torch.from_numpy(np.asarray(arr))
        if name == "wpe.weight" and crop_wpe and t.dim() == 2 and t.shape[0] > p.shape[0] \
                and t.shape[1] == p.shape[1]:
            t = t[: p.shape[0]]
        if tuple(t.shape) != tuple(p.shape):
            raise ValueError(f"{source}: {name} has shape {tuple(t.shape)}, expected {tuple(p.shape)}")
        p.copy_(t.to(p.dtype))
        seen.add(name)
    missing = sorted(set(params) - seen)
    if missing:
        raise ValueError(f"{source}: missing parameters {missing[:5]}{' ...' if len(missing) > 5 else ''}")
    return model


def load_safetensors(model: GPT2, path: str, crop_wpe: bool = True):
    return load_state(model, read_safetensors(path), path, crop_wpe)


def save_safetensors(model: GPT2, path: str):
    write_safetensors({k: v.detach().cpu().numpy() for k, v in model.named_parameters()}, path)


def load_hdf5(model: GPT2, path: str, group: str = "/model", crop_wpe: bool = True):
    """Load datasets <group>/<hf name> (e.g. /model/h.0.attn.c_attn.weight) with h5py."""
    import h5py

    with h5py.File(path, "r") as f:
        if group not in f:
            raise ValueError(f"{path}: no group {group!r}")
        g = f[group]
        tensors = {name: np.asarray(g[name][()]) for name in g.keys()
                   if isinstance(g[name], h5py.Dataset)}
    return load_state(model, tensors, f"{path}:{group}", crop_wpe)


def save_hdf5(model: GPT2, path: str, group: str = "/model"):
    """Write every parameter as a float32 dataset <group>/<hf name>."""
    import h5py

    with h5py.File(path, "a") as f:
        g = f.require_group(group)
        for name, p in model.named_parameters():
            if name in g:
                del g[name]
            g.create_dataset(name, data=p.detach().cpu().numpy().astype(np.float32))
