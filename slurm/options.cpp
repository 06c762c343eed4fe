#include "slurm/options.hpp"

#include <algorithm>
#include <fstream>

#include "common/error.hpp"

namespace locsweep {
namespace fs = std::filesystem;

namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_name_char(char c) {
  return is_digit(c) || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '.' || c == '_' ||
         c == '-';
}
bool is_control(char c) {
  return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
}

template <typename Pred>
bool all_chars(std::string_view s, Pred pred) {
  return std::all_of(s.begin(), s.end(), pred);
}

[[noreturn]] void fail(std::string_view flag, const std::string& message) {
  throw InputError(std::string(flag) + ": " + message);
}

// A quoted rendering of a value for messages (control characters made visible).
std::string shown(std::string_view value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\n')
      out += "\\n";
    else if (is_control(c))
      out += "\\x" + std::string(1, "0123456789abcdef"[(c >> 4) & 15]) +
             std::string(1, "0123456789abcdef"[c & 15]);
    else
      out += c;
  }
  return out + "'";
}

void check_at_least(std::string_view flag, int value, int minimum, const std::string& why = "") {
  if (value < minimum)
    fail(flag,
         "must be at least " + std::to_string(minimum) + why + "; got " + std::to_string(value));
}

// Slurm names (partition, account, QOS): letters, digits, '.', '_', '-'.
void check_name(std::string_view flag, const std::string& value, bool allow_list) {
  if (value.empty()) return;
  bool ok = all_chars(value, [&](char c) { return is_name_char(c) || (allow_list && c == ','); });
  ok = ok && value.front() != ',' && value.back() != ',' && value.find(",,") == std::string::npos;
  if (!ok)
    fail(flag, shown(value) + " is not a Slurm name: use letters, digits, '.', '_' and '-'" +
                   (allow_list ? " (several: comma-separated)" : ""));
}

void check_mem(const std::string& mem) {
  if (mem.empty()) return;
  const bool has_unit = std::string_view("KMGTkmgt").find(mem.back()) != std::string_view::npos;
  const std::string_view number = std::string_view(mem).substr(0, mem.size() - (has_unit ? 1 : 0));
  if (number.empty() || number.size() > 10 || !all_chars(number, is_digit))
    fail("--mem", shown(mem) +
                      " is not a Slurm memory size: a number of megabytes, or a number "
                      "with a unit K, M, G or T (e.g. 4000, 4000M, 16G)");
}

void check_constraint(const std::string& constraint) {
  if (constraint.empty()) return;
  const auto ok = all_chars(constraint, [](char c) {
    return is_name_char(c) || std::string_view("&|,:*![]()").find(c) != std::string_view::npos;
  });
  if (!ok)
    fail("--constraint", shown(constraint) +
                             " is not a Slurm feature expression: use feature names (letters, "
                             "digits, '.', '_', '-') joined by & | , with [ ] ( ) * ! : counts");
}

// Options the script sets itself, or that have their own `locsweep submit` flag.
constexpr std::pair<std::string_view, std::string_view> kReserved[] = {
    {"requeue", "the script always requeues"},
    {"no-requeue", "the script relies on requeueing; use --max-requeues 0 instead"},
    {"signal", "use --signal-warn"},
    {"open-mode", "the output is opened in append mode so requeued runs keep earlier output"},
    {"output", "use --output"},
    {"nodes", "use --nodes"},
    {"ntasks", "the ranks are laid out from --nodes, --ranks-per-node and --gpus-per-node"},
    {"ntasks-per-node", "use --ranks-per-node"},
    {"gpus-per-node", "use --gpus-per-node"},
    {"gpus", "use --gpus-per-node (one worker rank per GPU)"},
    {"gpus-per-task", "use --gpus-per-node (one worker rank per GPU)"},
    {"gres", "use --gres"},
    {"cpus-per-task", "use --cpus-per-task"},
    {"time", "use --time"},
    {"partition", "use --partition"},
    {"account", "use --account"},
    {"qos", "use --qos"},
    {"mem", "use --mem"},
    {"constraint", "use --constraint"},
};

