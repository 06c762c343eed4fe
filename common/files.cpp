#include "common/files.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/error.hpp"
#include "common/fd.hpp"
#include "common/sha256.hpp"

namespace locsweep {
namespace fs = std::filesystem;

namespace {

[[noreturn]] void io_fail(const std::string& what, const fs::path& path) {
  throw Error(what + " '" + path.string() + "': " + std::strerror(errno));
}

}  // namespace

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError("cannot read '" + path.string() + "': " + std::strerror(errno));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return std::move(buffer).str();
}

fs::path resolve_path(const std::string& path, const std::string& base_dir) {
  const fs::path p(path);
  if (p.is_absolute() || base_dir.empty()) return p;
  return fs::path(base_dir) / p;
}

namespace {

// `path` itself or its nearest ancestor that exists (lexically; "" for none).
fs::path nearest_existing(const fs::path& path) {
  std::error_code ec;
  for (fs::path p = path;; p = p.parent_path()) {
    if (fs::exists(fs::status(p, ec))) return p;
    if (p.empty() || p == p.parent_path()) return {};
  }
}

}  // namespace

void ensure_writable_folder(const fs::path& folder, const std::string& what) {
  const fs::path absolute = fs::absolute(folder);
  const std::string where = what + " '" + folder.string() + "'";
  const std::string fix = "; choose another folder with " + what;
  const fs::path existing = nearest_existing(absolute);
  if (existing.empty()) throw InputError(where + ": no part of the path exists" + fix);
  if (!fs::is_directory(existing))
    throw InputError(where + ": '" + existing.string() + "' is a file, not a folder" + fix);
  // Writing in `existing` is what creating the rest of the path (or files in it) needs.
  if (::access(existing.c_str(), W_OK | X_OK) != 0)
    throw InputError(
        where + ": cannot " +
        (existing == absolute ? "create files in it" : "create it in '" + existing.string() + "'") +
        ": " + std::strerror(errno) + fix);
}

fs::path temporary_sibling(const fs::path& path) {
  static std::atomic<int> counter{0};
  return fs::path(path.string() + ".tmp-" + std::to_string(::getpid()) + "-" +
                  std::to_string(counter++));
}

void fsync_file(const fs::path& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) io_fail("cannot open", path);
  if (::fsync(fd.get()) != 0) io_fail("cannot fsync", path);
}

void fsync_parent(const fs::path& path) {
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) io_fail("cannot open folder", dir);
  ::fsync(fd.get());  // some file systems refuse fsync on folders; the rename still stands
}

void write_file_atomic(const fs::path& path, std::string_view contents) {
  const fs::path tmp = temporary_sibling(path);
  {
    Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (fd.get() < 0) io_fail("cannot create", tmp);
    size_t done = 0;
    while (done < contents.size()) {
      const ssize_t n = ::write(fd.get(), contents.data() + done, contents.size() - done);
      if (n < 0) {
        if (errno == EINTR) continue;
        const int saved = errno;
        ::unlink(tmp.c_str());
        errno = saved;
        io_fail("cannot write", tmp);
      }
      done += static_cast<size_t>(n);
    }
    if (::fsync(fd.get()) != 0) io_fail("cannot fsync", tmp);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int saved = errno;
    ::unlink(tmp.c_str());
    errno = saved;
    io_fail("cannot rename into", path);
  }
  fsync_parent(path);
}

std::string file_sha256(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot read '" + path.string() + "': " + std::strerror(errno));
  Sha256 hash;
  std::string buffer(1 << 20, '\0');
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    hash.update(buffer.data(), static_cast<size_t>(in.gcount()));
  }
  return hash.hex_digest();
}

}  // namespace locsweep
