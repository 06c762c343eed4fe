#include "slurm/submit.hpp"

#include <ctime>

#include "common/error.hpp"
#include "common/files.hpp"
#include "common/process.hpp"

namespace locsweep {
namespace fs = std::filesystem;

namespace {

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

  const ProgramResult sbatch = run_program({"sbatch", "--parsable", result.script.string()});
  if (sbatch.ending == ProgramResult::Ending::not_found)
    throw Error(
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
