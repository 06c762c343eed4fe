// Progress events of a running trial, as JSON objects with an "event" field:
//   {"event":"start","attempt":1,"resumed_from":0,"steps":300,"device":"cpu (1 thread)"}
//   {"event":"step","step":10,"loss":4.1,"lr":0.001,"tokens_per_s":5120,"eta_s":42}
//   {"event":"eval","step":100,"val_loss":3.2}
//   {"event":"checkpoint","step":100,"path":"...","bytes":123}
//   {"event":"warning","message":"..."}
//   {"event":"result", ...TrialResult fields...}   (last)
// A trial process writes them as JSON lines; the worker rank streams them to the coordinator.
#pragma once

#include <cstdio>
#include <nlohmann/json.hpp>

namespace locsweep {

class ProgressSink {
 public:
  virtual ~ProgressSink() = default;
  virtual void event(const nlohmann::json& event) = 0;
};

// Discards everything (library use, tests).
class NullProgress : public ProgressSink {
 public:
  void event(const nlohmann::json&) override {}
};

// One JSON object per line on a stdio stream, flushed per line so a reader sees it at once.
class JsonLinesProgress : public ProgressSink {
 public:
  explicit JsonLinesProgress(std::FILE* out) : out_(out) {}
  void event(const nlohmann::json& event) override {
    const std::string line = event.dump() + "\n";
    std::fwrite(line.data(), 1, line.size(), out_);
    std::fflush(out_);
  }

 private:
  std::FILE* out_;
};

}  // namespace locsweep
