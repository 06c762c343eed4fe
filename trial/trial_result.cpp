#include "trial/trial_result.hpp"

#include "common/error.hpp"

namespace locsweep {

using nlohmann::json;

json to_json(const TrialResult& r) {
  json heads = json::array();
  for (const auto& h : r.heads)
    heads.push_back({{"layer", h.layer},
                     {"head", h.head},
                     {"lambda", h.lambda},
                     {"entropy_bits", h.entropy_bits},
                     {"entropy_norm", h.entropy_norm},
                     {"in_block_mass", h.in_block_mass},
                     {"mean_distance", h.mean_distance}});
  json artifacts = json::array();
  for (const auto& a : r.artifacts)
    artifacts.push_back(
        {{"kind", a.kind}, {"path", a.path}, {"bytes", a.bytes}, {"sha256", a.sha256}});
  return {{"outcome", to_string(r.outcome)},
          {"message", r.message},
          {"steps_done", r.steps_done},
          {"resumed_from", r.resumed_from},
          {"train_loss", r.train_loss},
          {"val_loss", r.val_loss},
          {"val_ppl", r.val_ppl},
          {"val_tokens", r.val_tokens},
          {"seconds", r.seconds},
          {"train_tokens_per_s", r.train_tokens_per_s},
          {"device", r.device},
          {"heads", heads},
          {"artifacts", artifacts}};
}

TrialResult trial_result_from_json(const json& j) {
  try {
    TrialResult r;
    r.outcome = outcome_from_string(j.at("outcome").get<std::string>());
    r.message = j.value("message", "");
    r.steps_done = j.value("steps_done", 0);
    r.resumed_from = j.value("resumed_from", 0);
    r.train_loss = j.value("train_loss", 0.0);
    r.val_loss = j.value("val_loss", 0.0);
    r.val_ppl = j.value("val_ppl", 0.0);
    r.val_tokens = j.value("val_tokens", int64_t{0});
    r.seconds = j.value("seconds", 0.0);
    r.train_tokens_per_s = j.value("train_tokens_per_s", 0.0);
    r.device = j.value("device", "");
    for (const auto& h : j.value("heads", json::array()))
      r.heads.push_back({h.at("layer"), h.at("head"), h.at("lambda"), h.at("entropy_bits"),
                         h.at("entropy_norm"), h.at("in_block_mass"), h.at("mean_distance")});
    for (const auto& a : j.value("artifacts", json::array()))
      r.artifacts.push_back({a.at("kind"), a.at("path"), a.at("bytes"), a.at("sha256")});
    return r;
  } catch (const json::exception& e) {
    throw InputError(std::string("malformed trial result: ") + e.what());
  }
}

}  // namespace locsweep
