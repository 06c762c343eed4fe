// Reading a checkpoint file (layout: worker/checkpoint.hpp, docs/data-formats.md) without
// torch: every attribute and dataset is validated through h5::Reader, every dataset is read
// into a buffer the caller allocates for the shape it expects, and the checksum is verified
// before the caller copies anything into a live model. worker/checkpoint.cpp builds the
// expected layout from the model; the fuzz target (tests/fuzz/) uses a fixed one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "trial/hdf5_io.hpp"

namespace locsweep {

inline constexpr const char* kCheckpointFormat = "locsweep-checkpoint";
inline constexpr int64_t kCheckpointVersion = 1;
// Bounds of the shape-free datasets: a generator state is a few kB, recent_loss holds <= 50.
inline constexpr int64_t kMaxRngStateBytes = 1 << 20;
inline constexpr int64_t kMaxRecentLosses = 1 << 16;

// One dataset a checkpoint must hold. A fixed `shape` must match exactly (else InputError:
// a checkpoint of another model shape); `any_length` datasets are 1-D of at most max_length.
struct CheckpointDataset {
  std::string path;  // "/model/wte.weight"
  h5::Element type = h5::Element::float32;
  std::vector<int64_t> shape;
  bool any_length = false;
  int64_t max_length = 0;
};

// Where dataset `index` of the layout, of the given shape, is read to: exactly
// product(shape) * element_size bytes.
using CheckpointBuffer =
    std::function<std::span<std::byte>(size_t index, const std::vector<int64_t>& shape)>;

struct CheckpointHeader {
  std::string trial_hash, config;
  int64_t step = 0;
};

// Opens, checks format/version/trial (an empty `trial_hash` accepts any trial) and every
// dataset of `layout`, reads them into `buffer`s and verifies the checksum. Throws
// InputError (absent file, another trial, another model shape) or CorruptFileError
// (anything damaged or hostile); the buffers then hold garbage and must not be used.
CheckpointHeader read_checkpoint_file(const std::filesystem::path& path,
                                      const std::string& trial_hash,
                                      const std::vector<CheckpointDataset>& layout,
                                      const CheckpointBuffer& buffer);

// The checksum rule (docs/data-formats.md): SHA-256 of config, step in decimal, then each
// dataset's path and bytes, in layout order.
std::string checkpoint_checksum(
    const std::string& config, int64_t step,
    const std::vector<std::pair<std::string, std::span<const std::byte>>>& datasets);

}  // namespace locsweep
