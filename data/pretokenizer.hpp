// GPT-2's pre-tokeniser: splits text into the pieces that byte-level BPE then encodes one by
// one, exactly as gpt-3-encoder's Encoder.js does with the JavaScript regex
//   /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu
// (hand-written matcher over the generated tables of unicode_tables.hpp; no regex engine).
//
// Input is bytes. Valid UTF-8 is split as the regex splits the decoded string. A byte that
// is not part of a valid UTF-8 sequence (JavaScript would never see it: decoding would have
// replaced it with U+FFFD, itself class "other") counts as one "other" character, so every
// byte string splits, and the pieces always concatenate back to the input.
#pragma once

#include <string_view>
#include <vector>

namespace locsweep {

// The pre-tokens of `text`, in order; views into `text`.
std::vector<std::string_view> pretokenize(std::string_view text);

}  // namespace locsweep
