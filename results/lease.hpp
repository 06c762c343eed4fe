// Who is alive, for the run lease (docs/results-schema.md, "The run lease"). A run records its
// host, pid and process identity; a later run on the same machine asks the kernel whether
// that very process still exists and whether it is running or stopped. Everything else (a
// run on another machine, a stopped process) is decided by watching its heartbeat counter
// advance, or not, for the holder's own lease: no wall clocks of two hosts are compared.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace locsweep {

// The identity of process `pid` of this machine: "<boot id>/<pid namespace>/<start time in
// clock ticks since boot>" (/proc/sys/kernel/random/boot_id, /proc/PID/ns/pid, field 22 of
// /proc/PID/stat). A recycled pid, another boot or another container gives another identity.
// Empty when /proc cannot tell.
std::string process_identity(int64_t pid);

enum class Liveness {
  gone,     // no such process (or its pid now belongs to another): it will never write again
  running,  // the recorded process exists and is not stopped: alive, never displaced
  stopped,  // it exists but is stopped (SIGSTOP, a suspended job) or traced
  unknown,  // this machine cannot tell (another host, boot or pid namespace; /proc hidden)
};
std::string_view to_string(Liveness liveness);

// What this machine can tell about the run recorded with `host`, `pid` and `identity` (empty:
// recorded before identities existed; then a live process whose command line names locsweep
// counts as the run). kill(pid, 0) failing with EPERM means the process exists.
Liveness recorded_process_liveness(const std::string& host, int64_t pid,
                                   const std::string& identity);

// This machine's host name.
std::string host_name();

}  // namespace locsweep
