#include "slurm/options.hpp"

#include <algorithm>
#include <array>

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
constexpr std::array<std::pair<std::string_view, std::string_view>, 14> kReserved{{
    {"requeue", "the script always requeues"},
    {"no-requeue", "the script relies on requeueing; use --max-requeues 0 instead"},
    {"signal", "use --signal-warn"},
    {"open-mode", "the output is opened in append mode so requeued runs keep earlier output"},
    {"output", "use --output"},
    {"nodes", "use --nodes"},
    {"ntasks-per-node", "use --ranks-per-node"},
    {"gpus-per-node", "use --gpus-per-node"},
    {"time", "use --time"},
    {"partition", "use --partition"},
    {"account", "use --account"},
    {"qos", "use --qos"},
    {"mem", "use --mem"},
    {"constraint", "use --constraint"},
}};

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

// Throws when `word` (one argument sbatch reads) sets an option locsweep submit controls.
void check_not_reserved(const std::string& line, const std::string& word) {
  if (word.size() < 3 || word.compare(0, 2, "--") != 0) return;
  const std::string name = word.substr(2, word.find('=') - 2);
  for (const auto& [reserved, why] : kReserved)
    if (!name.empty() && reserved.starts_with(name))  // sbatch accepts unambiguous abbreviations
      fail("--sbatch", shown(line) + " sets --" + std::string(reserved) +
                           ", which `locsweep submit` controls: " + std::string(why));
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
  check_at_least("--nodes", o.nodes, 1);
  check_at_least("--ranks-per-node", o.ranks_per_node, 2,
                 " (rank 0, the coordinator, runs beside the workers on the first node, and every "
                 "node needs at least one worker)");
  check_at_least("--gpus-per-node", o.gpus_per_node, 0);
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

nlohmann::json to_json(const SubmitOptions& o) {
  return {{"nodes", o.nodes},
          {"gpus_per_node", o.gpus_per_node},
          {"ranks_per_node", o.ranks_per_node},
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
