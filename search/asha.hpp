// Asynchronous successive halving (ASHA, Li et al. 2020) over a sweep's trials. Every trial
// trains to the first rung (a step count) and stops there, checkpointed; a trial at rung k
// is promoted to rung k + 1 (it resumes from its rung checkpoint, nothing retrained) when
// its loss at rung k is among the best 1/reduction of the trials that reached rung k so far.
// Workers never wait for a rung to fill: a free worker takes the best promotable trial,
// highest rung first, else a new trial. Once nothing is left to start or promote, the
// trials still parked at a rung are stopped early (recorded `stopped`, not failed).
//
// Pure bookkeeping, no I/O: the coordinator tells it what reached which rung, and asks it
// what to promote. Its state is rebuilt from the results database on restart (each trial's
// rung losses are its periodic validation losses at the rung steps), so a kill -9 loses
// nothing.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace locsweep {

// The spec's `early_stopping:` block.
struct AshaSpec {
  std::vector<int> rungs;  // increasing step counts, each below train.steps (the last rung)
  int reduction = 3;       // eta: the best 1/eta of a rung go on
};

class Asha {
 public:
  explicit Asha(AshaSpec spec);

  // Trial `id` reached rung `rung` (index into spec.rungs; spec.rungs.size() means it
  // finished train.steps) with this validation loss there. Tell every rung a trial reached;
  // a replay may tell them in any order (reaching rung k means it was promoted from every
  // rung below). Reaching a rung again keeps the first loss.
  void reached(const std::string& id, size_t rung, double loss);
  // The trial to promote now, if any: the best-loss trial parked at the highest rung that
  // is among the best floor(n_k / reduction) of the n_k trials that reached that rung, and
  // not promoted yet. Equal losses rank by id (so the order trials were told in never
  // matters). Marks it promoted.
  std::optional<std::string> promote();
  // The step count trial `id` should train to next: its next rung's steps, or nothing (train
  // to train.steps) once it is past the last rung.
  std::optional<int> next_stop(const std::string& id) const;
  // Trials parked at a rung and not promoted: what stop_parked() would stop.
  std::vector<std::string> parked() const;

  const AshaSpec& spec() const { return spec_; }

 private:
  struct Entry {
    std::string id;
    double loss;
    bool promoted = false;
  };
  AshaSpec spec_;
  std::vector<std::vector<Entry>> rungs_;  // per rung (and finished), in arrival order
};

}  // namespace locsweep
