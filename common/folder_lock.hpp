// An exclusive lock on a folder, for the process that works in it: flock(2) on DIR/trial.lock,
// which also holds the holder's pid for messages. The kernel releases it when the holder ends,
// however it ends (kill -9 included), so a lock is never stale; a second process that wants
// the folder waits for the first to end instead of working beside it.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <functional>

#include "common/error.hpp"
#include "common/fd.hpp"

namespace locsweep {

// Another live process holds the folder.
class FolderBusyError : public Error {
 public:
  using Error::Error;
};

class FolderLock {
 public:
  // Takes the lock on `dir` (created if missing), waiting up to wait_s seconds for a holder
  // to end; on_wait(holder_pid) is called once if it has to wait. Throws FolderBusyError
  // naming the holder when it is still held after wait_s.
  static FolderLock acquire(const std::filesystem::path& dir, double wait_s,
                            const std::function<void(pid_t holder)>& on_wait = {});
  FolderLock(FolderLock&&) noexcept = default;
  FolderLock& operator=(FolderLock&&) noexcept = default;

 private:
  explicit FolderLock(Fd fd) : fd_(std::move(fd)) {}
  Fd fd_;
};

// The pid recorded in DIR/trial.lock by its last holder (0 if none).
pid_t folder_lock_holder(const std::filesystem::path& dir);

}  // namespace locsweep
