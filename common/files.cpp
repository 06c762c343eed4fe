#include "common/files.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
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

// The first existing ancestor of `path` (or `path` itself) that is not a folder, if any.
std::optional<fs::path> blocking_file(const fs::path& path) {
  std::error_code ec;
  for (fs::path p = path; !p.empty(); p = p.parent_path()) {
    const auto status = fs::status(p, ec);
    if (fs::exists(status)) return fs::is_directory(status) ? std::nullopt : std::optional(p);
    if (p == p.parent_path()) break;
  }
  return std::nullopt;
}

}  // namespace

void ensure_writable_folder(const fs::path& folder, const std::string& what) {
  const std::string where = what + " '" + folder.string() + "'";
  const std::string fix = "; choose another folder with " + what;
  if (const auto file = blocking_file(folder))
    throw InputError(where + ": '" + file->string() + "' is a file, not a folder" + fix);
  std::error_code ec;
  fs::create_directories(folder, ec);
  if (ec && !fs::is_directory(folder))
    throw InputError(where + ": cannot create the folder: " + ec.message() + fix);
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  const fs::path probe =
      folder / (".locsweep-write-test-" + std::string(host) + "-" + std::to_string(::getpid()));
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    throw InputError(where + ": cannot create files in it: " + std::strerror(errno) + fix);
  ::close(fd);
  ::unlink(probe.c_str());
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
