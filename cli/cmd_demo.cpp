// `locsweep demo [--out DIR] [--workers N]`: the main job on the embedded default sweep
// (sweeps/demo.yaml). Writes the spec into DIR, runs it with local MPI ranks (mpirun, one
// coordinator + N workers of one thread each; without mpirun, in this process), then prints
// the results table and writes the HTML report (DIR/report/index.html). Running it again
// resumes or, when done, just reprints.
#include <fmt/format.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <thread>

#include "cli/commands.hpp"
#include "cli/demo_yaml.hpp"
#include "cli/embedded.hpp"
#include "common/error.hpp"
#include "common/files.hpp"
#include "common/spawn.hpp"
#include "orchestrator/run.hpp"
#include "results/queries.hpp"
#include "results/report.hpp"
#include "results/table.hpp"

namespace locsweep::cli {
namespace fs = std::filesystem;

namespace {

struct DemoOptions {
  std::string out = "demo-out";
  int workers = 0;
  bool no_mpi = false;
};

// Where the demo keeps its files.
struct DemoPaths {
  fs::path spec, db;
};

// Writes the embedded spec into the output folder.
DemoPaths write_demo_spec(const DemoOptions& o) {
  fs::create_directories(o.out);
  DemoPaths paths{fs::absolute(fs::path(o.out) / "demo.yaml"),
                  fs::absolute(fs::path(o.out) / "results.sqlite")};
  write_file_atomic(paths.spec, kDemoYaml);
  return paths;
}

// Runs the sweep with mpirun (one coordinator + `workers` ranks of one thread each); nothing
// when mpirun is not on PATH.
std::optional<int> run_with_mpirun(const DemoPaths& paths, int workers) {
  SpawnOptions options;
  options.search_path = true;
  if (::geteuid() == 0)  // Open MPI refuses root unless told twice
    for (const char* name : {"OMPI_ALLOW_RUN_AS_ROOT", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"})
      if (!std::getenv(name)) options.environment.emplace_back(name, "1");
  std::optional<ChildProcess> mpirun = ChildProcess::spawn(
      {"mpirun", "--oversubscribe", "-n", std::to_string(workers + 1), self_executable(), "run",
       paths.spec.string(), "--db", paths.db.string(), "--threads", "1"},
      options);
  if (!mpirun) return std::nullopt;
  fmt::print(stderr, "demo: {} worker ranks + 1 coordinator via mpirun\n", workers);
  return mpirun->wait().shell_code();
}

// Runs the sweep to its end: with local MPI ranks, else (or with --no-mpi) in this process.
// Throws ExitCodeError(75) when interrupted, Error when it failed.
void run_demo_sweep(const DemoOptions& o, const DemoPaths& paths, int* argc, char*** argv) {
  const int workers = o.workers > 0
                          ? o.workers
                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::optional<int> code = o.no_mpi ? std::nullopt : run_with_mpirun(paths, workers);
  if (!code) {
    RunOptions run;
    run.sweep_path = paths.spec.string();
    run.db_path = paths.db.string();
    code = run_sweep(run, argc, argv);
  }
  if (*code == kRunInterrupted)
    throw ExitCodeError(
        *code, "the demo was interrupted; run `locsweep demo --out " + o.out + "` again to resume");
  if (*code != 0) throw Error("the demo sweep failed (exit code " + std::to_string(*code) + ")");
}

// Prints the results table and writes the HTML report.
void show_demo_results(const DemoOptions& o, const DemoPaths& paths) {
  Database results = open_results_read_only(paths.db.string());
  ResultsQuery query;
  query.sweep = "demo";
  fmt::print("{}", render_results(build_results_table(results, query), TableFormat::table, false));
  fmt::print("\nresults database: {}\n", paths.db.string());
  fmt::print("report: {}\n", write_report(results, "demo", fs::path(o.out) / "report").string());
}

}  // namespace

void add_demo_command(CLI::App& app, int* argc, char*** argv) {
  auto o = std::make_shared<DemoOptions>();
  auto* cmd = app.add_subcommand(
      "demo", "Run the embedded demo sweep with local MPI ranks and show its results");
  cmd->add_option("--out", o->out, "Folder for the spec, results database, artifacts and report")
      ->capture_default_str();
  cmd->add_option("--workers", o->workers, "Worker ranks (default: one per core)")
      ->check(CLI::Range(1, 256));
  cmd->add_flag("--no-mpi", o->no_mpi, "Run the trials in this process, one at a time");
  cmd->callback([o, argc, argv] {
    const DemoPaths paths = write_demo_spec(*o);
    run_demo_sweep(*o, paths, argc, argv);
    show_demo_results(*o, paths);
  });
}

}  // namespace locsweep::cli
