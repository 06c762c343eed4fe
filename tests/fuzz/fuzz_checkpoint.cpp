// Fuzz target: a checkpoint file through the validated reader (trial/checkpoint_reader.hpp)
// with the layout of the tiny model its seed was written for (fuzz_layouts.hpp).
#include <cstring>
#include <vector>

#include "fuzz/fuzz_layouts.hpp"
#include "fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace locsweep;
  static const auto layout = fuzz::tiny_checkpoint_layout();
  const auto& path = fuzz::write_input(data, size, ".h5");
  std::vector<std::vector<std::byte>> buffers(layout.size());
  try {
    read_checkpoint_file(path, "", layout, [&](size_t i, const std::vector<int64_t>& shape) {
      size_t n = h5::element_size(layout[i].type);
      for (int64_t d : shape) n *= static_cast<size_t>(d);
      buffers[i].assign(n, std::byte{0xAB});
      return std::span<std::byte>(buffers[i]);
    });
  } catch (const InputError&) {
  }
  return 0;
}