// The arguments sbatch reads from "#SBATCH <text>" (Slurm's _get_argument): split at
// whitespace outside quotes, ' and " quote, a backslash escapes the next character, and an
// unquoted '#' ends the line. Unbalanced quotes and a trailing backslash are refused.
std::vector<std::string> sbatch_words(const std::string& text) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false, escaped = false;
  char quote = 0;
  for (const char c : text) {
    if (escaped) {
      word += c;
      escaped = false;
    } else if (c == '\\') {
      escaped = in_word = true;
    } else if (quote) {
      if (c == quote)
        quote = 0;
      else
        word += c;
    } else if (c == '"' || c == '\'') {
      quote = c;
      in_word = true;
    } else if (c == ' ' || c == '\t') {
      if (in_word) words.push_back(std::move(word));
      word.clear();
      in_word = false;
    } else if (c == '#') {
      break;
    } else {
      word += c;
      in_word = true;
    }
  }
  if (quote || escaped)
    fail("--sbatch", shown(text) +
                         " has an unclosed quote or a trailing backslash; sbatch would read "
                         "the rest of the line differently");
  if (in_word) words.push_back(std::move(word));
  return words;
}

// Throws when `word` (one argument sbatch reads) sets an option locsweep submit controls:
// by its name, or by an abbreviation, which sbatch accepts when unambiguous.
void check_not_reserved(const std::string& line, const std::string& word) {
  if (word.size() < 3 || word.compare(0, 2, "--") != 0) return;
  const std::string name = word.substr(2, word.find('=') - 2);
  if (name.empty()) return;
  const auto refuse = [&](std::string_view reserved, std::string_view why) {
    fail("--sbatch", shown(line) + " sets --" + std::string(reserved) +
                         ", which `locsweep submit` controls: " + std::string(why));
  };
  for (const auto& [reserved, why] : kReserved)
    if (reserved == name) refuse(reserved, why);
  for (const auto& [reserved, why] : kReserved)
    if (reserved.starts_with(name)) refuse(reserved, why);
}

// One --sbatch value becomes one "#SBATCH <value>" line, of which sbatch reads every
// argument: so every argument is checked, and the value must be exactly one option.
void check_extra_line(const std::string& line) {
  if (!all_chars(line, [](char c) { return !is_control(c); }))
    fail("--sbatch", shown(line) +
                         " contains a newline or another control character; give one "
                         "option per --sbatch, on one line");
  const std::vector<std::string> words = sbatch_words(line);
  for (const auto& word : words) check_not_reserved(line, word);
  if (words.size() != 1 || words[0].size() < 3 || words[0].compare(0, 2, "--") != 0 ||
      !is_name_char(words[0][2]) || words[0][2] == '-')
    fail("--sbatch", shown(line) +
                         " is not one long sbatch option: give one option per --sbatch, "
                         "starting with '--', its value joined by '=' (e.g. "
                         "--sbatch=--mail-type=END; quote a value with spaces: "
                         "--sbatch='--comment=\"two words\"')");
  if (line.find('#') != std::string::npos && words[0].find('#') == std::string::npos)
    fail("--sbatch", shown(line) + " has an unquoted '#', which sbatch reads as a comment");
}

// With GPUs: exactly gpus_per_node workers on every node (rank 0, the coordinator, comes on top
// on the first), so that no two workers share a GPU and none is left idle.
void check_layout(const SubmitOptions& o) {
  check_at_least("--nodes", o.nodes, 1);
  check_at_least("--gpus-per-node", o.gpus_per_node, 0);
  const int r = o.ranks_per_node, g = o.gpus_per_node;
  if (r != 0)  // 0: derived
    check_at_least("--ranks-per-node", r, 2,
                   " (rank 0, the coordinator, runs beside the workers on the first node, and "
                   "every node needs at least one worker)");
  if (g == 0 || r == 0 || r == g + 1) return;
  fail("--ranks-per-node",
       std::to_string(r) + " does not fit --gpus-per-node " + std::to_string(g) +
           ": with GPUs every node runs exactly one worker rank per GPU, and the first node also "
           "rank 0, the coordinator, which uses no GPU: " +
           std::to_string(g + 1) + " ranks on the first node, " + std::to_string(g) +
           " on each other one. " + std::to_string(r) +
           (r > g + 1 ? " would put two workers on one GPU" : " would leave GPUs idle") +
           ". Omit --ranks-per-node (it follows from --gpus-per-node), or ask for "
           "--gpus-per-node " +
           std::to_string(r - 1) + " to run " + std::to_string(r - 1) + " workers per node");
}

