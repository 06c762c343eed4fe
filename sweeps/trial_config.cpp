#include "sweeps/trial_config.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "common/sha256.hpp"
#include "sweeps/config_fields.hpp"
#include "sweeps/numeric_keys.hpp"

namespace locsweep {

using nlohmann::json;

std::string_view to_string(TrialKind kind) {
  return kind == TrialKind::gpt2 ? "gpt2" : "noop";
}

std::string_view to_string(Mechanism m) {
  switch (m) {
    case Mechanism::none:
      return "none";
    case Mechanism::window:
      return "window";
    case Mechanism::block:
      return "block";
    case Mechanism::mask:
      return "mask";
    case Mechanism::penalty:
      return "penalty";
  }
  return "?";
}

Mechanism mechanism_from_string(std::string_view text) {
  for (Mechanism m : kMechanisms)
    if (to_string(m) == text) return m;
  throw InputError("unknown mechanism '" + std::string(text) +
                   "' (valid: " + mechanism_choices(", ") + ")");
}

std::vector<std::string> mechanism_names() {
  std::vector<std::string> names;
  for (Mechanism m : kMechanisms) names.emplace_back(to_string(m));
  return names;
}

std::string mechanism_choices(std::string_view separator) {
  std::string out;
  for (Mechanism m : kMechanisms)
    out += (out.empty() ? "" : std::string(separator)) + std::string(to_string(m));
  return out;
}

TrialKind trial_kind_from_string(std::string_view text) {
  if (text == "gpt2") return TrialKind::gpt2;
  if (text == "noop") return TrialKind::noop;
  throw InputError("unknown trial kind '" + std::string(text) + "' (valid: gpt2, noop)");
}

BlockSpec BlockSpec::parse(std::string_view text) {
  const auto bad = [&](const std::string& why) -> InputError {
    return InputError(
        "block spec '" + std::string(text) + "': " + why +
        " (valid: sentence, fixed:<N> with N >= 1, adaptive:<tau> with tau in [-1, 1])");
  };
  BlockSpec spec;
  if (text == "sentence") return spec;
  const size_t colon = text.find(':');
  const std::string_view head = text.substr(0, colon);
  const std::string_view arg = colon == std::string_view::npos ? "" : text.substr(colon + 1);
  if (head == "fixed") {
    int n = 0;
    auto [end, ec] = std::from_chars(arg.data(), arg.data() + arg.size(), n);
    if (arg.empty() || ec != std::errc() || end != arg.data() + arg.size() || n < 1)
      throw bad("fixed needs a whole number of tokens >= 1");
    spec.kind = Kind::fixed;
    spec.size = n;
    return spec;
  }
  if (head == "adaptive") {
    double tau = 0;
    auto [end, ec] = std::from_chars(arg.data(), arg.data() + arg.size(), tau);
    if (arg.empty() || ec != std::errc() || end != arg.data() + arg.size() ||
        !(tau >= -1 && tau <= 1))
      throw bad("adaptive needs a cosine threshold tau in [-1, 1]");
    spec.kind = Kind::adaptive;
    spec.tau = tau;
    return spec;
  }
  throw bad("unknown kind");
}

std::string BlockSpec::canonical() const {
  switch (kind) {
    case Kind::sentence:
      return "sentence";
    case Kind::fixed:
      return "fixed:" + std::to_string(size);
    case Kind::adaptive:
      return "adaptive:" + format_number(tau);
  }
  return "?";
}

std::optional<ConfigProblem> find_problem(const TrialConfig& c,
                                          const std::vector<std::string>& base_names) {
  if (c.kind == TrialKind::noop) return std::nullopt;
  if (c.model.n_embd % c.model.n_head != 0)
    return ConfigProblem{"model.n_embd", "n_embd (" + std::to_string(c.model.n_embd) +
                                             ") must be divisible by n_head (" +
                                             std::to_string(c.model.n_head) + ")"};
  try {
    (void)c.locality.schedule.lambdas(c.model.n_layer);
  } catch (const ScheduleError& e) {
    return ConfigProblem{"locality.schedule", e.what()};
  }
  if (c.train.min_lr > c.train.lr)
    return ConfigProblem{"train.min_lr", "min_lr (" + format_number(c.train.min_lr) +
                                             ") must not exceed lr (" + format_number(c.train.lr) +
                                             ")"};
  const std::string& init = c.model.init;
  if (init.rfind("base:", 0) == 0) {
    const std::string name = init.substr(5);
    if (std::find(base_names.begin(), base_names.end(), name) != base_names.end())
      return std::nullopt;
    std::string defined;
    for (const auto& n : base_names) defined += (defined.empty() ? "" : ", ") + n;
    return ConfigProblem{
        "model.init",
        base_names.empty()
            ? "'" + init +
                  "' names a base trial, which only a sweep that defines it under "
                  "'bases:' can use (see docs/sweep-spec.md, \"Staged sweeps\")"
            : "no base named '" + name + "' in this sweep (its bases: " + defined + ")"};
  }
  if (init != "scratch" && init.rfind("hf:", 0) != 0 && init.rfind("checkpoint:", 0) != 0)
    return ConfigProblem{"model.init", "'" + init +
                                           "' is not scratch, hf:<model.safetensors>, "
                                           "checkpoint:<file.h5> or base:<name>"};
  if ((init.rfind("hf:", 0) == 0 && init.size() == 3) ||
      (init.rfind("checkpoint:", 0) == 0 && init.size() == 11))
    return ConfigProblem{"model.init", "'" + init + "' needs a file path after the colon"};
  if (c.data.tokenizer == "bytes" && c.model.vocab_size != 0 && c.model.vocab_size < 256)
    return ConfigProblem{"model.vocab_size", "the bytes tokenizer needs vocab_size >= 256 (or 0)"};
  if (c.data.tokenizer == "gpt2" && c.model.vocab_size != 0 && c.model.vocab_size < 50257)
    return ConfigProblem{"model.vocab_size", "the gpt2 tokenizer needs vocab_size >= 50257 (or 0)"};
  return std::nullopt;
}

namespace {

void set_path(json& root, const std::string& path, json value) {
  json* node = &root;
  size_t start = 0;
  for (size_t dot; (dot = path.find('.', start)) != std::string::npos; start = dot + 1)
    node = &(*node)[path.substr(start, dot - start)];
  (*node)[path.substr(start)] = std::move(value);
}

int default_vocab(const TrialConfig& c) {
  if (c.model.vocab_size != 0) return c.model.vocab_size;
  if (c.data.tokenizer == "gpt2") return 50257;
  if (c.data.tokenizer == "bytes") return 256;
  return 0;  // a tokenizer folder: known once it is read
}

// The "inputs" block of to_json(); absent keys stay empty, anything else throws InputError.
InputDigests input_digests_from_json(const json& in) {
  if (!in.is_object()) throw InputError("trial config JSON: inputs must be an object");
  InputDigests inputs;
  for (const auto& [key, value] : in.items()) {
    std::string* slot = key == "corpus"      ? &inputs.corpus
                        : key == "tokenizer" ? &inputs.tokenizer
                        : key == "init"      ? &inputs.init
                                             : nullptr;
    if (!slot)
      throw InputError("trial config JSON: unknown key inputs." + key +
                       " (valid: corpus, tokenizer, init)");
    if (!value.is_string())
      throw InputError("trial config JSON: inputs." + key + " must be a string");
    *slot = value.get<std::string>();
  }
  return inputs;
}

}  // namespace

json to_json(const TrialConfig& config) {
  json out = json::object();
  for (const auto& field : trial_fields()) set_path(out, field.path, field.get(config));
  out["spec_dir"] = config.spec_dir;
  out["inputs"] = {{"corpus", config.inputs.corpus},
                   {"tokenizer", config.inputs.tokenizer},
                   {"init", config.inputs.init}};
  return out;
}

TrialConfig trial_config_from_json(const json& in) {
  TrialConfig config;
  // JSON is YAML, so one reader serves both (and reports the same errors).
  const YAML::Node root = YAML::Load(in.dump());
  read_trial_keys(root, "<trial config JSON>", config, {"spec_dir", "inputs"});
  if (in.contains("spec_dir")) config.spec_dir = in.at("spec_dir").get<std::string>();
  if (in.contains("inputs")) config.inputs = input_digests_from_json(in.at("inputs"));
  return config;
}

ExecutionConfig execution_config_from_json(const json& config) {
  ExecutionConfig e;
  try {
    const json block = config.value("execution", json::object());
    e.timeout_s = block.value("timeout_s", e.timeout_s);
    e.max_retries = block.value("max_retries", e.max_retries);
    e.max_preemptions = block.value("max_preemptions", e.max_preemptions);
    e.kill_grace_s = block.value("kill_grace_s", e.kill_grace_s);
    e.checkpoint_every = block.value("checkpoint_every", e.checkpoint_every);
    e.stop_at_step = block.value("stop_at_step", e.stop_at_step);
  } catch (const json::exception& x) {
    throw InputError(std::string("trial config JSON, execution block: ") + x.what());
  }
  return e;
}

json canonical_json(const TrialConfig& config) {
  json out = json::object();
  out["kind"] = to_string(config.kind);
  out["seed"] = config.seed;
  if (config.kind == TrialKind::noop) {
    const bool loss = !config.noop.loss.key.empty();
    for (const auto& field : trial_fields())
      if (field.path.rfind("noop.", 0) == 0 && (loss || field.path.rfind("noop.loss.", 0) != 0))
        set_path(out, field.path, field.get(config));
    // The synthetic loss depends on a key a noop trial does not hash otherwise: its value.
    if (loss) out["noop"]["loss"]["at"] = numeric_key_value(config, config.noop.loss.key);
    if (!config.inputs.init.empty()) out["init"] = config.inputs.init;  // a noop base's trial
    return out;
  }
  for (const auto& field : trial_fields()) {
    if (!field.hashed || field.path.rfind("noop.", 0) == 0 || field.path.rfind("locality.", 0) == 0)
      continue;
    if (field.path == "kind" || field.path == "seed") continue;
    set_path(out, field.path, field.get(config));
  }
  out["model"]["vocab_size"] = default_vocab(config);
  // Content identity replaces the paths as written (see InputDigests).
  if (!config.inputs.corpus.empty()) out["data"]["corpus"] = config.inputs.corpus;
  if (!config.inputs.tokenizer.empty()) out["data"]["tokenizer"] = config.inputs.tokenizer;
  if (!config.inputs.init.empty()) out["model"]["init"] = config.inputs.init;

  // Locality: what reaches the attention is the lambda vector and the active mechanism's
  // own parameters; everything else is normalised away so that equal trials hash equally.
  const LocalityConfig& loc = config.locality;
  Schedule schedule = loc.schedule;
  Mechanism mechanism = loc.mechanism;
  try {
    const auto lambdas = schedule.lambdas(config.model.n_layer);
    bool constant = true;
    for (double l : lambdas) constant = constant && l == lambdas.front();
    if (constant) schedule = Schedule::uniform(lambdas.front());
    if (constant && lambdas.front() == 0.0) mechanism = Mechanism::none;
  } catch (const ScheduleError&) {
    // an invalid trial is rejected by find_problem(); hash it as written
  }
  if (mechanism == Mechanism::none) schedule = Schedule::uniform(0.0);
  json locality = {{"mechanism", to_string(mechanism)}, {"schedule", schedule.canonical()}};
  switch (mechanism) {
    case Mechanism::none:
      break;
    case Mechanism::window:
      locality["sigma"] = loc.sigma;
      break;
    case Mechanism::block:
      locality["blocks"] = loc.blocks.canonical();
      locality["kappa"] = loc.kappa;
      break;
    case Mechanism::mask:
      locality["blocks"] = loc.blocks.canonical();
      locality["kappa"] = loc.kappa;
      locality["theta"] = loc.theta;
      break;
    case Mechanism::penalty:
      locality["blocks"] = loc.blocks.canonical();
      locality["rho"] = loc.rho;
      locality["gamma"] = loc.gamma;
      break;
  }
  out["locality"] = locality;
  return out;
}

std::string trial_hash(const TrialConfig& config) {
  return sha256_hex(canonical_json(config).dump());
}

std::optional<double> noop_synthetic_loss(const TrialConfig& config) {
  const NoopLoss& loss = config.noop.loss;
  if (loss.key.empty()) return std::nullopt;
  const double d = numeric_key_value(config, loss.key) - loss.center;
  return loss.floor + loss.curvature * d * d;
}

std::string trial_label(const TrialConfig& config) {
  return trial_label_from_canonical(canonical_json(config));
}

std::string trial_label_from_canonical(const json& canon) {
  const std::string seed = " seed=" + std::to_string(canon.at("seed").get<int>());
  if (canon.at("kind") == "noop") return "noop" + seed;
  return canon["locality"]["mechanism"].get<std::string>() + " " +
         canon["locality"]["schedule"].get<std::string>() + seed;
}

int model_vocab_size(const TrialConfig& config) {
  return default_vocab(config);
}

double estimated_cost(const TrialConfig& c) {
  if (c.kind == TrialKind::noop) return c.noop.duration_s;
  const double width = c.model.n_embd, layers = c.model.n_layer;
  const double vocab = default_vocab(c) ? default_vocab(c) : 50257;
  const double params = 12.0 * layers * width * width + vocab * width;
  return 6.0 * params * c.train.steps * c.train.batch_size * c.model.block_size;
}

}  // namespace locsweep
