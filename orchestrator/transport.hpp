// How the coordinator talks to its workers: over MPI (a worker per rank > 0), or, with no
// launcher, to one in-process RankAgent that still runs every trial in a child process.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>

#include "orchestrator/rank_agent.hpp"

namespace locsweep {

class Transport {
 public:
  virtual ~Transport() = default;
  virtual int worker_count() const = 0;
  // Workers are numbered 0 .. worker_count()-1 (MPI rank = worker + 1).
  virtual void send(int worker, const nlohmann::json& message) = 0;
  // The next message from any worker, waiting at most timeout_us; nullopt if none came.
  virtual std::optional<std::pair<int, nlohmann::json>> receive(int timeout_us) = 0;
  // Gives up on the job: ends every rank (used when a worker is lost and cannot finalize).
  virtual void abort_all(int code) = 0;
  // The coordinator declared `worker` lost (stopped, hung or dead): what is still queued for
  // it may stay undelivered, nothing more is sent to it after this, and the job must not wait
  // for it at its end (run_sweep aborts instead of finalizing).
  virtual void give_up_on(int worker) = 0;
  virtual int lost_workers() const = 0;
};

// The single-process mode: the coordinator drives one agent itself.
class InlineTransport : public Transport {
 public:
  explicit InlineTransport(RankSetup setup);
  int worker_count() const override { return 1; }
  void send(int worker, const nlohmann::json& message) override;
  std::optional<std::pair<int, nlohmann::json>> receive(int timeout_us) override;
  void abort_all(int) override {}
  void give_up_on(int) override {}  // the agent is this process: it cannot be lost
  int lost_workers() const override { return 0; }

 private:
  RankAgent agent_;
  std::vector<nlohmann::json> outbox_;
  bool sent_ready_ = false;
};

}  // namespace locsweep
