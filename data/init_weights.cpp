#include "data/init_weights.hpp"

#include <cstdlib>
#include <optional>
#include <system_error>

#include "common/error.hpp"
#include "common/files.hpp"

namespace locsweep {
namespace fs = std::filesystem;

namespace {

std::optional<fs::path> env_path(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  return fs::path(value);
}

bool has_prefix(const std::string& text, const std::string& prefix) {
  return text.rfind(prefix, 0) == 0;
}

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

fs::path expand_home(const std::string& path) {
  if (path == "~" || has_prefix(path, "~/"))
    if (const auto home = env_path("HOME"))
      return *home / path.substr(std::min<size_t>(2, path.size()));
  return fs::path(path);
}

// A safetensors path rather than a repo id (see init_weights.hpp).
bool names_a_path(const std::string& value, const fs::path& spec_dir) {
  if (ends_with(value, ".safetensors") || has_prefix(value, "/") || has_prefix(value, ".") ||
      has_prefix(value, "~"))
    return true;
  std::error_code ec;
  return fs::is_regular_file(resolve_path(value, spec_dir.string()), ec);
}

// "openai-community/gpt2" -> "models--openai-community--gpt2".
std::string repo_folder(const std::string& repo) {
  std::string out = "models--";
  for (const char c : repo) out += c == '/' ? std::string("--") : std::string(1, c);
  return out;
}

std::optional<fs::path> weights_in(const fs::path& snapshot) {
  std::error_code ec;
  const fs::path file = snapshot / "model.safetensors";
  if (fs::is_regular_file(file, ec)) return file;  // follows the blob symlink
  return std::nullopt;
}

// The snapshot refs/main names, if it holds the weights.
std::optional<fs::path> main_snapshot(const fs::path& model_dir) {
  std::error_code ec;
  const fs::path ref = model_dir / "refs" / "main";
  if (!fs::is_regular_file(ref, ec)) return std::nullopt;
  std::string revision = read_file(ref);
  while (!revision.empty() &&
         (revision.back() == '\n' || revision.back() == '\r' || revision.back() == ' '))
    revision.pop_back();
  if (revision.empty() || revision.find('/') != std::string::npos) return std::nullopt;
  return weights_in(model_dir / "snapshots" / revision);
}

// The most recently modified snapshot that holds the weights.
std::optional<fs::path> newest_snapshot(const fs::path& model_dir) {
  std::error_code ec;
  std::optional<fs::path> best;
  fs::file_time_type best_time{};
  for (fs::directory_iterator it(model_dir / "snapshots", ec), end; !ec && it != end;
       it.increment(ec)) {
    const auto file = weights_in(it->path());
    if (!file) continue;
    std::error_code time_ec;
    const auto time = fs::last_write_time(it->path(), time_ec);
    if (time_ec) continue;
    if (!best || time > best_time) {
      best = file;
      best_time = time;
    }
  }
  return best;
}

fs::path hf_snapshot_weights(const std::string& init, const std::string& repo) {
  const fs::path hub = hf_hub_cache();
  const fs::path model_dir = hub / repo_folder(repo);
  if (const auto file = main_snapshot(model_dir)) return *file;
  if (const auto file = newest_snapshot(model_dir)) return *file;
  throw InputError(
      "model.init '" + init + "': no snapshot of '" + repo + "' with model.safetensors in the " +
      "Hugging Face cache (looked for '" +
      (model_dir / "snapshots" / "*" / "model.safetensors").string() +
      "'; the cache is $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub). "
      "Download it with `huggingface-cli download " +
      repo +
      " model.safetensors`, or give the path of a .safetensors file (hf:path/model.safetensors)");
}

}  // namespace

fs::path hf_hub_cache() {
  if (const auto dir = env_path("HF_HUB_CACHE")) return *dir;
  if (const auto dir = env_path("HUGGINGFACE_HUB_CACHE")) return *dir;  // its older name
  if (const auto dir = env_path("HF_HOME")) return *dir / "hub";
  if (const auto dir = env_path("XDG_CACHE_HOME")) return *dir / "huggingface" / "hub";
  if (const auto home = env_path("HOME")) return *home / ".cache" / "huggingface" / "hub";
  return fs::path(".cache") / "huggingface" / "hub";
}

fs::path init_weights_file(const std::string& init, const fs::path& spec_dir) {
  if (init == "scratch" || has_prefix(init, "base:")) return {};
  if (has_prefix(init, "checkpoint:") && init.size() > 11)
    return resolve_path(init.substr(11), spec_dir.string());
  if (has_prefix(init, "hf:") && init.size() > 3) {
    const std::string value = init.substr(3);
    if (names_a_path(value, spec_dir))
      return resolve_path(expand_home(value).string(), spec_dir.string());
    return hf_snapshot_weights(init, value);
  }
  throw InputError("model.init '" + init +
                   "' is not scratch, hf:<repo id or model.safetensors> or checkpoint:<file.h5>");
}

}  // namespace locsweep
