// Fuzz target: schedule strings (schedules/schedule.hpp): parse, lambdas for a few depths,
// and the canonical string, which must parse back to an equal schedule.
#include <cmath>
#include <string>

#include "schedules/schedule.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace locsweep;
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const Schedule s = Schedule::parse(text);
    const std::string canonical = s.canonical();
    if (!(Schedule::parse(canonical) == s)) __builtin_trap();
    for (int layers : {1, 2, 12}) {
      try {
        for (double v : s.lambdas(layers))
          if (!(v >= 0.0 && v <= 1.0)) __builtin_trap();
      } catch (const ScheduleError&) {  // an explicit list of another length
      }
    }
  } catch (const ScheduleError&) {
  }
  return 0;
}
