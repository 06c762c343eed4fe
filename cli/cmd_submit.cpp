// `locsweep submit SWEEP.yaml [KEY=VALUE...] --db FILE ...`: the sweep as a self-requeueing Slurm
// batch job (slurm/submit.hpp). Before sbatch, the sweep is planned and registered in the results
// DB (a DB that cannot be written, or a sweep name already used by another spec, fails before
// anything is submitted), so `locsweep status` knows it at once; after sbatch, the job is
// recorded with the sweep (slurm_jobs). --dry-run prints the batch script and touches nothing.
#include <fmt/format.h>

#include <filesystem>
#include <memory>

#include "cli/commands.hpp"
#include "common/spawn.hpp"
#include "orchestrator/run.hpp"
#include "results/store.hpp"
#include "slurm/submit.hpp"
#include "sweeps/plan.hpp"
#include "sweeps/sweep_spec.hpp"

namespace locsweep::cli {

namespace {
namespace fs = std::filesystem;

struct Options {
  std::string sweep, db, artifacts, output, binary, setup_file;
  std::vector<std::string> setup;
  std::vector<std::string> overrides;
  SubmitOptions submit;
  bool dry_run = false;
};

fs::path absolute_path(const std::string& path) {
  return path.empty() ? fs::path() : fs::absolute(path).lexically_normal();
}

// The command line's options with every path absolute (the job runs elsewhere), validated.
SubmitOptions resolved_options(const Options& opt) {
  SubmitOptions options = opt.submit;
  options.sweep_path = absolute_path(opt.sweep);
  options.overrides = opt.overrides;
  options.db = absolute_path(opt.db);
  options.artifacts = absolute_path(opt.artifacts);
  options.output = absolute_path(opt.output);
  options.locsweep_binary =
      opt.binary.empty() ? fs::path(self_executable()) : absolute_path(opt.binary);
  if (!opt.setup_file.empty()) options.setup_lines = read_setup_file(opt.setup_file);
  options.setup_lines.insert(options.setup_lines.end(), opt.setup.begin(), opt.setup.end());
  validate(options);
  return options;
}

// Submits the job and records it with the sweep: the same registration `locsweep run` does in
// the job (same artifacts root, no spec change allowed), so every problem it would meet there
// shows here, before sbatch.
void register_and_submit(const SweepSpec& spec, const SubmitOptions& options) {
  ResultsStore store = ResultsStore::open_for_writing(options.db.string());
  const fs::path artifacts = options.artifacts.empty()
                                 ? fs::absolute(default_artifacts_dir(options.db.string()))
                                 : options.artifacts;
  const auto sync = store.sync_sweep(spec, plan_sweep(spec), artifacts.string(), false);
  const SubmitResult result = submit(options, spec.name);
  nlohmann::json recorded = to_json(options);
  recorded["cluster"] = result.cluster;
  recorded["output_pattern"] = result.output;
  store.record_slurm_job(sync.sweep_id, result.job_id, result.script.string(), recorded);
  fmt::print(stderr,
             "locsweep: submitted sweep {} ({} trials, {} new) as job {}\n  script: {}\n"
             "  output: {}\n  progress: locsweep status --db {}\n",
             spec.name, sync.new_trials + sync.known_trials, sync.new_trials, result.job_id,
             result.script.string(), result.output, options.db.string());
  fmt::print("{}\n", result.job_id);
}

}  // namespace

void add_submit_command(CLI::App& app) {
  auto opt = std::make_shared<Options>();
  SubmitOptions& s = opt->submit;
  auto* cmd = app.add_subcommand(
      "submit",
      "Submit a sweep to Slurm as one batch job that runs `locsweep run` under srun and requeues "
      "itself until the sweep is done");
  cmd->add_option("SWEEP", opt->sweep, "Sweep YAML")->required();
  add_overrides_option(cmd, opt->overrides);  // the job's `locsweep run` gets them too
  add_db_option(cmd, opt->db, "Results DB (SQLite); scripts and job output go to <db>.slurm/");
  cmd->add_option("--artifacts", opt->artifacts, "Folder for checkpoints and trial artifacts");
  cmd->add_option("--nodes", s.nodes, "Nodes")->capture_default_str();
  cmd->add_option("--gpus-per-node", s.gpus_per_node,
                  "GPUs per node (0: none requested); one worker rank per GPU on every node, "
                  "rank 0 (the coordinator) on top on the first")
      ->capture_default_str();
  cmd->add_option("--ranks-per-node", s.ranks_per_node,
                  "MPI ranks per node, >= 2 (rank 0 is the coordinator, the others workers; "
                  "default 2, or --gpus-per-node + 1 on the first node with GPUs)");
  cmd->add_option("--cpus-per-task", s.cpus_per_task,
                  "CPUs per rank (#SBATCH and srun --cpus-per-task; the trials' threads)");
  cmd->add_option("--gres", s.gres, "Generic resources per node, e.g. gpu:a100:4 or nvme:1");
  cmd->add_option("--mpi", s.mpi, "srun's MPI plugin: pmix, pmix_vN or pmi2")
      ->capture_default_str();
  cmd->add_option("--setup", opt->setup,
                  "A shell line the job runs before the job step, verbatim (repeat for more; "
                  "e.g. --setup 'module load openmpi')");
  cmd->add_option("--setup-file", opt->setup_file,
                  "A file of shell lines the job runs before the job step (before --setup's)");
  cmd->add_option("--time", s.time,
                  "Time limit per run: MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS")
      ->capture_default_str();
  cmd->add_option("--partition", s.partition, "Slurm partition(s)");
  cmd->add_option("--account", s.account, "Slurm account");
  cmd->add_option("--qos", s.qos, "Slurm QOS");
  cmd->add_option("--mem", s.mem, "Memory per node, e.g. 16G or 4000M");
  cmd->add_option("--constraint", s.constraint, "Node features, e.g. a100");
  cmd->add_option(
      "--sbatch", s.extra_sbatch,
      "Extra sbatch option for the script, one per flag (e.g. --sbatch=--mail-type=END)");
  cmd->add_option("--signal-warn", s.signal_warn_s,
                  "Seconds before the time limit at which the run checkpoints (USR1)")
      ->capture_default_str();
  cmd->add_option("--max-requeues", s.max_requeues, "Times the job may requeue itself")
      ->capture_default_str();
  cmd->add_option("--output", opt->output, "Job output file (default <db>.slurm/<sweep>-%j.out)");
  cmd->add_option("--locsweep-binary", opt->binary,
                  "The locsweep the job runs (default: this binary; it must exist on the nodes)");
  cmd->add_flag("--dry-run", opt->dry_run, "Print the batch script; submit nothing");
  cmd->callback([opt] {
    // An invalid spec (or override) stops here.
    const SweepSpec spec = load_sweep_with_overrides(opt->sweep, opt->overrides);
    const SubmitOptions options = resolved_options(*opt);
    if (opt->dry_run)
      fmt::print("{}", render_batch_script(options, spec.name));
    else
      register_and_submit(spec, options);
  });
}

}  // namespace locsweep::cli
