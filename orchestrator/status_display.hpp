// What the coordinator tells people while a sweep runs: a live status line on a terminal
// ("done 12/40 · running 3 · failed 1 · pending 24 · 95 trials/h · ETA 17m"), plain log
// lines otherwise, or JSON lines (--json-log) for machines. Output goes to stderr. Lines about
// single trials are limited to kTrialLinesPerSecond (a sweep of short trials finishes
// thousands a second; nobody reads those lines, and writing them costs the coordinator); the
// next status line says how many were left out. JSON lines are never left out.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

namespace locsweep {

struct SweepCounts {
  int done = 0, running = 0, failed = 0, pending = 0;
  int stopped = 0;  // stopped early by ASHA (early_stopping:): settled, not failed
  int total() const { return done + running + failed + pending + stopped; }
};

class StatusDisplay {
 public:
  static constexpr int kTrialLinesPerSecond = 10;
  StatusDisplay(std::string sweep, bool json_log);
  ~StatusDisplay();
  // A notable event (trial finished/failed/retried, run start/end) as one line; kinds
  // starting with "trial_" are rate-limited in text mode.
  void note(const std::string& kind, const nlohmann::json& fields, const std::string& text);
  // The periodic status; printed at most every second on a terminal, 15 s otherwise.
  void update(const SweepCounts& counts, bool force = false);

 private:
  void clear_live();
  std::string sweep_;
  bool json_, tty_;
  bool live_ = false;
  std::chrono::steady_clock::time_point start_, last_print_{};
  int done_at_start_ = -1;
  std::chrono::steady_clock::time_point window_start_{};  // of the current second of trial lines
  int window_lines_ = 0;
  int left_out_ = 0;  // trial lines not shown since the last status line
};

}  // namespace locsweep
