// Fuzz target: the token cache format (data/corpus.hpp decode_token_cache), with the key
// the seeds were written for (so mutations get past the key check).
#include <string>
#include <string_view>

#include "data/corpus.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace locsweep;
  static const std::string kSeedKey = "fuzz seed key";
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const auto result = decode_token_cache(bytes, kSeedKey);
  if (const auto* tokens = std::get_if<std::vector<int32_t>>(&result)) {
    // A valid cache round-trips exactly.
    if (encode_token_cache(kSeedKey, *tokens) != bytes) __builtin_trap();
  }
  return 0;
}
