// Fuzz target: a safetensors file through SafetensorsFile::open and every tensor's bytes.
#include <numeric>

#include "common/error.hpp"
#include "fuzz/fuzz_support.hpp"
#include "trial/safetensors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace locsweep;
  const auto& path = fuzz::write_input(data, size, ".safetensors");
  try {
    const SafetensorsFile file = SafetensorsFile::open(path);
    unsigned sum = 0;
    for (const auto& t : file.tensors()) {
      const auto bytes = file.data(t);
      if (bytes.size() != t.nbytes) __builtin_trap();
      for (std::byte b : bytes) sum += static_cast<unsigned>(b);  // touch every byte
    }
    for (const auto& [k, v] : file.metadata()) sum += static_cast<unsigned>(k.size() + v.size());
    volatile unsigned sink = sum;
    (void)sink;
  } catch (const InputError&) {
  }
  return 0;
}
