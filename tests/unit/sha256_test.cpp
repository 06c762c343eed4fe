// SHA-256 against the FIPS 180-4 / NIST test vectors.
#include <gtest/gtest.h>

#include "common/sha256.hpp"

namespace locsweep {
namespace {

TEST(Sha256, NistVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256_hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
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

}  // namespace
}  // namespace locsweep
