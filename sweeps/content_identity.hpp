// Trial identity by content: what a trial reads enters its hash as content, not as the path
// written in the spec (docs/sweep-spec.md, "Trial identity"). The planner fills each trial's
// TrialConfig::inputs (sweeps/trial_config.hpp) here; the trial checks at its start that what
// it reads still has those digests; `plan --db` says which input changed since a database's
// trials were recorded.
//
//   inputs.corpus     "sha256:<hex>" of the corpus text after joining (data/corpus.hpp), so a
//                     named corpus, a file and a folder with the same text are the same input
//   inputs.tokenizer  "bytes", or Tokenizer::id() ("gpt2-bpe-v<kGpt2EncodingVersion>:<hex>",
//                     from the digests of its vocabulary and merges files)
//   inputs.init       "sha256:<hex>" of the weights file of hf:/checkpoint:
//   (data/init_weights.hpp);
//                     empty for scratch; base:<name> is the planner's (a base trial's hash)
//
// Hashing a file again on every plan would make re-planning slow (a 500 MB safetensors file,
// the 140 files of Moby-Dick), so digests are cached by (absolute path, size, mtime in ns) in
// one JSON file, by default data_dir()/digests.json: written atomically, merged with what
// other processes wrote meanwhile, and ignored with a warning (then rewritten) when damaged.
// A file whose size or mtime changed is read again.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "sweeps/trial_config.hpp"

namespace locsweep {

class DigestCache {
 public:
  // The cache kept in `file`, loaded now when it exists.
  explicit DigestCache(std::filesystem::path file);
  // data_dir()/digests.json.
  static std::filesystem::path default_file();

  // "sha256:<hex>" of the file's bytes. Throws InputError when it cannot be read.
  std::string file_digest(const std::filesystem::path& path);
  // "sha256:<hex>" of load_corpus_text(corpus, spec_dir), cached under all its files' stats.
  // Throws InputError as load_corpus_text does.
  std::string corpus_digest(const std::string& corpus, const std::filesystem::path& spec_dir);

  // Writes the cache when it gained entries; a cache that cannot be written is a warning.
  void save();
  // How many digests were computed by reading files (not taken from the cache).
  size_t computed() const { return computed_; }

 private:
  std::filesystem::path file_;
  std::unordered_map<std::string, std::string> entries_;  // stat key -> "sha256:<hex>"
  std::unordered_map<std::string, std::string> added_;
  size_t computed_ = 0;
};

// The tokenizer's identity: "bytes", or Tokenizer::from_spec(...).id(). Throws InputError.
std::string tokenizer_identity(const std::string& tokenizer, const std::filesystem::path& spec_dir);

// Fills TrialConfig::inputs, resolving each distinct input (value as written, spec folder)
// once, however many trials share it.
class InputResolver {
 public:
  explicit InputResolver(DigestCache& cache) : cache_(cache) {}
  // Sets config.inputs for a gpt2 trial (a noop trial reads nothing). Returns the key to blame
  // and why when an input cannot be read (a missing corpus, a missing hf: snapshot).
  std::optional<ConfigProblem> fill(TrialConfig& config);

 private:
  using Key = std::pair<std::string, std::string>;  // value as written, spec_dir
  struct Resolved {
    std::string digest;
    std::string error;  // why it could not be resolved (then digest is empty)
  };
  DigestCache& cache_;
  std::map<Key, Resolved> corpora_, tokenizers_, inits_;
};

// At a trial's start: throws InputError naming the first input (data.corpus, data.tokenizer,
// model.init) whose content is not what was planned, with both digests and what to do.
// Inputs the planner did not fill (a trial config written by hand) are not checked. The
// weights file's digest comes from the digest cache (DigestCache::default_file()).
void check_planned_inputs(const TrialConfig& config, const std::string& corpus_text,
                          const std::string& tokenizer_id);

// One input whose content differs from a database's trials of the same sweep.
struct InputChange {
  std::string key;           // "data.corpus"
  std::string written;       // the value as written, "c.txt"
  std::string before;        // the digest the database's trials read
  std::string after;         // the digest planned now
  size_t trials = 0;         // planned trials that read it and are not in the database
  std::string text() const;  // "data.corpus 'c.txt' changed since the DB's trials (...): ..."
};
// Compares what recorded trials read with what planned trials read, per key and value as
// written; `planned_new` are the planned trials not in the database.
std::vector<InputChange> changed_inputs(const std::vector<TrialConfig>& recorded,
                                        const std::vector<const TrialConfig*>& planned_new);

// "sha256:1a2b3c4d..." -> "sha256 1a2b3c4d…" (what messages show of a digest).
std::string short_digest(const std::string& digest);

}  // namespace locsweep
