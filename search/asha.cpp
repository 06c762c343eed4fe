#include "search/asha.hpp"

#include <algorithm>

namespace locsweep {

Asha::Asha(AshaSpec spec) : spec_(std::move(spec)), rungs_(spec_.rungs.size() + 1) {}

void Asha::reached(const std::string& id, size_t rung, double loss) {
  if (rung >= rungs_.size()) return;
  const auto holds = [&](const std::vector<Entry>& entries) {
    return std::any_of(entries.begin(), entries.end(), [&](const Entry& e) { return e.id == id; });
  };
  auto& entries = rungs_[rung];
  if (!holds(entries)) {
    // Already at a higher rung (a replay told that first): it went on from this one.
    bool above = false;
    for (size_t k = rung + 1; k < rungs_.size(); ++k) above = above || holds(rungs_[k]);
    entries.push_back({id, loss, above});
  }
  // Being at rung k means it was promoted from every rung below.
  for (size_t below = 0; below < rung; ++below)
    for (auto& e : rungs_[below])
      if (e.id == id) e.promoted = true;
}

std::optional<std::string> Asha::promote() {
  // The last entry of rungs_ is "finished train.steps": nothing is promoted from there.
  for (size_t k = spec_.rungs.size(); k-- > 0;) {
    auto& entries = rungs_[k];
    const size_t top = entries.size() / static_cast<size_t>(std::max(1, spec_.reduction));
    if (top == 0) continue;
    std::vector<const Entry*> ranked;
    for (const auto& e : entries) ranked.push_back(&e);
    // Ties go to the smaller id: a replay that tells the trials in another order decides as
    // the run did.
    std::sort(ranked.begin(), ranked.end(), [](const Entry* a, const Entry* b) {
      return a->loss != b->loss ? a->loss < b->loss : a->id < b->id;
    });
    for (size_t i = 0; i < top; ++i)
      if (!ranked[i]->promoted) {
        const std::string id = ranked[i]->id;
        for (auto& e : entries)
          if (e.id == id) e.promoted = true;
        return id;
      }
  }
  return std::nullopt;
}

std::optional<int> Asha::next_stop(const std::string& id) const {
  // The highest rung it reached; promoted from there, it trains to the next one.
  for (size_t k = rungs_.size(); k-- > 0;)
    for (const auto& e : rungs_[k])
      if (e.id == id) {
        if (k + 1 >= spec_.rungs.size()) return std::nullopt;  // past the last rung
        return spec_.rungs[k + 1];
      }
  if (spec_.rungs.empty()) return std::nullopt;
  return spec_.rungs.front();
}

std::vector<std::string> Asha::parked() const {
  std::vector<std::string> out;
  for (size_t k = 0; k < spec_.rungs.size(); ++k)
    for (const auto& e : rungs_[k])
      if (!e.promoted) out.push_back(e.id);
  return out;
}

}  // namespace locsweep
