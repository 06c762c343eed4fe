// Fuzz target: sweep spec YAML text through parse_sweep and plan_sweep (grids, seeds, the
// schedules inside), as `locsweep plan` does.
#include <string>

#include "common/error.hpp"
#include "schedules/schedule.hpp"
#include "sweeps/plan.hpp"
#include "sweeps/sweep_spec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace locsweep;
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const SweepSpec spec = parse_sweep(text, "fuzz.yaml", "/nonexistent-fuzz-dir");
    (void)plan_sweep(spec, InputIdentity::as_written);  // reads no files
  } catch (const InputError&) {
  } catch (const ScheduleError&) {
  }
  return 0;
}
