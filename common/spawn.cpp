#include "common/spawn.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/error.hpp"

extern char** environ;

namespace locsweep {

std::string ExitStatus::describe() const {
  if (!signaled) return "exit code " + std::to_string(code);
  const char* name = sigabbrev_np(signal);
  return std::string("signal SIG") + (name ? name : std::to_string(signal).c_str());
}

std::string self_executable() {
  std::error_code ec;
  const auto path = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) throw Error("cannot find this executable (/proc/self/exe): " + ec.message());
  return path.string();
}

namespace {

// posix_spawn_file_actions_t with its destroy.
class FileActions {
 public:
  FileActions() { posix_spawn_file_actions_init(&actions_); }
  FileActions(const FileActions&) = delete;
  FileActions& operator=(const FileActions&) = delete;
  ~FileActions() { posix_spawn_file_actions_destroy(&actions_); }
  posix_spawn_file_actions_t* get() { return &actions_; }

  void redirect(int stream, const Redirect& r) {
    switch (r.kind) {
      case Redirect::Kind::inherit:
        return;
      case Redirect::Kind::null:
        posix_spawn_file_actions_addopen(&actions_, stream, "/dev/null",
                                         stream == STDIN_FILENO ? O_RDONLY : O_WRONLY, 0);
        return;
      case Redirect::Kind::read_file:
        posix_spawn_file_actions_addopen(&actions_, stream, r.path.c_str(), O_RDONLY, 0);
        return;
      case Redirect::Kind::append_file:
        posix_spawn_file_actions_addopen(&actions_, stream, r.path.c_str(),
                                         O_WRONLY | O_CREAT | O_APPEND, 0644);
        return;
      case Redirect::Kind::fd:
        posix_spawn_file_actions_adddup2(&actions_, r.fd, stream);
        return;
    }
  }

 private:
  posix_spawn_file_actions_t actions_;
};

// posix_spawnattr_t with its destroy.
class Attributes {
 public:
  Attributes() { posix_spawnattr_init(&attr_); }
  Attributes(const Attributes&) = delete;
  Attributes& operator=(const Attributes&) = delete;
  ~Attributes() { posix_spawnattr_destroy(&attr_); }
  posix_spawnattr_t* get() { return &attr_; }

  explicit Attributes(const SpawnOptions& o) : Attributes() {
    short flags = 0;
    if (o.own_process_group) {
      posix_spawnattr_setpgroup(&attr_, 0);
      flags |= POSIX_SPAWN_SETPGROUP;
    }
    if (!o.default_signals.empty()) {
      const sigset_t set = signal_set(o.default_signals);
      posix_spawnattr_setsigdefault(&attr_, &set);
      flags |= POSIX_SPAWN_SETSIGDEF;
    }
    if (o.blocked_signals) {
      const sigset_t set = signal_set(*o.blocked_signals);
      posix_spawnattr_setsigmask(&attr_, &set);
      flags |= POSIX_SPAWN_SETSIGMASK;
    }
    posix_spawnattr_setflags(&attr_, flags);
  }

 private:
  static sigset_t signal_set(const std::vector<int>& signals) {
    sigset_t set;
    sigemptyset(&set);
    for (int s : signals) sigaddset(&set, s);
    return set;
  }
  posix_spawnattr_t attr_;
};

// The parent's environment with `overrides` set or replaced, as "NAME=value" strings.
std::vector<std::string> environment_with(
    const std::vector<std::pair<std::string, std::string>>& overrides) {
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e) {
    const std::string entry = *e;
    const std::string name = entry.substr(0, entry.find('='));
    bool replaced = false;
    for (const auto& [n, v] : overrides) replaced = replaced || n == name;
    if (!replaced) env.push_back(entry);
  }
  for (const auto& [n, v] : overrides) env.push_back(n + "=" + v);
  return env;
}

std::vector<char*> pointers(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (const auto& s : strings) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

}  // namespace

std::optional<ChildProcess> ChildProcess::spawn(const std::vector<std::string>& argv,
                                                const SpawnOptions& options) {
  if (argv.empty()) throw Error("cannot start a program: none given");
  FileActions actions;
  actions.redirect(STDIN_FILENO, options.in);
  actions.redirect(STDOUT_FILENO, options.out);
  actions.redirect(STDERR_FILENO, options.err);
  Attributes attr(options);
  const std::vector<std::string> env_strings = options.environment.empty()
                                                   ? std::vector<std::string>{}
                                                   : environment_with(options.environment);
  std::vector<char*> env = pointers(env_strings);
  std::vector<char*> args = pointers(argv);
  char** envp = options.environment.empty() ? environ : env.data();
  pid_t pid = -1;
  const int rc = options.search_path
                     ? ::posix_spawnp(&pid, args[0], actions.get(), attr.get(), args.data(), envp)
                     : ::posix_spawn(&pid, args[0], actions.get(), attr.get(), args.data(), envp);
  if (rc == ENOENT) return std::nullopt;
  if (rc != 0) throw Error("cannot start '" + argv[0] + "': " + std::strerror(rc));
  return ChildProcess(pid, options.own_process_group);
}

ChildProcess::ChildProcess(ChildProcess&& o) noexcept
    : pid_(o.pid_),
      group_(o.group_),
      reaped_(o.reaped_),
      killed_by_us_(o.killed_by_us_),
      status_(o.status_) {
  o.pid_ = -1;
  o.reaped_ = true;
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && !reaped_) {
    signal(SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
}

ExitStatus ChildProcess::reap(int wait_status) {
  reaped_ = true;
  status_.signaled = WIFSIGNALED(wait_status);
  status_.code = WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : 0;
  status_.signal = status_.signaled ? WTERMSIG(wait_status) : 0;
  status_.killed_by_us = killed_by_us_;
  return status_;
}

std::optional<ExitStatus> ChildProcess::poll() {
  if (reaped_ || pid_ <= 0) return std::nullopt;
  int status = 0;
  pid_t r;
  while ((r = ::waitpid(pid_, &status, WNOHANG)) < 0 && errno == EINTR) {
  }
  if (r < 0) throw Error(std::string("waitpid: ") + std::strerror(errno));
  if (r != pid_) return std::nullopt;
  return reap(status);
}

ExitStatus ChildProcess::wait() {
  if (reaped_ || pid_ <= 0) return status_;
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0)
    if (errno != EINTR) throw Error(std::string("waitpid: ") + std::strerror(errno));
  return reap(status);
}

void ChildProcess::signal(int sig, bool ours) {
  if (pid_ <= 0 || reaped_) return;
  if (ours) killed_by_us_ = true;
  ::kill(group_ ? -pid_ : pid_, sig);
}

}  // namespace locsweep
