#include "slurm/job_state.hpp"

#include <algorithm>
#include <array>
#include <map>

#include "common/process.hpp"

namespace locsweep {

namespace {

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    const size_t end = text.find(separator, start);
    out.push_back(text.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) return out;
    start = end + 1;
  }
}

std::vector<std::string_view> lines(std::string_view text) {
  std::vector<std::string_view> out;
  for (std::string_view line : split(text, '\n')) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

std::string first_word(std::string_view text) {
  const std::string t = trim(std::string(text));
  return t.substr(0, t.find(' '));
}

std::string first_line(const std::string& text) {
  const std::string t = trim(text);
  return t.substr(0, t.find('\n'));
}

std::optional<int> to_int(std::string_view text) {
  if (text.empty() || text.size() > 9 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  return std::stoi(std::string(text));
}

std::string join(const std::vector<std::string>& items, const char* separator) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : separator) + item;
  return out;
}

std::string seconds_text(double s) {
  return std::to_string(static_cast<int>(s + 0.5)) + " s";
}

// Fills the states still unknown from sacct (slurmdbd), else `sacct -c` (the jobcomp file).
// Returns a note when neither answered.
std::string fill_from_sacct(std::vector<SlurmJobState>& states, double timeout_s) {
  std::vector<std::string> ids;
  for (const auto& s : states)
    if (!s.known()) ids.push_back(s.job_id);
  if (ids.empty()) return "";
  const std::vector<std::string> common = {
      "-n", "-P", "-X", "-D", "-j", join(ids, ","), "-o", "JobID,State,ExitCode,Elapsed"};
  std::string note;
  for (const bool jobcomp : {false, true}) {
    std::vector<std::string> argv = {"sacct"};
    if (jobcomp) argv.push_back("-c");
    argv.insert(argv.end(), common.begin(), common.end());
    const ProgramResult sacct = run_program(argv, timeout_s);
    if (sacct.ending == ProgramResult::Ending::not_found) return "sacct not on PATH";
    if (sacct.ending == ProgramResult::Ending::timed_out) {
      note = "sacct did not answer in " + seconds_text(timeout_s);
      continue;
    }
    if (sacct.status != 0) {
      note = "sacct: " + first_line(sacct.err.empty() ? sacct.out : sacct.err);
      continue;  // e.g. "Slurm accounting storage is disabled": try the jobcomp file
    }
    for (auto& s : states)
      if (!s.known())
        if (auto found = parse_sacct(sacct.out, s.job_id)) {
          found->queue_answered = s.queue_answered;
          s = std::move(*found);
        }
    return "";
  }
  return note;
}

}  // namespace

bool is_final_job_state(std::string_view state) {
  static const std::array<std::string_view, 10> kFinal = {
      "BOOT_FAIL", "CANCELLED",     "COMPLETED", "DEADLINE", "FAILED",
      "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED", "REVOKED",  "TIMEOUT"};
  const std::string word = first_word(state);
  return std::find(kFinal.begin(), kFinal.end(), word) != kFinal.end();
}

bool SlurmJobState::active() const {
  return known() && source == "squeue" && !is_final_job_state(state);
}

std::string SlurmJobState::describe() const {
  if (!known())
    return "unknown (" + (note.empty() ? std::string("no Slurm tool knew it") : note) + ")";
  std::string out = state;
  if (source == "sacct") out += " (from accounting)";
  if (!elapsed.empty()) out += (source == "sacct" ? " after " : " ") + elapsed;
  if (!time_limit.empty() && !is_final_job_state(state)) out += " of " + time_limit;
  if (!reason.empty() && reason != "(None)") {
    if (reason.front() == '(')
      out += " " + reason;
    else if (state == "RUNNING" || state == "COMPLETING")
      out += " on " + reason;
  }
  if (is_final_job_state(state) && !exit_code.empty()) out += ", exit " + exit_code;
  if (restarts)
    out += ", " + std::to_string(*restarts) + (*restarts == 1 ? " restart" : " restarts");
  return out;
}

