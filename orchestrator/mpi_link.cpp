#include "orchestrator/mpi_link.hpp"

#include <chrono>
#include <cstdlib>
#include <thread>

#include "common/error.hpp"
#include "orchestrator/protocol.hpp"

namespace locsweep {

bool launched_by_mpi() {
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"})
    if (std::getenv(var)) return true;
  return false;
}

MpiSession::MpiSession(int* argc, char*** argv) {
  int provided = 0;
  if (MPI_Init_thread(argc, argv, MPI_THREAD_SINGLE, &provided) != MPI_SUCCESS)
    throw Error("MPI_Init failed");
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
  // Ranks sharing this node, and among them the workers (rank 0 coordinates).
  MPI_Comm node;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node);
  MPI_Comm_rank(node, &local_rank_);
  MPI_Comm workers;
  MPI_Comm_split(node, rank_ == 0 ? MPI_UNDEFINED : 0, rank_, &workers);
  if (workers != MPI_COMM_NULL) {
    MPI_Comm_rank(workers, &local_worker_index_);
    MPI_Comm_size(workers, &local_workers_);
    MPI_Comm_free(&workers);
  }
  int has_worker = rank_ == 0 ? 0 : 1;
  MPI_Allreduce(MPI_IN_PLACE, &has_worker, 1, MPI_INT, MPI_SUM, node);
  local_workers_ = has_worker;
  MPI_Comm_free(&node);
}

MpiSession::~MpiSession() {
  MPI_Finalize();
}

std::string MpiSession::library_version() const {
  char text[MPI_MAX_LIBRARY_VERSION_STRING];
  int length = 0;
  MPI_Get_library_version(text, &length);
  std::string version(text, static_cast<size_t>(length));
  return version.substr(0, version.find(','));
}

void MpiSession::abort(int code) {
  MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);
}

void PendingSends::send(const nlohmann::json& message, int dest) {
  progress();
  sends_.push_back({message.dump(), dest, MPI_REQUEST_NULL});
  auto& s = sends_.back();
  MPI_Isend(s.bytes.data(), static_cast<int>(s.bytes.size()), MPI_CHAR, dest, protocol::kTag,
            MPI_COMM_WORLD, &s.request);
}

void PendingSends::progress() {
  for (auto it = sends_.begin(); it != sends_.end();) {
    int done = 0;
    MPI_Test(&it->request, &done, MPI_STATUS_IGNORE);
    it = done ? sends_.erase(it) : std::next(it);
  }
}

void PendingSends::drain(const std::set<int>& skip) {
  for (auto& s : sends_)
    if (!skip.count(s.dest)) MPI_Wait(&s.request, MPI_STATUS_IGNORE);
  sends_.remove_if([&](const Send& s) { return !skip.count(s.dest); });
}

PendingSends::~PendingSends() {
  for (auto& s : sends_) MPI_Request_free(&s.request);
}

std::optional<std::pair<int, nlohmann::json>> try_receive(int source) {
  int flag = 0;
  MPI_Status status;
  MPI_Iprobe(source, protocol::kTag, MPI_COMM_WORLD, &flag, &status);
  if (!flag) return std::nullopt;
  int count = 0;
  MPI_Get_count(&status, MPI_CHAR, &count);
  std::string bytes(static_cast<size_t>(count), '\0');
  MPI_Recv(bytes.data(), count, MPI_CHAR, status.MPI_SOURCE, protocol::kTag, MPI_COMM_WORLD,
           MPI_STATUS_IGNORE);
  return std::make_pair(status.MPI_SOURCE, nlohmann::json::parse(bytes));
}

std::optional<std::pair<int, nlohmann::json>> MpiTransport::receive(int timeout_us) {
  // Probe, then back off in short sleeps: latency stays ~0.1 ms while busy, and an idle
  // coordinator sleeps instead of spinning a core the trials need.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::microseconds(timeout_us);
  int nap_us = 20;
  for (;;) {
    sends_.progress();
    if (auto message = try_receive(MPI_ANY_SOURCE))
      return std::make_pair(message->first - 1, std::move(message->second));
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::microseconds(nap_us));
    nap_us = std::min(nap_us * 2, 2000);
  }
}

}  // namespace locsweep
