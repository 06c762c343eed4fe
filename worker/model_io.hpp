// Hugging Face GPT-2 weights in and out, as safetensors (trial/safetensors.hpp).
//
// Import accepts the names of HF's `gpt2` checkpoints with or without the "transformer."
// prefix, ignores the attention-mask buffers (attn.bias, attn.masked_bias) and a tied
// lm_head.weight, converts F16/BF16/F64 to float32, and crops wpe to the model's block_size.
// A missing or mis-shaped tensor is an InputError naming it; nothing is copied until all match.
//
// Export writes a folder that transformers' GPT2LMHeadModel.from_pretrained(folder) loads:
// model.safetensors and config.json (docs/data-formats.md). Hugging Face's GPT-2 runs these
// weights *without* locsweep's locality bias (window, block, mask: HF has no such term), so
// its perplexity differs from the trial's val_ppl for a localist model; config.json says so
// and records the locality the weights were trained with under "locsweep".
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>

#include "worker/model.hpp"

namespace locsweep {

void load_hf_safetensors(const std::filesystem::path& path, Gpt2& model);
// Writes float32 tensors with HF names (no "transformer." prefix, as HF's gpt2 repo).
void export_hf_safetensors(const std::filesystem::path& path, const Gpt2& model);

// Hugging Face's GPT2Config for `config` (GPT2LMHeadModel, tied LM head, gelu_new, layer-norm
// epsilon 1e-5), with `provenance` (trial hash, locality) and the locality caveat under the
// key "locsweep".
nlohmann::json hf_gpt2_config(const GptConfig& config, const nlohmann::json& provenance);

// Writes `folder`/model.safetensors (export_hf_safetensors) and `folder`/config.json
// (hf_gpt2_config); returns the path of model.safetensors.
std::filesystem::path export_hf_model(const std::filesystem::path& folder, const Gpt2& model,
                                      const nlohmann::json& provenance);

}  // namespace locsweep
