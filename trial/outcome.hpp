// How a trial attempt ended (Outcome) and, in one table, what the coordinator does about it
// (action_for): record it done, retry it from its last checkpoint (counted against
// execution.max_retries; a final failure once they are used up), fail it for good, resume it
// without counting (a preemption: counted only against execution.max_preemptions, and only
// when it made no progress), run it again on another rank (its rank was lost), pause the
// sweep (disk full), or park it at an early-stopping rung (it trained to the step count it
// was asked to stop at: ASHA decides whether it goes on). orchestrator/coordinator.cpp has
// one branch per action, none per outcome.
#pragma once

#include <string_view>

namespace locsweep {

// rung: the attempt reached the step count it was asked to stop at
// (execution.stop_at_step), checkpointed there and stopped; its result's val_loss/val_ppl
// are the validation at that step. Not a failure, and not the trial's end.
enum class Outcome { done, crash, timeout, oom, nan, error, preempted, lost, disk_full, rung };
std::string_view to_string(Outcome outcome);
Outcome outcome_from_string(std::string_view text);  // throws InputError

enum class CoordinatorAction {
  record_done,    // done: the trial is done
  retry,          // the trial's fault, maybe transient: again from its last checkpoint, while
                  // retries_used < execution.max_retries; then failed
  fail,           // the trial's fault and deterministic: failed at once
  resume,         // interrupted (a stop, a preemption): pending again, no retry used; counts
                  // toward execution.max_preemptions when it left no newer checkpoint
  run_elsewhere,  // its rank was lost, not the trial's fault: pending again, nothing counted
  pause_sweep,    // no space for its files: pending again, nothing new starts (the run pauses)
  park,           // rung: parked at an early-stopping rung, checkpointed there; ASHA
                  // (search/asha.hpp) decides: promote it (a later attempt resumes from the
                  // rung's checkpoint, nothing retrained) or stop it early (not failed)
};
std::string_view to_string(CoordinatorAction action);

// The table (trial/outcome.cpp), one row per outcome.
CoordinatorAction action_for(Outcome outcome);
// Whether a failed attempt of this class is worth another attempt from the last checkpoint,
// counted against execution.max_retries: action_for(outcome) == CoordinatorAction::retry.
bool is_retryable(Outcome outcome);

}  // namespace locsweep
