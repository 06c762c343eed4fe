// What the HTML report (results/report.hpp) reads from the results database, and nothing
// else: the sweep's record, the done trials of each table row, mean loss curves, the recorded
// attention file of a trial, and the runs. Plain data out; the report's other parts (the
// attention file, the plots, the HTML) never see SQL.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "results/sqlite.hpp"
#include "results/table.hpp"

namespace locsweep::report {

struct SweepInfo {
  std::string name, spec_yaml, spec_file, created_at, updated_at, description;
};

// A done trial of a configuration row.
struct TrialRef {
  std::string hash;
  int seed = 0;
};

// The sweep's record; its description from the spec (empty when the spec no longer parses).
// InputError for an unknown sweep.
SweepInfo read_sweep_info(Database& db, const std::string& name);

// The done trials of each table row (the same canonical configuration without its seed),
// lowest seed first.
std::vector<std::vector<TrialRef>> trials_of_rows(Database& db, const ResultsTable& table);

// Mean loss per step over `trials` for one split ("train", "val").
using LossCurve = std::map<int64_t, double>;
LossCurve mean_curve(Database& db, const std::vector<TrialRef>& trials, const std::string& split);

// A file a trial recorded in the artifacts table.
struct RecordedFile {
  std::string path, sha256;
};
std::optional<RecordedFile> attention_artifact(Database& db, const std::string& trial_hash);

// The runs of the sweep, oldest first, as text cells: id, host, ranks, Slurm job, started,
// ended, status.
std::vector<std::vector<std::string>> read_runs(Database& db, const std::string& sweep);

}  // namespace locsweep::report
