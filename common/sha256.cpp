#include "common/sha256.hpp"

#include <openssl/evp.h>

#include "common/error.hpp"

namespace locsweep {

namespace {

void check(int ok, const char* what) {
  if (ok != 1) throw Error(std::string("SHA-256: OpenSSL ") + what + " failed");
}

}  // namespace

void Sha256::FreeContext::operator()(evp_md_ctx_st* context) const {
  EVP_MD_CTX_free(context);
}

Sha256::Sha256() : context_(EVP_MD_CTX_new()) {
  if (!context_) throw Error("SHA-256: OpenSSL cannot allocate a digest context");
  check(EVP_DigestInit_ex(context_.get(), EVP_sha256(), nullptr), "EVP_DigestInit_ex");
}

Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::update(const void* data, size_t size) {
  if (size == 0) return;  // data may be null then (an empty tensor)
  check(EVP_DigestUpdate(context_.get(), data, size), "EVP_DigestUpdate");
}

std::array<uint8_t, 32> Sha256::digest() {
  std::array<uint8_t, 32> out{};
  unsigned int length = 0;
  check(EVP_DigestFinal_ex(context_.get(), out.data(), &length), "EVP_DigestFinal_ex");
  if (length != out.size()) throw Error("SHA-256: OpenSSL returned a digest of another length");
  return out;
}

std::string Sha256::hex_digest() {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (uint8_t byte : digest()) {
    out += kHex[byte >> 4];
    out += kHex[byte & 15];
  }
  return out;
}

std::string sha256_hex(std::string_view data) {
  Sha256 h;
  h.update(data);
  return h.hex_digest();
}

}  // namespace locsweep
