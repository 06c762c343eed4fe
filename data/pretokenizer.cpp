#include "data/pretokenizer.hpp"

#include <array>
#include <cstdint>

#include "data/unicode_tables.hpp"

namespace locsweep {
namespace {

struct CodePoint {
  char32_t cp;
  unsigned len;  // bytes
  CharClass cls;
};

bool is_continuation(unsigned char b) {
  return (b & 0xC0) == 0x80;
}

// One code point at `i` under strict UTF-8 (no overlongs, surrogates or values past
// U+10FFFF); an invalid byte is returned alone as an "other" character.
CodePoint decode_at(std::string_view s, size_t i) {
  static const std::array<CharClass, 128> ascii = [] {
    std::array<CharClass, 128> t{};
    for (char32_t c = 0; c < 128; ++c) t[c] = char_class(c);
    return t;
  }();
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) return {b0, 1, ascii[b0]};
  const size_t left = s.size() - i;
  auto at = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  char32_t cp = 0;
  unsigned len = 0;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    if (left >= 2 && is_continuation(at(1))) {
      cp = (char32_t(b0 & 0x1F) << 6) | (at(1) & 0x3F);
      len = 2;
    }
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    if (left >= 3 && is_continuation(at(1)) && is_continuation(at(2))) {
      const unsigned char b1 = at(1);
      const bool ok = (b0 == 0xE0)   ? b1 >= 0xA0
                      : (b0 == 0xED) ? b1 <= 0x9F  // no UTF-16 surrogates
                                     : true;
      if (ok) {
        cp = (char32_t(b0 & 0x0F) << 12) | (char32_t(b1 & 0x3F) << 6) | (at(2) & 0x3F);
        len = 3;
      }
    }
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    if (left >= 4 && is_continuation(at(1)) && is_continuation(at(2)) && is_continuation(at(3))) {
      const unsigned char b1 = at(1);
      const bool ok = (b0 == 0xF0) ? b1 >= 0x90 : (b0 == 0xF4) ? b1 <= 0x8F : true;
      if (ok) {
        cp = (char32_t(b0 & 0x07) << 18) | (char32_t(b1 & 0x3F) << 12) |
             (char32_t(at(2) & 0x3F) << 6) | (at(3) & 0x3F);
        len = 4;
      }
    }
  }
  if (len == 0) return {0xFFFD, 1, CharClass::kOther};
  return {cp, len, char_class(cp)};
}

// End of the run of characters of class `cls` that starts at `i`.
size_t run_end(std::string_view s, size_t i, CharClass cls) {
  while (i < s.size()) {
    const CodePoint c = decode_at(s, i);
    if (c.cls != cls) break;
    i += c.len;
  }
  return i;
}

// Length of the contraction ('s 't 're 've 'm 'll 'd, case-sensitive) at `i`, or 0.
size_t contraction_length(std::string_view s, size_t i) {
  const std::string_view rest = s.substr(i + 1);
  if (rest.empty()) return 0;
  switch (rest[0]) {
    case 's':
    case 't':
    case 'm':
    case 'd':
      return 2;
    default:
      break;
  }
  if (rest.starts_with("re") || rest.starts_with("ve") || rest.starts_with("ll")) return 3;
  return 0;
}

// End of the pre-token that starts at `i` (the regex's alternatives, in its order).
size_t match_end(std::string_view s, size_t i) {
  const CodePoint c = decode_at(s, i);
  if (c.cp == '\'') {  // 's|'t|'re|'ve|'m|'ll|'d
    if (const size_t n = contraction_length(s, i)) return i + n;
  }
  if (c.cp == ' ' && i + 1 < s.size()) {  // a space before a letter, number or other run
    const CodePoint next = decode_at(s, i + 1);
    if (next.cls != CharClass::kSpace) return run_end(s, i + 1, next.cls);
  }
  if (c.cls != CharClass::kSpace) return run_end(s, i, c.cls);  // \p{L}+ | \p{N}+ | other+
  // \s+(?!\S) | \s+ : a whitespace run, less its last character when a non-space follows
  // (that character then starts the next piece), unless the run is one character long.
  size_t end = i;
  size_t last_start = i;
  size_t count = 0;
  while (end < s.size()) {
    const CodePoint w = decode_at(s, end);
    if (w.cls != CharClass::kSpace) break;
    last_start = end;
    end += w.len;
    ++count;
  }
  if (end == s.size() || count == 1) return end;
  return last_start;
}

}  // namespace

std::vector<std::string_view> pretokenize(std::string_view text) {
  std::vector<std::string_view> pieces;
  pieces.reserve(text.size() / 4 + 1);
  size_t i = 0;
  while (i < text.size()) {
    const size_t end = match_end(text, i);
    pieces.push_back(text.substr(i, end - i));
    i = end;
  }
  return pieces;
}

}  // namespace locsweep
