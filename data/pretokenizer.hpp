// GPT-2's pre-tokeniser: splits text into the pieces that byte-level BPE then encodes one by
// one, exactly as OpenAI's tokenizer (tiktoken, encoding `gpt2`) does with the regex
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// (leftmost-first alternation, backtracking into the lookahead; hand-written matcher over the
// generated tables of unicode_tables.hpp; no regex engine). `\s` is Unicode's White_Space:
// U+0085 (NEL) is a space, U+FEFF (the byte order mark) is "other". That is where
// gpt-3-encoder's JavaScript regex, whose `\s` is the other way round on exactly those two,
// splits differently; locsweep followed it up to kGpt2EncodingVersion 1.
//
// Input is bytes. Valid UTF-8 is split as the regex splits the decoded string. A byte that
// is not part of a valid UTF-8 sequence counts as one "other" character, so every byte string
// splits, and the pieces always concatenate back to the input. The reference has no answer
// there: tiktoken takes text (a JavaScript string, or Python's str), and reading a file as
// UTF-8 replaces each invalid sequence by U+FFFD (itself "other"), which changes the bytes.
#pragma once

#include <string_view>
#include <vector>

namespace locsweep {

// The pre-tokens of `text`, in order; views into `text`.
std::vector<std::string_view> pretokenize(std::string_view text);

}  // namespace locsweep
