#!/usr/bin/env python3
"""Checks a locsweep Hugging Face export folder (worker/model_io.hpp: export_hf_model) the way
transformers' GPT2LMHeadModel.from_pretrained(folder) reads it, with the standard library
only: config.json has GPT2Config's fields (names as in transformers' GPT2Config) and they
agree with model.safetensors' header (tensor names as HF's gpt2 repo, Conv1D [in, out]
shapes, F32, contiguous data offsets covering the file). When transformers is importable it
also loads the folder and compares every weight. Exit 0 = OK; otherwise prints what is wrong.

    python3 hf_export_check.py FOLDER
"""
import json
import os
import struct
import sys

folder = sys.argv[1]
errors = []


def expect(ok, what):
    if not ok:
        errors.append(what)


config = json.load(open(os.path.join(folder, "config.json")))
# GPT2Config's constructor arguments (transformers docs), and what a plain GPT-2 has.
INTS = ["vocab_size", "n_positions", "n_embd", "n_layer", "n_head"]
for key in INTS:
    expect(isinstance(config.get(key), int) and config[key] > 0, f"config.json: {key} is not a positive int")
expect(config.get("model_type") == "gpt2", "config.json: model_type is not gpt2")
expect(config.get("architectures") == ["GPT2LMHeadModel"], "config.json: architectures")
expect(config.get("activation_function") == "gelu_new", "config.json: activation_function")
expect(config.get("layer_norm_epsilon") == 1e-5, "config.json: layer_norm_epsilon")
expect("n_inner" in config and config["n_inner"] in (None, 4 * config.get("n_embd", 0)), "config.json: n_inner")
for key in ["resid_pdrop", "embd_pdrop", "attn_pdrop"]:
    expect(isinstance(config.get(key), (int, float)) and 0 <= config[key] < 1, f"config.json: {key}")
expect(config.get("tie_word_embeddings", True) is True, "config.json: tie_word_embeddings")
expect(config.get("scale_attn_weights", True) is True, "config.json: scale_attn_weights")
expect(not config.get("scale_attn_by_inverse_layer_idx", False), "config.json: scale_attn_by_inverse_layer_idx")
for key in ["bos_token_id", "eos_token_id"]:
    v = config.get(key)
    expect(v is None or (isinstance(v, int) and 0 <= v < config.get("vocab_size", 0)), f"config.json: {key} out of range")
note = config.get("locsweep", {}).get("note", "")
expect("without locsweep's locality bias" in note, "config.json: locsweep.note lacks the locality caveat")
if errors:
    print("\n".join(errors))
    sys.exit(1)
expect(config["n_embd"] % config["n_head"] == 0, "config.json: n_embd is not a multiple of n_head")

path = os.path.join(folder, "model.safetensors")
size = os.path.getsize(path)
with open(path, "rb") as f:
    (header_len,) = struct.unpack("<Q", f.read(8))
    header = json.loads(f.read(header_len))
meta = header.pop("__metadata__", {})
expect(meta.get("format") == "pt", "safetensors: __metadata__.format is not pt")

V, P, C, L = (config[k] for k in ["vocab_size", "n_positions", "n_embd", "n_layer"])
want = {"wte.weight": [V, C], "wpe.weight": [P, C], "ln_f.weight": [C], "ln_f.bias": [C]}
for i in range(L):
    p = f"h.{i}."
    want.update({
        p + "ln_1.weight": [C], p + "ln_1.bias": [C],
        p + "attn.c_attn.weight": [C, 3 * C], p + "attn.c_attn.bias": [3 * C],
        p + "attn.c_proj.weight": [C, C], p + "attn.c_proj.bias": [C],
        p + "ln_2.weight": [C], p + "ln_2.bias": [C],
        p + "mlp.c_fc.weight": [C, 4 * C], p + "mlp.c_fc.bias": [4 * C],
        p + "mlp.c_proj.weight": [4 * C, C], p + "mlp.c_proj.bias": [C],
    })
expect(set(header) == set(want),
       f"safetensors: names differ from GPT-2's for n_layer={L}: missing {sorted(set(want) - set(header))[:4]}, "
       f"extra {sorted(set(header) - set(want))[:4]}")
end = 0
for name, entry in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
    expect(entry["dtype"] == "F32", f"safetensors: {name} is {entry['dtype']}, not F32")
    expect(entry["shape"] == want.get(name), f"safetensors: {name} has shape {entry['shape']}, config.json means {want.get(name)}")
    begin, stop = entry["data_offsets"]
    count = 1
    for d in entry["shape"]:
        count *= d
    expect(begin == end and stop - begin == 4 * count, f"safetensors: {name} data_offsets {begin}..{stop}")
    end = stop
expect(8 + header_len + end == size, "safetensors: the data does not end at the end of the file")

try:
    import numpy
    import transformers
except ImportError:
    transformers = None
if transformers is not None and not errors:
    model = transformers.GPT2LMHeadModel.from_pretrained(folder)
    state = model.transformer.state_dict()
    with open(path, "rb") as f:
        data = f.read()[8 + header_len:]
    for name, entry in header.items():
        begin, stop = entry["data_offsets"]
        ours = numpy.frombuffer(data[begin:stop], dtype="<f4").reshape(entry["shape"])
        expect(numpy.array_equal(state[name].numpy(), ours), f"transformers: {name} differs after from_pretrained")
    print("transformers", transformers.__version__, "loaded the folder")

if errors:
    print("\n".join(errors))
    sys.exit(1)
print(f"OK: {L} layers, {len(header)} tensors, config.json agrees with model.safetensors")
