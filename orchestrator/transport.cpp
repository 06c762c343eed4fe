#include "orchestrator/transport.hpp"

namespace locsweep {

InlineTransport::InlineTransport(RankSetup setup) : agent_(std::move(setup)) {}

void InlineTransport::send(int, const nlohmann::json& message) {
  agent_.on_message(message);
}

std::optional<std::pair<int, nlohmann::json>> InlineTransport::receive(int timeout_us) {
  if (!sent_ready_) {
    sent_ready_ = true;
    return std::make_pair(0, agent_.ready_message());
  }
  if (outbox_.empty() && !agent_.done()) {
    auto more = agent_.poll(std::max(0, timeout_us / 1000));
    outbox_.insert(outbox_.end(), more.begin(), more.end());
  }
  if (outbox_.empty()) return std::nullopt;
  auto message = std::move(outbox_.front());
  outbox_.erase(outbox_.begin());
  return std::make_pair(0, std::move(message));
}

}  // namespace locsweep
