#include "common/folder_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>

namespace locsweep {
namespace fs = std::filesystem;

namespace {

fs::path lock_path(const fs::path& dir) {
  return dir / "trial.lock";
}

pid_t read_pid(int fd) {
  char text[32] = {};
  const ssize_t n = ::pread(fd, text, sizeof text - 1, 0);
  return n > 0 ? static_cast<pid_t>(std::atol(text)) : 0;
}

}  // namespace

pid_t folder_lock_holder(const fs::path& dir) {
  Fd fd(::open(lock_path(dir).c_str(), O_RDONLY | O_CLOEXEC));
  return fd.valid() ? read_pid(fd.get()) : 0;
}

FolderLock FolderLock::acquire(const fs::path& dir, double wait_s,
                               const std::function<void(pid_t)>& on_wait) {
  fs::create_directories(dir);
  const fs::path path = lock_path(dir);
  Fd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!fd.valid()) throw Error("cannot open '" + path.string() + "': " + std::strerror(errno));
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::duration<double>(std::max(0.0, wait_s));
  bool told = false;
  while (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK && errno != EINTR)
      throw Error("cannot lock '" + path.string() + "': " + std::strerror(errno));
    const pid_t holder = read_pid(fd.get());
    if (std::chrono::steady_clock::now() >= deadline)
      throw FolderBusyError("'" + dir.string() + "' is in use by another trial process (pid " +
                            std::to_string(holder) + "), still running after " +
                            std::to_string(static_cast<int>(wait_s)) +
                            " s; wait for it to end (or end it) and run again");
    if (!told && on_wait) on_wait(holder);
    told = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd.get(), 0) != 0 ||
      ::pwrite(fd.get(), pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    // The lock holds without the pid (a full disk): only messages lose the holder's pid.
  }
  return FolderLock(std::move(fd));
}

}  // namespace locsweep
