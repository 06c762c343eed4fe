// Hugging Face GPT-2 weights in and out, as safetensors (trial/safetensors.hpp).
//
// Import accepts the names of HF's `gpt2` checkpoints with or without the "transformer."
// prefix, ignores the attention-mask buffers (attn.bias, attn.masked_bias) and a tied
// lm_head.weight, converts F16/BF16/F64 to float32, and crops wpe to the model's block_size.
// A missing or mis-shaped tensor is an InputError naming it; nothing is copied until all match.
#pragma once

#include <filesystem>

#include "worker/model.hpp"

namespace locsweep {

void load_hf_safetensors(const std::filesystem::path& path, Gpt2& model);
// Writes float32 tensors with HF names (no "transformer." prefix, as HF's gpt2 repo).
void export_hf_safetensors(const std::filesystem::path& path, const Gpt2& model);

}  // namespace locsweep