std::vector<SlurmJobState> parse_squeue(std::string_view out) {
  std::vector<SlurmJobState> states;
  for (std::string_view line : lines(out)) {
    const auto fields = split(line, '|');
    if (fields.size() != 5) continue;
    SlurmJobState s;
    s.job_id = trim(std::string(fields[0]));
    s.state = trim(std::string(fields[1]));
    if (s.job_id.empty() || s.state.empty()) continue;
    s.source = "squeue";
    s.elapsed = trim(std::string(fields[2]));
    s.time_limit = trim(std::string(fields[3]));
    s.reason = trim(std::string(fields[4]));
    states.push_back(std::move(s));
  }
  return states;
}

std::optional<std::string> scontrol_job_field(std::string_view out, std::string_view job_id,
                                              std::string_view key) {
  const std::string id_field = "JobId=" + std::string(job_id);
  const std::string wanted = std::string(key) + "=";
  for (std::string_view line : lines(out)) {
    const auto words = split(line, ' ');
    if (std::find(words.begin(), words.end(), id_field) == words.end()) continue;
    for (std::string_view word : words)
      if (word.starts_with(wanted)) return std::string(word.substr(wanted.size()));
    return std::nullopt;
  }
  return std::nullopt;
}

std::optional<SlurmJobState> parse_sacct(std::string_view out, std::string_view job_id) {
  std::optional<SlurmJobState> last;
  int records = 0;
  for (std::string_view line : lines(out)) {
    const auto fields = split(line, '|');
    if (fields.size() < 4 || trim(std::string(fields[0])) != job_id) continue;
    SlurmJobState s;
    s.job_id = std::string(job_id);
    s.state = first_word(fields[1]);  // "CANCELLED by 0" -> CANCELLED
    if (s.state.empty()) continue;
    s.source = "sacct";
    s.exit_code = trim(std::string(fields[2]));
    s.elapsed = trim(std::string(fields[3]));
    last = std::move(s);
    ++records;
  }
  if (last) last->restarts = records - 1;  // one record per incarnation (-D keeps requeued ones)
  return last;
}

std::vector<SlurmJobState> query_job_states(const std::vector<std::string>& job_ids,
                                            double timeout_s) {
  std::vector<SlurmJobState> states(job_ids.size());
  for (size_t i = 0; i < job_ids.size(); ++i) states[i].job_id = job_ids[i];
  if (job_ids.empty()) return states;
  const auto note_all = [&](const std::string& note) {
    for (auto& s : states) s.note = note;
    return states;
  };

  const ProgramResult squeue = run_program(
      {"squeue", "-h", "-t", "all", "-j", join(job_ids, ","), "-o", "%i|%T|%M|%l|%R"}, timeout_s);
  if (squeue.ending == ProgramResult::Ending::not_found)
    return note_all("squeue not on PATH: no Slurm client tools here");
  if (squeue.ending == ProgramResult::Ending::timed_out)
    return note_all("squeue did not answer in " + seconds_text(timeout_s));
  // With only unknown ids, squeue fails with "Invalid job id specified": all left the queue.
  if (squeue.status != 0 && squeue.err.find("Invalid job id") == std::string::npos)
    return note_all("squeue failed: " + first_line(squeue.err.empty() ? squeue.out : squeue.err));
  std::map<std::string, SlurmJobState> queued;
  if (squeue.status == 0)
    for (auto& s : parse_squeue(squeue.out)) queued[s.job_id] = std::move(s);

  for (auto& s : states) {
    s.queue_answered = true;
    auto it = queued.find(s.job_id);
    if (it == queued.end()) continue;
    s = it->second;
    s.queue_answered = true;
    // The restart count (and the exit code of a finished job) from the controller.
    const ProgramResult scontrol =
        run_program({"scontrol", "show", "job", "-o", s.job_id}, timeout_s);
    if (!scontrol.ok()) continue;
    if (auto r = scontrol_job_field(scontrol.out, s.job_id, "Restarts")) s.restarts = to_int(*r);
    if (is_final_job_state(s.state))
      if (auto e = scontrol_job_field(scontrol.out, s.job_id, "ExitCode")) s.exit_code = *e;
  }

  const std::string sacct_note = fill_from_sacct(states, timeout_s);
  for (auto& s : states)
    if (!s.known())
      s.note = "not in squeue" + (sacct_note.empty() ? std::string() : "; " + sacct_note);
  return states;
}

}  // namespace locsweep
