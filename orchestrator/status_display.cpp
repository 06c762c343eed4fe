#include "orchestrator/status_display.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>

#include "results/sqlite.hpp"

namespace locsweep {
using Clock = std::chrono::steady_clock;

StatusDisplay::StatusDisplay(std::string sweep, bool json_log)
    : sweep_(std::move(sweep)),
      json_(json_log),
      tty_(!json_log && isatty(STDERR_FILENO)),
      start_(Clock::now()) {}

StatusDisplay::~StatusDisplay() {
  clear_live();
}

void StatusDisplay::clear_live() {
  if (live_) {
    fmt::print(stderr, "\n");
    live_ = false;
  }
}

void StatusDisplay::note(const std::string& kind, const nlohmann::json& fields,
                         const std::string& text) {
  if (json_) {
    nlohmann::json line = fields;
    line["event"] = kind;
    line["sweep"] = sweep_;
    line["time"] = utc_now();
    fmt::print(stderr, "{}\n", line.dump());
    return;
  }
  if (kind.rfind("trial_", 0) == 0) {
    const auto now = Clock::now();
    if (now - window_start_ >= std::chrono::seconds(1)) {
      window_start_ = now;
      window_lines_ = 0;
    }
    if (++window_lines_ > kTrialLinesPerSecond) {
      ++left_out_;
      return;
    }
  }
  clear_live();
  fmt::print(stderr, "[{}] {}\n", utc_now().substr(11, 8), text);
}

void StatusDisplay::update(const SweepCounts& c, bool force) {
  const auto now = Clock::now();
  if (done_at_start_ < 0) done_at_start_ = c.done + c.failed + c.stopped;
  const double interval = tty_ ? 1.0 : 15.0;
  if (!force && std::chrono::duration<double>(now - last_print_).count() < interval) return;
  last_print_ = now;
  const double hours = std::chrono::duration<double>(now - start_).count() / 3600.0;
  const int finished_here = c.done + c.failed + c.stopped - done_at_start_;
  const double per_hour = hours > 0 ? finished_here / hours : 0.0;
  const int left = c.pending + c.running;
  std::string eta = "?";
  if (per_hour > 0) {
    const double minutes = left / per_hour * 60.0;
    eta = minutes < 1     ? fmt::format("{:.0f}s", minutes * 60)
          : minutes < 120 ? fmt::format("{:.0f}m", minutes)
                          : fmt::format("{:.1f}h", minutes / 60);
  }
  if (json_) {
    fmt::print(stderr, "{}\n",
               nlohmann::json{{"event", "status"},
                              {"sweep", sweep_},
                              {"time", utc_now()},
                              {"done", c.done},
                              {"running", c.running},
                              {"failed", c.failed},
                              {"pending", c.pending},
                              {"stopped", c.stopped},
                              {"trials_per_hour", per_hour}}
                   .dump());
    return;
  }
  std::string line = fmt::format(
      "{}: done {}/{} · running {} · failed {} · pending {}{} · {:.0f} trials/h · ETA {}", sweep_,
      c.done, c.total(), c.running, c.failed, c.pending,
      c.stopped > 0 ? fmt::format(" · stopped {}", c.stopped) : "", per_hour, eta);
  if (left_out_ > 0) {
    line += fmt::format(" · {} trial lines not shown (over {}/s)", left_out_, kTrialLinesPerSecond);
    left_out_ = 0;
  }
  if (tty_) {
    fmt::print(stderr, "\r\033[K{}", line);
    std::fflush(stderr);
    live_ = true;
  } else {
    fmt::print(stderr, "[{}] {}\n", utc_now().substr(11, 8), line);
  }
}

}  // namespace locsweep