void check_cpus_per_task(int cpus) {
  if (cpus < 0 || cpus > 1024)
    fail("--cpus-per-task",
         "must be between 1 and 1024 (the threads of each rank's trials; "
         "omit it for Slurm's default of 1); got " +
             std::to_string(cpus));
}

// srun's PMI plugins through which Open MPI's ranks find each other. `none` is refused: every
// rank would start as a one-process run of its own, on the same DB.
void check_mpi(const std::string& mpi) {
  const bool pmix_version = mpi.size() > 6 && mpi.starts_with("pmix_v") &&
                            all_chars(std::string_view(mpi).substr(6), is_digit);
  if (mpi == "pmix" || mpi == "pmi2" || pmix_version) return;
  if (mpi == "none")
    fail("--mpi",
         "'none' gives the ranks no PMI to find each other through: each would start as "
         "a one-process `locsweep run` of its own on the same DB (all but one refused by "
         "the run lease). Give pmix (the default) or pmi2");
  fail("--mpi", shown(mpi) +
                    " is not an MPI plugin of srun that locsweep can use: give pmix (the default; "
                    "or a version such as pmix_v4) or pmi2 (`srun --mpi=list` shows what your "
                    "cluster has)");
}

// The pieces of `text` between separators (one empty piece for empty text).
std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> pieces;
  for (size_t start = 0;;) {
    const size_t end = std::min(text.find(separator, start), text.size());
    pieces.push_back(text.substr(start, end - start));
    if (end == text.size()) return pieces;
    start = end + 1;
  }
}

// --gres: comma-separated name[:type][:count]. A gpu entry's count must be --gpus-per-node,
// from which the ranks are laid out.
void check_gres(const SubmitOptions& o) {
  if (o.gres.empty()) return;
  const std::string how =
      " is not a Slurm GRES list: name[:type][:count], comma-separated (e.g. gpu:a100:4 or "
      "gpu:4,nvme:1)";
  for (const std::string& entry : split(o.gres, ',')) {
    const std::vector<std::string> fields = split(entry, ':');
    const bool fields_ok = std::all_of(fields.begin(), fields.end(), [](const std::string& f) {
      return !f.empty() && all_chars(f, is_name_char);
    });
    if (!fields_ok || fields.size() > 3 ||
        (fields.size() == 3 && !all_chars(fields.back(), is_digit)))
      fail("--gres", shown(o.gres) + how);
  }
  const int gpus = gres_gpus(o.gres);
  if (gpus > 0 && gpus != o.gpus_per_node)
    fail("--gres", shown(o.gres) + " asks for " + std::to_string(gpus) +
                       " GPU(s) per node, but --gpus-per-node is " +
                       std::to_string(o.gpus_per_node) + ": give --gpus-per-node " +
                       std::to_string(gpus) +
                       " too (the ranks are laid out one worker per GPU from it; the --gres "
                       "line then requests the GPUs, with their type)");
}

// One --setup line (or a line of --setup-file, `where` then names it): any shell text, on one
// line.
void check_setup_line(const std::string& line, const std::string& where = "") {
  const std::string flag = where.empty() ? "--setup" : "--setup-file";
  const std::string what = where + shown(line);
  if (!all_chars(line, [](char c) { return c == '\t' || !is_control(c); }))
    fail(flag, what +
                   " contains a newline, a carriage return or another control character: "
                   "give one line per --setup (or put the lines in a --setup-file, with "
                   "Unix line ends)");
  const size_t text = line.find_first_not_of(" \t");
  if (text != std::string::npos && line.compare(text, 7, "#SBATCH") == 0)
    fail(flag, what +
                   " is an #SBATCH line, which sbatch ignores after the script's first "
                   "command: give the option with --sbatch=OPTION");
}

