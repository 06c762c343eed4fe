// MPI for locsweep, owned: MpiSession initialises and finalises MPI; MpiTransport and
// MpiWorkerLink exchange JSON messages with non-blocking sends whose buffers stay alive
// until MPI is done with them. Nothing here ever blocks inside MPI: receives are probed, so
// the loops stay responsive to signals and do not spin a core while idle.
#pragma once

#include <mpi.h>

#include <list>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>

#include "orchestrator/transport.hpp"

namespace locsweep {

// True when this process was started by mpirun/srun with MPI (an MPI launcher's environment).
bool launched_by_mpi();

class MpiSession {
 public:
  MpiSession(int* argc, char*** argv);
  MpiSession(const MpiSession&) = delete;
  ~MpiSession();  // MPI_Finalize, unless aborted
  int rank() const { return rank_; }
  int size() const { return size_; }
  int local_rank() const { return local_rank_; }        // among the ranks on this node
  int local_workers() const { return local_workers_; }  // worker ranks on this node
  int local_worker_index() const { return local_worker_index_; }
  std::string library_version() const;
  [[noreturn]] void abort(int code);

 private:
  int rank_ = 0, size_ = 1, local_rank_ = 0, local_workers_ = 0, local_worker_index_ = 0;
};

// Outgoing messages whose MPI_Isend has not completed yet.
class PendingSends {
 public:
  void send(const nlohmann::json& message, int dest);
  void progress();  // frees completed sends
  // Waits for all (before finalize) except those to the ranks in `skip`, which are
  // abandoned: a stopped rank may never take them.
  void drain(const std::set<int>& skip = {});
  ~PendingSends();

 private:
  struct Send {
    std::string bytes;
    int dest;
    MPI_Request request;
  };
  std::list<Send> sends_;
};

// A message from `source` (MPI_ANY_SOURCE for any), if one is waiting.
std::optional<std::pair<int, nlohmann::json>> try_receive(int source);

class MpiTransport : public Transport {
 public:
  explicit MpiTransport(MpiSession& session) : session_(session) {}
  int worker_count() const override { return session_.size() - 1; }
  void send(int worker, const nlohmann::json& message) override {
    if (!lost_.count(worker + 1)) sends_.send(message, worker + 1);
  }
  std::optional<std::pair<int, nlohmann::json>> receive(int timeout_us) override;
  void abort_all(int code) override { session_.abort(code); }
  void give_up_on(int worker) override { lost_.insert(worker + 1); }
  int lost_workers() const override { return static_cast<int>(lost_.size()); }
  void drain() { sends_.drain(lost_); }

 private:
  MpiSession& session_;
  PendingSends sends_;
  std::set<int> lost_;  // ranks given up on
};

}  // namespace locsweep
