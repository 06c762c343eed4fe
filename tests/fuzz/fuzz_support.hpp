// Shared by the fuzz targets: the input as a file (HDF5 and the mmap-based safetensors reader
// take paths), and the one rule of every target: a parser may reject its input only with
// locsweep's own errors (InputError and its kin, ScheduleError); anything else escaping,
// and any crash or sanitizer report, is a finding.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace locsweep::fuzz {

// A per-process scratch file that holds the current input.
inline const std::filesystem::path& input_file(const char* suffix) {
  static const std::filesystem::path path =
      std::filesystem::temp_directory_path() /
      ("locsweep-fuzz-" + std::to_string(::getpid()) + suffix);
  return path;
}

inline const std::filesystem::path& write_input(const uint8_t* data, size_t size,
                                                const char* suffix) {
  const auto& path = input_file(suffix);
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) std::abort();
  if (size > 0 && std::fwrite(data, 1, size, f) != size) std::abort();
  std::fclose(f);
  return path;
}

}  // namespace locsweep::fuzz
