// Turning SIGTERM / SIGUSR1 / SIGINT into a flag that long-running loops poll, so that a
// trial can checkpoint and a coordinator can commit before exiting (Slurm preemption,
// time-limit warnings, Ctrl-C). The flag is the one piece of process-wide state a signal
// handler needs; it lives here, behind two functions.
#pragma once

#include <atomic>
#include <initializer_list>

namespace locsweep {

// Installs the handler for `signals` (SA_RESTART) and returns the flag it sets. Idempotent.
const std::atomic<bool>& install_stop_signals(std::initializer_list<int> signals);
// The number of the last signal that set the flag (0 if none).
int last_stop_signal();

}  // namespace locsweep
