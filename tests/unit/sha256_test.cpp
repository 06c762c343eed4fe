// SHA-256 (OpenSSL's EVP behind common/sha256.hpp) against the FIPS 180-2 / NIST test vectors,
// streamed in pieces of every size, and file_sha256 of a large file against coreutils'
// sha256sum.
#include <gtest/gtest.h>

#include <fstream>
#include <random>

#include "common/files.hpp"
#include "common/process.hpp"
#include "common/sha256.hpp"
#include "support/temp_dir.hpp"

namespace locsweep {
namespace {

struct TestVector {
  std::string message;
  size_t repeat;  // the message is `message` repeated this many times
  const char* hex;
};

// FIPS 180-2 appendix B (one block, two blocks, one million 'a'), the empty message, the
// 896-bit message of NIST's SHA examples, and NIST's 1 GiB "extremely long message"
// (its bit length needs more than 32 bits).
const TestVector testvec[] = {
    {"", 1, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
    {"abc", 1, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
    {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 1,
     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    {"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnop"
     "qrsmnopqrstnopqrstu",
     1, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"},
    {"a", 1000000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"},
    {"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno", 16777216,
     "50e72a0e26442fe2552dc3938ac58658228c0cbfb1d2ca872ae435266fcd055e"},
};

TEST(Sha256, FipsTestVectors) {
  for (const auto& v : testvec) {
    Sha256 h;
    // Whole repetitions per update, up to ~1 MiB at a time: streamed like a file.
    const size_t per_chunk = std::max<size_t>(1, (1 << 20) / std::max<size_t>(1, v.message.size()));
    std::string chunk;
    for (size_t i = 0; i < per_chunk && i < v.repeat; ++i) chunk += v.message;
    for (size_t done = 0; done < v.repeat; done += per_chunk) {
      const size_t n = std::min(per_chunk, v.repeat - done);
      h.update(chunk.data(), n * v.message.size());
    }
    EXPECT_EQ(h.hex_digest(), v.hex) << v.message.substr(0, 20) << " x" << v.repeat;
    if (v.repeat == 1) {
      EXPECT_EQ(sha256_hex(v.message), v.hex);
    }
  }
}

TEST(Sha256, StreamingEqualsOneShotAtEverySplit) {
  const std::string text = "The quick brown fox jumps over the lazy dog, many times over and over.";
  for (size_t split = 0; split <= text.size(); ++split) {
    Sha256 h;
    h.update(text.substr(0, split));
    h.update(text.substr(split));
    EXPECT_EQ(h.hex_digest(), sha256_hex(text)) << split;
  }
}

// An empty tensor's data pointer may be null: hashing it must be a no-op (the ASan+UBSan
// build reports a null memcpy source otherwise).
TEST(Sha256, NullPointerWithZeroSizeIsNoOp) {
  Sha256 h;
  h.update("ab", 2);
  h.update(nullptr, 0);
  h.update("c", 1);
  EXPECT_EQ(h.hex_digest(), sha256_hex("abc"));
}

TEST(Sha256, MovedHashContinues) {
  Sha256 a;
  a.update("ab");
  Sha256 b = std::move(a);
  b.update("c");
  EXPECT_EQ(b.hex_digest(), sha256_hex("abc"));
}

// file_sha256 streams a file in chunks: 48 MiB + 12345 bytes of random data (not a whole
// number of chunks), against sha256sum.
TEST(Sha256, LargeFileEqualsSha256sum) {
  test_support::TempDir dir("sha256");
  const auto path = dir / "large.bin";
  {
    std::ofstream out(path, std::ios::binary);
    std::mt19937_64 random(15);
    std::vector<uint64_t> block(1 << 17);  // 1 MiB
    for (int i = 0; i < 48; ++i) {
      for (auto& word : block) word = random();
      out.write(reinterpret_cast<const char*>(block.data()), std::streamsize(block.size() * 8));
    }
    out.write(reinterpret_cast<const char*>(block.data()), 12345);
  }
  const ProgramResult sum = run_program({"sha256sum", path.string()}, 120.0);
  ASSERT_TRUE(sum.ok()) << sum.err;
  EXPECT_EQ(file_sha256(path), sum.out.substr(0, 64));
}

}  // namespace
}  // namespace locsweep
