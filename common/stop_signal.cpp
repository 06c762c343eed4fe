#include "common/stop_signal.hpp"

#include <csignal>

namespace locsweep {
namespace {

std::atomic<bool>& flag() {
  static std::atomic<bool> stop{false};
  return stop;
}

std::atomic<int>& last() {
  static std::atomic<int> signal{0};
  return signal;
}

extern "C" void on_stop_signal(int signal) {
  last().store(signal);
  flag().store(true);
}

}  // namespace

const std::atomic<bool>& install_stop_signals(std::initializer_list<int> signals) {
  static_assert(std::atomic<bool>::is_always_lock_free, "signal handlers need a lock-free flag");
  (void)flag();  // construct before any handler can run
  (void)last();
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  for (int s : signals) sigaction(s, &action, nullptr);
  return flag();
}

int last_stop_signal() {
  return last().load();
}

}  // namespace locsweep
