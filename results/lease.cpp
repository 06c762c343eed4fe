#include "results/lease.hpp"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string_view>

namespace locsweep {

namespace {

std::string read_small_file(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// State letter and start time (fields 3 and 22) of /proc/PID/stat; state 0 if unreadable.
struct ProcStat {
  char state = 0;
  std::string start;
};
ProcStat proc_stat(int64_t pid) {
  const std::string text = read_small_file("/proc/" + std::to_string(pid) + "/stat");
  const size_t paren = text.rfind(')');  // the command name may hold spaces and parentheses
  if (paren == std::string::npos) return {};
  std::istringstream fields(text.substr(paren + 1));
  ProcStat s;
  std::string field;
  fields >> s.state;
  for (int i = 4; i <= 22 && fields >> field; ++i)
    if (i == 22) s.start = field;
  return s;
}

std::string machine_and_namespace(int64_t pid) {
  std::string boot = read_small_file("/proc/sys/kernel/random/boot_id");
  while (!boot.empty() && (boot.back() == '\n' || boot.back() == ' ')) boot.pop_back();
  std::error_code ec;
  const std::string ns =
      std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/ns/pid", ec).string();
  if (boot.empty() || ns.empty()) return "";
  return boot + "/" + ns;
}

}  // namespace

std::string_view to_string(Liveness liveness) {
  switch (liveness) {
    case Liveness::gone:
      return "gone";
    case Liveness::running:
      return "running";
    case Liveness::stopped:
      return "stopped";
    case Liveness::unknown:
      return "unknown";
  }
  return "?";
}

std::string host_name() {
  char name[256] = {};
  ::gethostname(name, sizeof name - 1);
  return name;
}

std::string process_identity(int64_t pid) {
  const std::string where = machine_and_namespace(pid);
  const ProcStat stat = proc_stat(pid);
  if (where.empty() || stat.start.empty()) return "";
  return where + "/" + stat.start;
}

Liveness recorded_process_liveness(const std::string& host, int64_t pid,
                                   const std::string& identity) {
  if (host != host_name() || pid <= 0) return Liveness::unknown;
  if (!identity.empty()) {
    // Same machine and pid namespace as this process, or the pid means nothing here.
    const std::string here = machine_and_namespace(::getpid());
    if (here.empty() || identity.rfind(here + "/", 0) != 0) return Liveness::unknown;
  }
  if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno != EPERM) return Liveness::gone;
  const ProcStat stat = proc_stat(pid);
  if (stat.state == 0)  // exited just now, or /proc hides it
    return ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH ? Liveness::gone
                                                                     : Liveness::unknown;
  if (identity.empty()) {
    // A row of schema 1 has no start time: the pid is ours only if it still runs a locsweep
    // binary (argv[0], the text before the first NUL; not any argument, which may be a path
    // that merely contains the word).
    const std::string cmdline = read_small_file("/proc/" + std::to_string(pid) + "/cmdline");
    const std::string program = cmdline.substr(0, cmdline.find('\0'));
    if (std::filesystem::path(program).filename() != "locsweep") return Liveness::gone;
  } else if (identity.substr(identity.rfind('/') + 1) != stat.start) {
    return Liveness::gone;  // the pid now belongs to a later process
  }
  if (stat.state == 'Z' || stat.state == 'X') return Liveness::gone;  // exited, not yet reaped
  if (stat.state == 'T' || stat.state == 't') return Liveness::stopped;
  return Liveness::running;
}

}  // namespace locsweep
