// Telling a full disk from other write failures. Libraries report a failed write their own
// way (HDF5: "H5Fflush failed"), errno may be gone by the time the exception is caught, and
// the failed file is often removed before that (freeing the space it took): a write failed
// for lack of space if errno says so, or if the file system now has less free space than
// the write needed.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace locsweep {

// Bytes an unprivileged process may still write on the file system holding `path` (the
// nearest existing folder above it); nullopt if statvfs fails.
std::optional<uint64_t> free_bytes(const std::filesystem::path& path);

// Whether a write under `dir` that needed about `needed` bytes failed for lack of space,
// given the errno seen when it failed.
bool is_disk_full(const std::filesystem::path& dir, uint64_t needed, int error_number);

// "disk full at DIR (3.2 MB free)"
std::string describe_disk_full(const std::filesystem::path& dir);

}  // namespace locsweep
