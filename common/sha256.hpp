// SHA-256 (FIPS 180-4). Used for canonical trial hashes, content-addressed token caches
// and artifact checksums, where the result must be the same on every machine.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace locsweep {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, size_t size);
  void update(std::string_view text) { update(text.data(), text.size()); }
  std::array<uint8_t, 32> digest();  // finishes; the object must not be updated afterwards
  std::string hex_digest();

 private:
  void compress(const uint8_t* block);
  std::array<uint32_t, 8> state_;
  std::array<uint8_t, 64> buffer_{};
  uint64_t length_ = 0;  // bytes seen
  size_t buffered_ = 0;
};

std::string sha256_hex(std::string_view data);

}  // namespace locsweep
