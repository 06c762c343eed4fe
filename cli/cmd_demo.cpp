// `locsweep demo [--out DIR] [--workers N]`: the main job on the embedded default sweep
// (sweeps/demo.yaml). Writes the spec into DIR, runs it with local MPI ranks (mpirun, one
// coordinator + N workers of one thread each; without mpirun, in this process), then prints
// the results table and writes the HTML report (DIR/report/index.html). Running it again
// resumes or, when done, just reprints.
#include <fmt/format.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <thread>

#include "cli/commands.hpp"
#include "cli/demo_yaml.hpp"
#include "cli/embedded.hpp"
#include "common/error.hpp"
#include "common/files.hpp"
#include "orchestrator/run.hpp"
#include "results/queries.hpp"
#include "results/report.hpp"
#include "results/table.hpp"
#include "trial/trial_process.hpp"

extern char** environ;

namespace locsweep::cli {
namespace fs = std::filesystem;

namespace {

std::string find_on_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  if (!path) return "";
  std::string dirs = path;
  for (size_t start = 0, end; start <= dirs.size(); start = end + 1) {
    end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    const fs::path candidate = fs::path(dirs.substr(start, end - start)) / program;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return "";
}

// Runs argv and returns its exit code (128 + signal if killed).
int run_and_wait(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  if (const int rc = posix_spawn(&pid, args[0], nullptr, nullptr, args.data(), environ); rc != 0)
    throw Error("cannot start " + argv[0] + ": " + std::strerror(rc));
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

void add_demo_command(CLI::App& app, int* argc, char*** argv) {
  struct Options {
    std::string out = "demo-out";
    int workers = 0;
    bool no_mpi = false;
  };
  auto o = std::make_shared<Options>();
  auto* cmd = app.add_subcommand(
      "demo", "Run the embedded demo sweep with local MPI ranks and show its results");
  cmd->add_option("--out", o->out, "Folder for the spec, results database, artifacts and report")
      ->capture_default_str();
  cmd->add_option("--workers", o->workers, "Worker ranks (default: one per core)")
      ->check(CLI::Range(1, 256));
  cmd->add_flag("--no-mpi", o->no_mpi, "Run the trials in this process, one at a time");
  cmd->callback([o, argc, argv] {
    fs::create_directories(o->out);
    const fs::path spec = fs::absolute(fs::path(o->out) / "demo.yaml");
    const fs::path db = fs::absolute(fs::path(o->out) / "results.sqlite");
    write_file_atomic(spec, kDemoYaml);
    const int workers =
        o->workers > 0 ? o->workers : std::max(1u, std::thread::hardware_concurrency());
    const std::string mpirun = o->no_mpi ? "" : find_on_path("mpirun");
    int code = 0;
    if (!mpirun.empty()) {
      if (::geteuid() == 0) {  // Open MPI refuses root unless told twice
        ::setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 0);
        ::setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 0);
      }
      fmt::print(stderr, "demo: {} worker ranks + 1 coordinator via {}\n", workers, mpirun);
      code = run_and_wait({mpirun, "--oversubscribe", "-n", std::to_string(workers + 1),
                           self_executable(), "run", spec.string(), "--db", db.string(),
                           "--threads", "1"});
    } else {
      RunOptions run;
      run.sweep_path = spec.string();
      run.db_path = db.string();
      code = run_sweep(run, argc, argv);
    }
    if (code == kRunInterrupted) {
      fmt::print(stderr, "demo: interrupted; run `locsweep demo --out {}` again to resume\n",
                 o->out);
      throw ExitCode(code);
    }
    if (code != 0) throw Error("the demo sweep failed (exit code " + std::to_string(code) + ")");
    Database results = open_results_read_only(db.string());
    ResultsQuery query;
    query.sweep = "demo";
    fmt::print("{}",
               render_results(build_results_table(results, query), TableFormat::table, false));
    fmt::print("\nresults database: {}\n", db.string());
    fmt::print("report: {}\n", write_report(results, "demo", fs::path(o->out) / "report").string());
  });
}

}  // namespace locsweep::cli
