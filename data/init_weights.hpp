// Where the weights named by model.init are (torch-free: the planner hashes the file, the
// trainer loads it; both resolve it here, the same way).
//
//   scratch, base:<name>    no file (base trials belong to the planner: sweeps/plan.hpp)
//   checkpoint:<file.h5>    a locsweep checkpoint; relative paths against the spec's folder
//   hf:<path>               a safetensors file: a path ending in .safetensors, starting with
//                           '/', '.' or '~', or naming an existing file (relative paths against
//                           the spec's folder)
//   hf:<repo id>            otherwise a Hugging Face repo id, `gpt2` or `openai-community/gpt2`:
//                           the model.safetensors of its newest snapshot in the Hugging Face
//                           cache, models--<owner>--<name>/snapshots/<revision>/. The snapshot is
//                           the one refs/main names when it holds the file, else the most
//                           recently modified one that does.
//
// The Hugging Face cache is found by Hugging Face's own rules: $HF_HUB_CACHE, else
// $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub.
#pragma once

#include <filesystem>
#include <string>

namespace locsweep {

// The Hugging Face hub cache folder (it need not exist).
std::filesystem::path hf_hub_cache();

// The weights file of `init` (see above); empty for scratch and base:<name>. Throws InputError
// when an hf: repo id has no snapshot with model.safetensors (saying where it looked and how to
// download it) or when the value names no kind of init.
std::filesystem::path init_weights_file(const std::string& init,
                                        const std::filesystem::path& spec_dir);

}  // namespace locsweep
