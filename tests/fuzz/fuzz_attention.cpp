// Fuzz target: an attention file through `locsweep attention`'s summary and the report's
// reads (trial/attention_reader.hpp).
#include "fuzz/fuzz_support.hpp"
#include "trial/attention_reader.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace locsweep;
  const auto& path = fuzz::write_input(data, size, ".h5");
  try {
    (void)summarize_attention_file(path);
  } catch (const InputError&) {
  }
  try {
    const AttentionFileReader file(path);  // what the report reads
    const int64_t last = file.shape().layers - 1;
    (void)file.blocks(0);
    (void)file.matrix(0, last, 0);
  } catch (const InputError&) {
  }
  return 0;
}
