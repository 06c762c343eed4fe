// The status snapshot: a small JSON file the coordinator keeps beside the results database
// (`<db>.status.json`), replaced atomically every few seconds and once more when the run
// ends: the sweep, its counts by state, the running trials (rank, host, attempt, step), the
// time of the update, the coordinator's host and pid, its Slurm job. SQLite's WAL can only be
// read on the host that writes it, so `locsweep status` and `cancel` on a login node read this
// file instead while the run lives elsewhere (choose_progress_source); an old one is labelled
// stale. Format: docs/results-schema.md, "The status snapshot".
#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "orchestrator/status_display.hpp"
#include "results/queries.hpp"
#include "results/store.hpp"

namespace locsweep {

// "<db>.status.json": where the snapshot of database `db_path` lives.
std::string status_snapshot_path(const std::string& db_path);

struct StatusSnapshot {
  static constexpr int kFormatVersion = 1;
  std::string sweep, db;  // db: the database's absolute path
  int64_t run_id = 0;
  std::string run_status;  // the runs row's: running, then complete / interrupted / failed
  std::string host;        // the coordinator's
  int64_t pid = 0;
  std::string slurm_job_id;             // the run's own job (empty outside Slurm)
  std::vector<std::string> slurm_jobs;  // every job `submit` recorded for the sweep
  std::string updated_at;               // UTC text, as in the database
  double updated_unix = 0;              // the same, seconds since the epoch (the writer's clock)
  double interval_s = 0;                // how often it is rewritten while the run lives
  double stale_after_s = 0;             // older than this while running: stale
  SweepCounts counts;
  std::vector<RunningTrial> running;
};
nlohmann::json to_json(const StatusSnapshot& s);
// InputError naming `where` for a document that is not a snapshot of this format.
StatusSnapshot status_snapshot_from_json(const nlohmann::json& j, const std::string& where);
// The snapshot beside database `db_path`; nullopt when there is none. InputError when it
// cannot be read or parsed.
std::optional<StatusSnapshot> read_status_snapshot(const std::string& db_path);

// Seconds since the snapshot was written, by this machine's clock (hosts of one cluster keep
// theirs in step; a negative age, a clock behind the writer's, reads as 0).
double snapshot_age_s(const StatusSnapshot& s);
// A snapshot of a live run not rewritten within stale_after_s: its coordinator stopped
// updating it (killed, stopped, or stuck) and its counts are as of then.
bool snapshot_is_stale(const StatusSnapshot& s, double age_s);

// Where `status` and `cancel` read progress from.
enum class ProgressSource { automatic, database, snapshot };
ProgressSource progress_source_from_string(const std::string& text);  // InputError if unknown
// `automatic`: the snapshot when the database is not here, or while its run lives on another
// host (the WAL is unreadable here); the database otherwise (also when neither exists: opening
// it says so). InputError when an explicitly wanted source does not exist.
ProgressSource choose_progress_source(ProgressSource wanted, bool database_exists,
                                      const std::optional<StatusSnapshot>& snapshot,
                                      const std::string& this_host);

// The snapshot as the progress of its one sweep (InputError if `only` names another).
SweepProgress progress_from_snapshot(const StatusSnapshot& s, const std::string& only);

// What `status` and `cancel` read: the progress of the sweeps (or of `only`) from the source
// choose_progress_source picks, and the snapshot when it was that. With `automatic`, a snapshot
// that cannot be read is reported on stderr and the database is read.
struct ProgressView {
  std::vector<SweepProgress> sweeps;
  std::optional<StatusSnapshot> snapshot;  // set when the sweeps come from it
};
ProgressView read_progress(const std::string& db_path, const std::string& only,
                           ProgressSource wanted);

// The writer, owned by the run. update() is called each turn of the coordinator's loop and
// rewrites the file every interval_s; finish() writes the last one after the run row ended.
// A run that no longer holds the database's lease writes nothing (the new holder owns the
// file). A failed write is reported on stderr once and never stops the sweep.
class StatusSnapshotWriter {
 public:
  StatusSnapshotWriter(ResultsStore& store, const std::string& db_path, int64_t sweep_id,
                       std::string sweep, int64_t run_id, const RunInfo& info,
                       double interval_s = 5);
  void update(const SweepCounts& counts);
  void finish(const SweepCounts& counts);

 private:
  void write(const SweepCounts& counts);
  ResultsStore& store_;
  std::string path_;
  int64_t sweep_id_;
  StatusSnapshot snapshot_;
  std::optional<std::chrono::steady_clock::time_point> last_;
  bool warned_ = false;
};

}  // namespace locsweep
