#include "trial/outcome.hpp"

#include <string>

#include "common/error.hpp"

namespace locsweep {

namespace {

struct OutcomeRow {
  Outcome outcome;
  std::string_view name;
  CoordinatorAction action;
};

// Outcome -> what the coordinator does. The only place that knows it.
constexpr OutcomeRow kOutcomeTable[] = {
    {Outcome::done, "done", CoordinatorAction::record_done},
    {Outcome::crash, "crash", CoordinatorAction::retry},
    {Outcome::timeout, "timeout", CoordinatorAction::retry},
    {Outcome::oom, "oom", CoordinatorAction::retry},
    {Outcome::nan, "nan", CoordinatorAction::fail},
    {Outcome::error, "error", CoordinatorAction::fail},
    {Outcome::preempted, "preempted", CoordinatorAction::resume},
    {Outcome::lost, "lost", CoordinatorAction::run_elsewhere},
    {Outcome::disk_full, "disk_full", CoordinatorAction::pause_sweep},
    {Outcome::rung, "rung", CoordinatorAction::park},
};

const OutcomeRow& row_of(Outcome outcome) {
  for (const auto& row : kOutcomeTable)
    if (row.outcome == outcome) return row;
  throw Error("outcome " + std::to_string(static_cast<int>(outcome)) + " has no table row");
}

}  // namespace

std::string_view to_string(Outcome outcome) {
  return row_of(outcome).name;
}

Outcome outcome_from_string(std::string_view text) {
  for (const auto& row : kOutcomeTable)
    if (row.name == text) return row.outcome;
  throw InputError("unknown trial outcome '" + std::string(text) + "'");
}

std::string_view to_string(CoordinatorAction action) {
  switch (action) {
    case CoordinatorAction::record_done:
      return "record_done";
    case CoordinatorAction::retry:
      return "retry";
    case CoordinatorAction::fail:
      return "fail";
    case CoordinatorAction::resume:
      return "resume";
    case CoordinatorAction::run_elsewhere:
      return "run_elsewhere";
    case CoordinatorAction::pause_sweep:
      return "pause_sweep";
    case CoordinatorAction::park:
      return "park";
  }
  return "?";
}

CoordinatorAction action_for(Outcome outcome) {
  return row_of(outcome).action;
}

bool is_retryable(Outcome outcome) {
  return action_for(outcome) == CoordinatorAction::retry;
}

}  // namespace locsweep
