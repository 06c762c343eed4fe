// SHA-256 (FIPS 180-4), computed by OpenSSL's libcrypto (EVP; SHA-NI or AVX2 where the CPU has
// them). Used for canonical trial hashes, content-addressed token caches and artifact
// checksums, where the result must be the same on every machine. OpenSSL stays behind this
// header: callers see neither its types nor its headers.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

struct evp_md_ctx_st;  // OpenSSL's EVP_MD_CTX

namespace locsweep {

// An incremental hash: update() any number of times (streaming, e.g. a file in chunks), then
// digest() or hex_digest() once. Move-only. A libcrypto failure (it has none for SHA-256 short
// of running out of memory) throws Error.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  void update(const void* data, size_t size);
  void update(std::string_view text) { update(text.data(), text.size()); }
  std::array<uint8_t, 32> digest();  // finishes; the object must not be updated afterwards
  std::string hex_digest();

 private:
  struct FreeContext {
    void operator()(evp_md_ctx_st* context) const;
  };
  std::unique_ptr<evp_md_ctx_st, FreeContext> context_;
};

std::string sha256_hex(std::string_view data);

}  // namespace locsweep
