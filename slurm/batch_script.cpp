#include "slurm/batch_script.hpp"

#include <map>
#include <vector>

#include "common/error.hpp"
#include "slurm/job_sbatch_template.hpp"  // generated from slurm/job.sbatch.in: kJobSbatchTemplate
#include "slurm/launcher_script.hpp"      // generated from scripts/launch: kLauncherScript

namespace locsweep {

namespace {

// A value for an "#SBATCH --opt=VALUE" line, in the double quotes sbatch understands there
// (`"` escaped as `\"`). validate() has ruled out newlines, control characters and backslashes.
std::string sbatch_quote(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out += '\\';
    out += c;
  }
  return out + "\"";
}

// Text for a comment line: control characters become '?'.
std::string comment_text(std::string_view text) {
  std::string out(text);
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  return out;
}

// Replaces each {{NAME}} of `text` by values.at(NAME), in one pass (a value containing
// "{{...}}" stays as it is). A line that holds nothing but a placeholder whose value is empty
// is dropped. Unknown placeholders and unused values are errors in the template.
std::string fill(std::string_view text, const std::map<std::string, std::string>& values) {
  std::map<std::string, int> used;
  std::string out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    end = end == std::string_view::npos ? text.size() : end + 1;
    const std::string_view line = text.substr(pos, end - pos);
    pos = end;
    std::string filled;
    bool only_empty_placeholder = false;
    size_t i = 0;
    while (i < line.size()) {
      const size_t open = line.find("{{", i);
      if (open == std::string_view::npos) {
        filled += line.substr(i);
        break;
      }
      const size_t close = line.find("}}", open);
      if (close == std::string_view::npos) throw Error("batch template: unclosed '{{'");
      const std::string name(line.substr(open + 2, close - open - 2));
      const auto it = values.find(name);
      if (it == values.end()) throw Error("batch template: unknown placeholder {{" + name + "}}");
      ++used[name];
      filled += line.substr(i, open - i);
      filled += it->second;
      only_empty_placeholder = open == 0 && it->second.empty() &&
                               line.substr(close + 2).find_first_not_of('\n') == std::string::npos;
      i = close + 2;
    }
    if (!only_empty_placeholder) out += filled;
  }
  for (const auto& [name, value] : values)
    if (!used.count(name)) throw Error("batch template: placeholder {{" + name + "}} is missing");
  return out;
}

// The set-up lines as the script runs them: verbatim, in order, with `set -u` off (module and
// virtualenv scripts read unset variables). Empty without lines.
std::string setup_block(const std::vector<std::string>& lines) {
  if (lines.empty()) return "";
  std::string block =
      "# Set-up lines (--setup-file, then --setup), verbatim, run before the job step.\n"
      "log \"set-up: " +
      std::to_string(lines.size()) + " line(s)\"\nset +u\n";
  for (const auto& line : lines) block += line + "\n";
  return block + "set -u\nlog \"set-up done\"";
}

// scripts/launch for the here-document that holds it in the script (quoted delimiter: nothing
// in it is expanded), without its last line end.
std::string launcher_text() {
  std::string text = kLauncherScript;
  if (("\n" + text).find("\nLOCSWEEP_LAUNCHER_END\n") != std::string::npos)
    throw Error("scripts/launch contains the line LOCSWEEP_LAUNCHER_END, which ends its copy");
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

}  // namespace

std::string shell_quote(std::string_view text) {
  if (text.find('\0') != std::string_view::npos)
    throw InputError("a NUL byte cannot be passed through a shell word");
  std::string out = "'";
  for (char c : text) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

// The words, each shell-quoted, separated by spaces.
static std::string shell_words(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& word : words) out += (out.empty() ? "" : " ") + shell_quote(word);
  return out;
}

std::string_view batch_script_template() {
  return kJobSbatchTemplate;
}

std::string render_batch_script(const SubmitOptions& o, const std::string& sweep_name) {
  validate(o);
  std::string optional;
  const auto add = [&](const std::string& line) {
    optional += (optional.empty() ? "" : "\n") + line;
  };
  if (!o.partition.empty()) add("#SBATCH --partition=" + o.partition);
  if (!o.account.empty()) add("#SBATCH --account=" + o.account);
  if (!o.qos.empty()) add("#SBATCH --qos=" + o.qos);
  if (!o.mem.empty()) add("#SBATCH --mem=" + o.mem);
  if (!o.constraint.empty()) add("#SBATCH --constraint=" + o.constraint);
  if (!o.gres.empty()) add("#SBATCH --gres=" + o.gres);
  for (const auto& line : o.extra_sbatch) add("#SBATCH " + line);
  const std::string output =
      o.output.empty() ? default_output_pattern(o, sweep_name) : o.output.string();
  const RankLayout layout = rank_layout(o);
  // A gpu entry in --gres requests the GPUs itself (with their type); Slurm would count a
  // --gpus-per-node line as well.
  const bool gpu_line = o.gpus_per_node > 0 && gres_gpus(o.gres) == 0;
  const std::string cpus = std::to_string(o.cpus_per_task);
  // Validated values (a plugin name, a number): written as they are, so the srun line reads
  // plainly in the script.
  std::string srun_args = "--mpi=" + o.mpi;
  if (o.cpus_per_task > 0) srun_args += " --cpus-per-task=" + cpus;
  return fill(batch_script_template(),
              {
                  {"SWEEP_NAME", comment_text(sweep_name)},
                  {"JOB_NAME", job_name_for(sweep_name)},
                  {"NODES", std::to_string(o.nodes)},
                  {"RANKS_PER_NODE", std::to_string(layout.first_node)},
                  {"GPU_LINE",
                   gpu_line ? "#SBATCH --gpus-per-node=" + std::to_string(o.gpus_per_node) : ""},
                  {"CPUS_LINE", o.cpus_per_task > 0 ? "#SBATCH --cpus-per-task=" + cpus : ""},
                  {"FIRST_NODE_RANKS", std::to_string(layout.first_node)},
                  {"OTHER_NODE_RANKS", std::to_string(layout.other_nodes)},
                  {"SRUN_ARGS", srun_args},
                  {"RUN_ARGS", o.cpus_per_task > 0 ? "--threads " + cpus : ""},
                  {"LAUNCHER", launcher_text()},
                  {"SETUP_BLOCK", setup_block(o.setup_lines)},
                  {"TIME", o.time},
                  {"OUTPUT", sbatch_quote(output)},
                  {"SIGNAL_WARN_S", std::to_string(o.signal_warn_s)},
                  {"OPTIONAL_SBATCH_LINES", optional},
                  {"LOCSWEEP_BINARY", shell_quote(o.locsweep_binary.string())},
                  {"SWEEP_PATH", shell_quote(o.sweep_path.string())},
                  {"OVERRIDE_ARGS", shell_words(o.overrides)},
                  {"DB", shell_quote(o.db.string())},
                  {"ARTIFACTS_ARGS",
                   o.artifacts.empty() ? "" : "--artifacts " + shell_quote(o.artifacts.string())},
                  {"MAX_REQUEUES", std::to_string(o.max_requeues)},
              });
}

}  // namespace locsweep
