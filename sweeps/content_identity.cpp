#include "sweeps/content_identity.hpp"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <cctype>
#include <nlohmann/json.hpp>
#include <set>
#include <variant>

#include "common/error.hpp"
#include "common/files.hpp"
#include "common/sha256.hpp"
#include "data/corpus.hpp"
#include "data/init_weights.hpp"
#include "data/tokenizer.hpp"

namespace locsweep {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr char kFormat[] = "locsweep-digests";
constexpr int kVersion = 1;

// "<absolute path>\n<size>\n<mtime ns>", or nothing when the file cannot be stat'ed.
std::optional<std::string> stat_key(const fs::path& path) {
  const std::string absolute = fs::absolute(path).lexically_normal().string();
  struct stat st {};
  if (::stat(absolute.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  const long long mtime_ns = static_cast<long long>(st.st_mtim.tv_sec) * 1000000000LL +
                             static_cast<long long>(st.st_mtim.tv_nsec);
  return absolute + "\n" + std::to_string(static_cast<long long>(st.st_size)) + "\n" +
         std::to_string(mtime_ns);
}

bool is_digest(const std::string& text) {
  if (text.size() != 7 + 64 || text.rfind("sha256:", 0) != 0) return false;
  for (size_t i = 7; i < text.size(); ++i)
    if (!std::isxdigit(static_cast<unsigned char>(text[i])) || std::isupper(text[i])) return false;
  return true;
}

// The entries of a cache file, or why it is not one.
std::variant<std::unordered_map<std::string, std::string>, std::string> parse_cache(
    const std::string& text) {
  json root;
  try {
    root = json::parse(text);
  } catch (const json::exception& e) {
    return std::string("not JSON: ") + e.what();
  }
  if (!root.is_object() || root.value("format", "") != kFormat ||
      root.value("version", 0) != kVersion || !root.contains("entries") ||
      !root["entries"].is_object())
    return std::string("not a locsweep digest cache (format ") + kFormat + ", version " +
           std::to_string(kVersion) + ")";
  std::unordered_map<std::string, std::string> entries;
  for (const auto& [key, value] : root["entries"].items()) {
    if (!value.is_string() || !is_digest(value.get<std::string>()))
      return "entry '" + key.substr(0, 80) + "' holds " + value.dump().substr(0, 80) +
             ", not a digest";
    entries.emplace(key, value.get<std::string>());
  }
  return entries;
}

// The entries of `file`; a missing file is empty, a damaged one is empty (with a warning).
std::unordered_map<std::string, std::string> load_cache(const fs::path& file, bool warn) {
  std::error_code ec;
  if (!fs::exists(file, ec)) return {};
  std::string reason;
  try {
    auto parsed = parse_cache(read_file(file));
    if (auto* entries = std::get_if<0>(&parsed)) return std::move(*entries);
    reason = std::get<1>(parsed);
  } catch (const Error& e) {
    reason = e.what();
  }
  if (warn)
    spdlog::warn("digest cache {} is unusable ({}); ignoring it (files are hashed again)",
                 file.string(), reason);
  return {};
}

}  // namespace

DigestCache::DigestCache(fs::path file)
    : file_(std::move(file)), entries_(load_cache(file_, true)) {}

fs::path DigestCache::default_file() {
  return data_dir() / "digests.json";
}

std::string DigestCache::file_digest(const fs::path& path) {
  const auto key = stat_key(path);
  if (!key) throw InputError("cannot read '" + path.string() + "': no such file");
  if (const auto it = entries_.find(*key); it != entries_.end()) return it->second;
  const std::string digest = "sha256:" + file_sha256(path);  // after the stat: see the header
  ++computed_;
  entries_[*key] = digest;
  added_[*key] = digest;
  return digest;
}

std::string DigestCache::corpus_digest(const std::string& corpus, const fs::path& spec_dir) {
  std::string stats;
  for (const fs::path& file : corpus_files(corpus, spec_dir)) {
    const auto key = stat_key(file);
    if (!key) throw InputError("corpus '" + corpus + "': cannot read '" + file.string() + "'");
    stats += *key + "\n";
  }
  const std::string key = "corpus " + sha256_hex(stats);
  if (const auto it = entries_.find(key); it != entries_.end()) return it->second;
  const std::string digest = "sha256:" + sha256_hex(load_corpus_text(corpus, spec_dir));
  ++computed_;
  entries_[key] = digest;
  added_[key] = digest;
  return digest;
}

void DigestCache::save() {
  if (added_.empty()) return;
  try {
    // Merged with what other processes saved since this one loaded the file.
    auto merged = load_cache(file_, false);  // warned when loaded
    for (const auto& [key, digest] : added_) merged[key] = digest;
    json entries = json::object();
    for (const auto& [key, digest] : merged) entries[key] = digest;
    fs::create_directories(file_.parent_path());
    write_file_atomic(
        file_,
        json{{"format", kFormat}, {"version", kVersion}, {"entries", entries}}.dump(1) + "\n");
    added_.clear();
  } catch (const std::exception& e) {
    spdlog::warn("cannot write the digest cache {}: {}", file_.string(), e.what());
  }
}

std::string tokenizer_identity(const std::string& tokenizer, const fs::path& spec_dir) {
  if (tokenizer == "bytes") return "bytes";
  return Tokenizer::from_spec(tokenizer, spec_dir).id();
}

namespace {

// memo[key], resolved by compute() the first time (an InputError is kept as its error).
template <typename Memo, typename Compute>
const typename Memo::mapped_type& resolve_once(Memo& memo, const typename Memo::key_type& key,
                                               Compute compute) {
  auto [it, inserted] = memo.try_emplace(key);
  if (!inserted) return it->second;
  try {
    it->second.digest = compute();
  } catch (const InputError& e) {
    it->second.error = e.what();
  }
  return it->second;
}

}  // namespace

std::optional<ConfigProblem> InputResolver::fill(TrialConfig& config) {
  if (config.kind != TrialKind::gpt2) return std::nullopt;
  const fs::path spec_dir = config.spec_dir;
  const auto& corpus = resolve_once(corpora_, {config.data.corpus, config.spec_dir}, [&] {
    return cache_.corpus_digest(config.data.corpus, spec_dir);
  });
  if (!corpus.error.empty()) return ConfigProblem{"data.corpus", corpus.error};
  const auto& tokenizer = resolve_once(tokenizers_, {config.data.tokenizer, config.spec_dir}, [&] {
    return tokenizer_identity(config.data.tokenizer, spec_dir);
  });
  if (!tokenizer.error.empty()) return ConfigProblem{"data.tokenizer", tokenizer.error};
  const auto& init = resolve_once(inits_, {config.model.init, config.spec_dir}, [&] {
    const fs::path file = init_weights_file(config.model.init, spec_dir);
    if (file.empty()) return std::string();
    if (!fs::is_regular_file(file))
      throw InputError("'" + config.model.init + "': no such file '" + file.string() + "'");
    return cache_.file_digest(file);
  });
  if (!init.error.empty()) return ConfigProblem{"model.init", init.error};
  config.inputs.corpus = corpus.digest;
  config.inputs.tokenizer = tokenizer.digest;
  if (!init.digest.empty()) config.inputs.init = init.digest;  // base:<name>: the planner's
  return std::nullopt;
}

namespace {

[[noreturn]] void throw_changed(const std::string& key, const std::string& written,
                                const std::string& planned, const std::string& now) {
  throw InputError(key + " '" + written + "' changed since the sweep was planned (" +
                   short_digest(planned) + " → " + short_digest(now) +
                   "): this trial would train on other content under the old identity. Plan "
                   "and run the sweep again (locsweep run re-plans it), or restore the file");
}

}  // namespace

void check_planned_inputs(const TrialConfig& config, const std::string& corpus_text,
                          const std::string& tokenizer_id) {
  const InputDigests& planned = config.inputs;
  if (!planned.corpus.empty()) {
    const std::string now = "sha256:" + sha256_hex(corpus_text);
    if (now != planned.corpus)
      throw_changed("data.corpus", config.data.corpus, planned.corpus, now);
  }
  if (!planned.tokenizer.empty() && tokenizer_id != planned.tokenizer)
    throw_changed("data.tokenizer", config.data.tokenizer, planned.tokenizer, tokenizer_id);
  if (planned.init.rfind("sha256:", 0) == 0) {
    const fs::path file = init_weights_file(config.model.init, config.spec_dir);
    DigestCache cache(DigestCache::default_file());
    const std::string now = file.empty() ? "none" : cache.file_digest(file);
    cache.save();
    if (now != planned.init) throw_changed("model.init", config.model.init, planned.init, now);
  }
}

std::string short_digest(const std::string& digest) {
  const size_t colon = digest.rfind(':');
  if (colon == std::string::npos) return digest;
  return digest.substr(0, colon) + " " + digest.substr(colon + 1, 8) + "…";
}

std::string InputChange::text() const {
  return key + " '" + written + "' changed since the DB's trials (" + short_digest(before) + " → " +
         short_digest(after) + "): " + std::to_string(trials) + " trial" +
         (trials == 1 ? "" : "s") + " will run again";
}

namespace {

struct InputField {
  const char* key;
  std::string (*written)(const TrialConfig&);
  std::string (*digest)(const TrialConfig&);
};

constexpr InputField kInputFields[] = {
    {"data.corpus", [](const TrialConfig& c) { return c.data.corpus; },
     [](const TrialConfig& c) { return c.inputs.corpus; }},
    {"data.tokenizer", [](const TrialConfig& c) { return c.data.tokenizer; },
     [](const TrialConfig& c) { return c.inputs.tokenizer; }},
    {"model.init", [](const TrialConfig& c) { return c.model.init; },
     [](const TrialConfig& c) { return c.inputs.init; }},
};

}  // namespace

std::vector<InputChange> changed_inputs(const std::vector<TrialConfig>& recorded,
                                        const std::vector<const TrialConfig*>& planned_new) {
  std::vector<InputChange> changes;
  for (const InputField& field : kInputFields) {
    std::map<std::string, std::set<std::string>> before;  // value as written -> digests read
    for (const TrialConfig& c : recorded)
      if (!field.digest(c).empty()) before[field.written(c)].insert(field.digest(c));
    std::map<std::pair<std::string, std::string>, size_t> index;  // (written, after) -> change
    for (const TrialConfig* c : planned_new) {
      const std::string written = field.written(*c), after = field.digest(*c);
      const auto it = before.find(written);
      if (after.empty() || it == before.end() || it->second.count(after)) continue;
      auto [pos, inserted] = index.try_emplace({written, after}, changes.size());
      if (inserted) changes.push_back({field.key, written, *it->second.begin(), after, 0});
      ++changes[pos->second].trials;
    }
  }
  return changes;
}

}  // namespace locsweep
