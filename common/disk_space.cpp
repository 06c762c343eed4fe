#include "common/disk_space.hpp"

#include <sys/statvfs.h>

#include <cerrno>
#include <cstdio>

namespace locsweep {
namespace fs = std::filesystem;

std::optional<uint64_t> free_bytes(const fs::path& path) {
  fs::path at = path;
  std::error_code ec;
  while (!at.empty() && !fs::exists(at, ec) && at != at.parent_path()) at = at.parent_path();
  struct statvfs s {};
  if (::statvfs(at.empty() ? "." : at.c_str(), &s) != 0) return std::nullopt;
  return static_cast<uint64_t>(s.f_bavail) * s.f_frsize;
}

bool is_disk_full(const fs::path& dir, uint64_t needed, int error_number) {
  if (error_number == ENOSPC || error_number == EDQUOT) return true;
  const auto free = free_bytes(dir);
  return free && *free < needed;
}

std::string describe_disk_full(const fs::path& dir) {
  const auto free = free_bytes(dir);
  char amount[64] = "free space unknown";
  if (free) std::snprintf(amount, sizeof amount, "%.1f MB free", static_cast<double>(*free) / 1e6);
  return "disk full at " + dir.string() + " (" + amount + ")";
}

}  // namespace locsweep