void check_path(std::string_view flag, const fs::path& path, bool required) {
  if (path.empty()) {
    if (required) fail(flag, "is required");
    return;
  }
  if (!path.is_absolute()) fail(flag, shown(path.string()) + " must be an absolute path");
  if (path.string().find('\0') != std::string::npos) fail(flag, "the path contains a NUL byte");
}

// Checks a value written into an "#SBATCH --output=..." line, where it is double-quoted.
void check_sbatch_path(std::string_view flag, const std::string& value) {
  if (!all_chars(value, [](char c) { return !is_control(c) && c != '\\'; }))
    fail(flag, shown(value) +
                   " cannot be written into an #SBATCH line (it contains a newline, "
                   "a control character or a backslash); choose another path" +
                   std::string(flag == "--db" ? " or pass --output" : ""));
}

}  // namespace

std::int64_t parse_slurm_time(std::string_view text) {
  const auto bad = [&](const std::string& why) -> std::int64_t {
    fail("--time", shown(text) + " is not a Slurm time limit" + why +
                       "; use MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS (e.g. 90, "
                       "2:00:00, 1-12)");
  };
  // Split "[D-]A[:B[:C]]" into fields of 1-9 digits.
  std::int64_t days = -1;
  std::string_view rest = text;
  if (const size_t dash = text.find('-'); dash != std::string_view::npos) {
    const std::string_view d = text.substr(0, dash);
    if (d.empty() || d.size() > 9 || !all_chars(d, is_digit)) return bad("");
    days = std::stoll(std::string(d));
    rest = text.substr(dash + 1);
  }
  std::vector<std::int64_t> fields;
  while (true) {
    const size_t colon = rest.find(':');
    const std::string_view f = rest.substr(0, colon);
    if (f.empty() || f.size() > 9 || !all_chars(f, is_digit)) return bad("");
    fields.push_back(std::stoll(std::string(f)));
    if (colon == std::string_view::npos) break;
    rest = rest.substr(colon + 1);
  }
  if (fields.size() > 3) return bad("");
  for (size_t i = 1; i < fields.size(); ++i)
    if (fields[i] >= 60) return bad(" (minutes and seconds must be below 60)");
  std::int64_t seconds = 0;
  if (days >= 0) {  // D-HH, D-HH:MM, D-HH:MM:SS
    if (fields[0] >= 24) return bad(" (hours after 'D-' must be below 24)");
    seconds = days * 86400 + fields[0] * 3600;
    if (fields.size() > 1) seconds += fields[1] * 60;
    if (fields.size() > 2) seconds += fields[2];
  } else if (fields.size() == 1) {  // MM
    seconds = fields[0] * 60;
  } else if (fields.size() == 2) {  // MM:SS
    seconds = fields[0] * 60 + fields[1];
  } else {  // HH:MM:SS
    seconds = fields[0] * 3600 + fields[1] * 60 + fields[2];
  }
  if (seconds == 0) return bad(" (0 would mean no limit at all)");
  return seconds;
}

std::string job_name_for(std::string_view sweep_name) {
  std::string name(sweep_name);
  for (char& c : name)
    if (!is_name_char(c)) c = '_';
  return name.empty() ? "locsweep" : name;
}

fs::path job_folder(const SubmitOptions& options) {
  return fs::path(options.db.string() + ".slurm");
}

std::string default_output_pattern(const SubmitOptions& options, std::string_view sweep_name) {
  std::string folder;
  for (char c : job_folder(options).string())
    folder += c == '%' ? std::string("%%") : std::string(1, c);
  return folder + "/" + job_name_for(sweep_name) + "-%j.out";
}

