#include "slurm/submit.hpp"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <vector>

#include "common/error.hpp"
#include "common/files.hpp"

extern char** environ;

namespace locsweep {
namespace fs = std::filesystem;

namespace {

// An owned pipe end.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  int get() const { return fd_; }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

struct Pipe {
  Fd read, write;
  Pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw Error(std::string("pipe: ") + std::strerror(errno));
    read.reset(fds[0]);
    write.reset(fds[1]);
  }
};

struct ProcessResult {
  int status = 0;  // exit status, or 128 + signal
  std::string out, err;
};

// Runs argv[0] (looked up on PATH) with the given arguments, capturing stdout and stderr.
// Throws Error when it cannot start; `missing` is the message for a program not on PATH.
ProcessResult run_captured(const std::vector<std::string>& argv, const std::string& missing) {
  Pipe out, err;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out.write.get(), STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err.write.get(), STDERR_FILENO);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc == ENOENT) throw Error(missing);
  if (rc != 0) throw Error("cannot run " + argv[0] + ": " + std::strerror(rc));
  out.write.reset();
  err.write.reset();

  ProcessResult result;
  pollfd fds[2] = {{out.read.get(), POLLIN, 0}, {err.read.get(), POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_fds = 2;
  while (open_fds > 0) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      throw Error(std::string("poll: ") + std::strerror(errno));
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buffer[4096];
      const ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
      if (n > 0) {
        sinks[i]->append(buffer, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        fds[i].fd = -1;  // EOF (or a read error): stop polling it
        --open_fds;
      }
    }
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) throw Error(std::string("waitpid: ") + std::strerror(errno));
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

std::string trim(std::string s) {
  const size_t first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
}

// "<job>-YYYYmmdd-HHMMSS.sbatch" in `folder`, with "-2", "-3"... if that is taken.
fs::path new_script_path(const fs::path& folder, const std::string& job_name) {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::localtime_r(&now, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
  const std::string base = job_name + "-" + stamp;
  fs::path path = folder / (base + ".sbatch");
  for (int n = 2; fs::exists(path); ++n)
    path = folder / (base + "-" + std::to_string(n) + ".sbatch");
  return path;
}

}  // namespace

SubmitResult submit(const SubmitOptions& options, const std::string& sweep_name) {
  const std::string script = render_batch_script(options, sweep_name);  // validates

  SubmitResult result;
  const fs::path folder = job_folder(options);
  std::error_code ec;
  fs::create_directories(folder, ec);
  if (ec)
    throw Error("cannot create '" + folder.string() + "' for the batch script: " + ec.message());
  result.script = new_script_path(folder, job_name_for(sweep_name));
  write_file_atomic(result.script, script);
  result.output = options.output.empty() ? default_output_pattern(options, sweep_name)
                                         : options.output.string();
  // Slurm does not create the output's folder; a job whose output cannot be opened fails.
  const fs::path output_folder = fs::path(result.output).parent_path();
  if (output_folder.string().find('%') == std::string::npos) {
    fs::create_directories(output_folder, ec);
    if (ec)
      throw Error("cannot create the job output folder '" + output_folder.string() +
                  "': " + ec.message());
  }

  const ProcessResult sbatch = run_captured(
      {"sbatch", "--parsable", result.script.string()},
      "sbatch not found on PATH: `locsweep submit` needs the Slurm client tools (run it on a "
      "login node, or use --dry-run to print the script; it is kept at " +
          result.script.string() + ")");
  if (sbatch.status != 0)
    throw Error("sbatch failed (exit " + std::to_string(sbatch.status) +
                "): " + trim(sbatch.err.empty() ? sbatch.out : sbatch.err) +
                " [script: " + result.script.string() + "]");
  // --parsable prints "JOBID" or "JOBID;CLUSTER" (possibly after warnings on stderr).
  const std::string line = trim(sbatch.out);
  const size_t semicolon = line.find(';');
  result.job_id = line.substr(0, semicolon);
  if (semicolon != std::string::npos) result.cluster = line.substr(semicolon + 1);
  if (result.job_id.empty() || result.job_id.find_first_not_of("0123456789") != std::string::npos)
    throw Error("sbatch printed no job id (stdout: '" + line + "', stderr: '" + trim(sbatch.err) +
                "') [script: " + result.script.string() + "]");
  return result;
}

}  // namespace locsweep
