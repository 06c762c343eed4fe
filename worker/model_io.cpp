#include "worker/model_io.hpp"

#include <map>

#include "common/error.hpp"
#include "common/files.hpp"
#include "trial/safetensors.hpp"

namespace locsweep {
namespace fs = std::filesystem;

namespace {

torch::ScalarType torch_type(DType d) {
  switch (d) {
    case DType::f32:
      return torch::kFloat32;
    case DType::f16:
      return torch::kFloat16;
    case DType::bf16:
      return torch::kBFloat16;
    case DType::f64:
      return torch::kFloat64;
    default:
      return torch::kByte;  // rejected by the caller
  }
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

}  // namespace

void load_hf_safetensors(const fs::path& path, Gpt2& model) {
  const SafetensorsFile file = SafetensorsFile::open(path);
  std::map<std::string, torch::Tensor> ready;  // HF name -> float32 tensor to copy
  std::vector<std::string> missing;
  for (const auto& p : model.parameters()) {
    const TensorInfo* t = file.find(p.name);
    if (!t) t = file.find("transformer." + p.name);
    if (!t) {
      missing.push_back(p.name);
      continue;
    }
    if (t->dtype != DType::f32 && t->dtype != DType::f16 && t->dtype != DType::bf16 &&
        t->dtype != DType::f64)
      throw InputError("'" + path.string() + "': " + t->name + " has dtype " +
                       std::string(to_string(t->dtype)) + "; GPT-2 weights must be floating point");
    // The shape is checked before anything is converted (the header is validated against
    // the file by SafetensorsFile::open, so the bytes match dtype and shape).
    const std::vector<int64_t> want = p.tensor.sizes().vec();
    const bool longer_wpe = p.name == "wpe.weight" && t->shape.size() == 2 &&
                            t->shape[0] >= want[0] && t->shape[1] == want[1];
    if (t->shape != want && !longer_wpe)
      throw InputError(
          "'" + path.string() + "': " + t->name + " has shape " + shape_text(t->shape) +
          ", this model needs " + shape_text(want) +
          " (check model.n_layer/n_head/n_embd/block_size/vocab_size against the checkpoint)");
    auto bytes = file.data(*t);
    auto tensor =
        torch::from_blob(const_cast<std::byte*>(bytes.data()), t->shape, torch_type(t->dtype))
            .to(torch::kFloat32);  // copies out of the mapping
    if (longer_wpe)
      tensor = tensor.narrow(0, 0, want[0]);  // the model may use fewer positions than HF's 1,024
    ready[p.name] = tensor;
  }
  if (!missing.empty()) {
    std::string list;
    for (size_t i = 0; i < missing.size() && i < 5; ++i) list += (i ? ", " : "") + missing[i];
    if (missing.size() > 5) list += ", ... (" + std::to_string(missing.size()) + " in all)";
    throw InputError("'" + path.string() + "' lacks tensors this model needs: " + list);
  }
  torch::NoGradGuard no_grad;
  for (const auto& p : model.parameters()) p.tensor.copy_(ready.at(p.name));
}

void export_hf_safetensors(const fs::path& path, const Gpt2& model) {
  std::vector<torch::Tensor> keep;  // owns the CPU copies while writing
  std::vector<TensorToWrite> tensors;
  for (const auto& p : model.parameters()) {
    keep.push_back(p.tensor.detach().to(torch::kCPU, torch::kFloat32).contiguous());
    const auto& t = keep.back();
    tensors.push_back({p.name, DType::f32, t.sizes().vec(),
                       std::span<const std::byte>(static_cast<const std::byte*>(t.data_ptr()),
                                                  static_cast<size_t>(t.nbytes()))});
  }
  write_safetensors(path, tensors, {{"format", "pt"}, {"producer", "locsweep"}});
}

nlohmann::json hf_gpt2_config(const GptConfig& config, const nlohmann::json& provenance) {
  // GPT-2's <|endoftext|> begins and ends a text; a model with another vocabulary has none.
  const nlohmann::json end_of_text = config.vocab_size == 50257 ? nlohmann::json(50256) : nullptr;
  nlohmann::json locsweep = provenance;
  locsweep["note"] =
      "Hugging Face's GPT2LMHeadModel runs these weights without locsweep's locality bias "
      "(the window, block or mask term added to the attention scores), so for a localist "
      "model its perplexity differs from the trial's val_ppl; locality.mechanism none and the "
      "penalty mechanism (a training-time term only) evaluate alike in both.";
  return {
      {"architectures", {"GPT2LMHeadModel"}},
      {"model_type", "gpt2"},
      {"vocab_size", config.vocab_size},
      {"n_positions", config.block_size},
      {"n_ctx", config.block_size},  // the name of n_positions before transformers 4.x
      {"n_embd", config.n_embd},
      {"n_layer", config.n_layer},
      {"n_head", config.n_head},
      {"n_inner", nullptr},  // 4 * n_embd
      {"activation_function", "gelu_new"},
      {"resid_pdrop", config.dropout},
      {"embd_pdrop", config.dropout},
      {"attn_pdrop", config.dropout},
      {"layer_norm_epsilon", 1e-5},
      {"initializer_range", 0.02},
      {"scale_attn_weights", true},
      {"scale_attn_by_inverse_layer_idx", false},
      {"reorder_and_upcast_attn", false},
      {"tie_word_embeddings", true},
      {"use_cache", true},
      {"bos_token_id", end_of_text},
      {"eos_token_id", end_of_text},
      {"torch_dtype", "float32"},
      {"locsweep", locsweep},
  };
}

fs::path export_hf_model(const fs::path& folder, const Gpt2& model,
                         const nlohmann::json& provenance) {
  const fs::path weights = folder / "model.safetensors";
  export_hf_safetensors(weights, model);
  write_file_atomic(folder / "config.json",
                    hf_gpt2_config(model.config(), provenance).dump(2) + "\n");
  return weights;
}

}  // namespace locsweep