void validate(const SubmitOptions& o) {
  check_layout(o);
  check_cpus_per_task(o.cpus_per_task);
  check_mpi(o.mpi);
  check_gres(o);
  for (const auto& line : o.setup_lines) check_setup_line(line);
  const std::int64_t limit = parse_slurm_time(o.time);
  if (o.signal_warn_s < 1 || o.signal_warn_s > 65535)
    fail("--signal-warn", "must be between 1 and 65535 seconds (Slurm's limit); got " +
                              std::to_string(o.signal_warn_s));
  if (o.signal_warn_s >= limit)
    fail("--signal-warn", std::to_string(o.signal_warn_s) +
                              " s must be shorter than the time "
                              "limit --time " +
                              o.time + " (" + std::to_string(limit) + " s)");
  check_at_least("--max-requeues", o.max_requeues, 0);
  check_name("--partition", o.partition, true);
  check_name("--account", o.account, false);
  check_name("--qos", o.qos, false);
  check_mem(o.mem);
  check_constraint(o.constraint);
  for (const auto& line : o.extra_sbatch) check_extra_line(line);
  check_path("--db", o.db, true);
  check_path("SWEEP", o.sweep_path, true);
  check_path("--locsweep-binary", o.locsweep_binary, true);
  check_path("--artifacts", o.artifacts, false);
  check_path("--output", o.output, false);
  if (o.output.empty())
    check_sbatch_path("--db", o.db.string());
  else
    check_sbatch_path("--output", o.output.string());
}

int gres_gpus(const std::string& gres) {
  if (gres.empty()) return 0;
  for (const std::string& entry : split(gres, ',')) {
    const std::vector<std::string> fields = split(entry, ':');
    if (fields[0] != "gpu") continue;
    const std::string& count = fields.back();
    const bool counted =
        fields.size() > 1 && !count.empty() && count.size() < 6 && all_chars(count, is_digit);
    return counted ? std::stoi(count) : 1;
  }
  return 0;
}

RankLayout rank_layout(const SubmitOptions& o) {
  RankLayout layout;
  if (o.gpus_per_node > 0) {
    layout.first_node = o.gpus_per_node + 1;
    layout.other_nodes = o.gpus_per_node;
  } else {
    layout.first_node = layout.other_nodes = o.ranks_per_node > 0 ? o.ranks_per_node : 2;
  }
  layout.total = layout.first_node + (o.nodes - 1) * layout.other_nodes;
  return layout;
}

std::vector<std::string> read_setup_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in || fs::is_directory(file))
    fail("--setup-file", shown(file.string()) +
                             " cannot be read: give a readable file of shell "
                             "lines");
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    check_setup_line(line,
                     shown(file.string()) + " line " + std::to_string(lines.size() + 1) + ": ");
    lines.push_back(line);
  }
  if (in.bad()) fail("--setup-file", "reading " + shown(file.string()) + " failed");
  return lines;
}

nlohmann::json to_json(const SubmitOptions& o) {
  const RankLayout layout = rank_layout(o);
  return {{"nodes", o.nodes},
          {"gpus_per_node", o.gpus_per_node},
          {"ranks_per_node", layout.first_node},
          {"ranks", layout.total},
          {"cpus_per_task", o.cpus_per_task},
          {"mpi", o.mpi},
          {"gres", o.gres},
          {"setup_lines", o.setup_lines},
          {"time", o.time},
          {"partition", o.partition},
          {"account", o.account},
          {"qos", o.qos},
          {"mem", o.mem},
          {"constraint", o.constraint},
          {"extra_sbatch", o.extra_sbatch},
          {"signal_warn_s", o.signal_warn_s},
          {"max_requeues", o.max_requeues},
          {"db", o.db.string()},
          {"artifacts", o.artifacts.string()},
          {"sweep_path", o.sweep_path.string()},
          {"overrides", o.overrides},
          {"locsweep_binary", o.locsweep_binary.string()},
          {"output", o.output.string()}};
}

}  // namespace locsweep
