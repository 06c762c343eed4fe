#include "sweeps/config_fields.hpp"

#include <algorithm>
#include <cmath>
#include <set>

#include "sweeps/numeric_keys.hpp"
#include "sweeps/spec_error.hpp"

namespace locsweep {
namespace {

using nlohmann::json;

std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Null:
      return "nothing (null)";
    case YAML::NodeType::Undefined:
      return "nothing";
    case YAML::NodeType::Scalar:
      return "'" + node.Scalar() + "'";
  }
  return "?";
}

const std::string& scalar(const YAML::Node& node, std::string_view expected) {
  if (!node.IsScalar())
    throw FieldError("expected " + std::string(expected) + ", got " + describe(node));
  return node.Scalar();
}

[[noreturn]] void out_of_range(const NumericRange& range, const std::string& text) {
  throw FieldError("must be " + std::string(range.integer ? "a whole number from " : "in ") +
                   range.text() + ", got " + text);
}

int read_int(const YAML::Node& node, const NumericRange& range) {
  const std::string& text = scalar(node, "an integer");
  size_t used = 0;
  long long value = 0;
  try {
    value = std::stoll(text, &used);
  } catch (const std::out_of_range&) {
    out_of_range(range, text);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size()) throw FieldError("expected an integer, got '" + text + "'");
  if (!range.contains(static_cast<double>(value))) out_of_range(range, text);
  return static_cast<int>(value);
}

double read_double(const YAML::Node& node, const NumericRange& range) {
  const std::string& text = scalar(node, "a number");
  double value = 0;
  // YAML's own reading, so .inf and .nan are recognised (and then refused as not finite).
  if (!YAML::convert<double>::decode(node, value))
    throw FieldError("expected a number, got '" + text + "'");
  if (!std::isfinite(value)) throw FieldError("must be a finite number, got '" + text + "'");
  if (!range.contains(value)) out_of_range(range, text);
  return value;
}

bool read_bool(const YAML::Node& node) {
  const std::string& text = scalar(node, "true or false");
  bool value = false;
  if (!YAML::convert<bool>::decode(node, value))
    throw FieldError("expected true or false, got '" + text + "'");
  return value;
}

std::string read_string(const YAML::Node& node) {
  const std::string& text = scalar(node, "a string");
  if (text.empty()) throw FieldError("must not be empty");
  return text;
}

std::string read_choice(const YAML::Node& node, const std::vector<std::string>& choices) {
  const std::string text = scalar(node, "a string");
  if (std::find(choices.begin(), choices.end(), text) != choices.end()) return text;
  std::string list;
  for (const auto& c : choices) list += (list.empty() ? "" : ", ") + c;
  throw FieldError("'" + text + "' is not one of: " + list);
}

constexpr NumericRange kUnit{0.0, 1.0};  // a lambda
constexpr NumericRange kSeedRange{0, 2147483647, false, false, true};

Schedule read_schedule(const YAML::Node& node) {
  try {
    if (node.IsScalar()) return Schedule::parse(node.Scalar());
    if (node.IsSequence()) {
      std::vector<double> values;
      for (const auto& item : node) values.push_back(read_double(item, kUnit));
      return Schedule::explicit_values(std::move(values));
    }
    if (node.IsMap()) {
      // {type: polynomial, beta: 5, lambda_min: 0, lambda_max: 1} | {type: uniform, lambda: x}
      // | {type: reverse, of: <schedule>} | {type: explicit, values: [...]}
      std::set<std::string> keys;
      for (const auto& kv : node) keys.insert(kv.first.as<std::string>());
      auto allow = [&](std::set<std::string> allowed) {
        for (const auto& k : keys)
          if (!allowed.count(k)) {
            std::string list;
            for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
            throw FieldError("unknown schedule key '" + k + "' (valid here: " + list + ")");
          }
      };
      const std::string type = node["type"] ? read_string(node["type"]) : "";
      if (type == "polynomial" || type == "poly") {
        allow({"type", "beta", "lambda_min", "lambda_max"});
        if (!node["beta"]) throw FieldError("a polynomial schedule needs 'beta'");
        const double beta = read_double(node["beta"], {0.0, INFINITY, true, true});
        const double lo = node["lambda_min"] ? read_double(node["lambda_min"], kUnit) : 0.0;
        const double hi = node["lambda_max"] ? read_double(node["lambda_max"], kUnit) : 1.0;
        return Schedule::polynomial(beta, lo, hi);
      }
      if (type == "uniform") {
        allow({"type", "lambda"});
        if (!node["lambda"]) throw FieldError("a uniform schedule needs 'lambda'");
        return Schedule::uniform(read_double(node["lambda"], kUnit));
      }
      if (type == "reverse") {
        allow({"type", "of"});
        if (!node["of"]) throw FieldError("a reverse schedule needs 'of: <schedule>'");
        return Schedule::reverse(read_schedule(node["of"]));
      }
      if (type == "explicit") {
        allow({"type", "values"});
        if (!node["values"] || !node["values"].IsSequence())
          throw FieldError("an explicit schedule needs 'values: [...]'");
        return read_schedule(node["values"]);
      }
      throw FieldError(
          "a schedule mapping needs 'type: polynomial|uniform|reverse|explicit', got " +
          (type.empty() ? std::string("no type") : "'" + type + "'"));
    }
    throw FieldError("expected a schedule, got " + describe(node));
  } catch (const ScheduleError& e) {
    throw FieldError(e.what(), FieldError::Hint::lists_valid);
  } catch (const YAML::Exception& e) {
    throw FieldError(std::string("malformed schedule: ") + e.what());
  }
}

// The doc of a numeric key: its meaning, then its range.
std::string with_range(const std::string& doc, const NumericRange& range) {
  return doc + "; " + (range.integer ? "" : "in ") + range.text();
}

// Field builders over pointer-to-members: section S of TrialConfig, member T of S.
template <class S>
Field int_field(std::string path, bool hashed, S TrialConfig::*section, int S::*member, int lo,
                int hi, std::string doc) {
  const NumericRange range{static_cast<double>(lo), static_cast<double>(hi), false, false, true};
  return {path,
          with_range(doc, range),
          hashed,
          false,
          [=](const TrialConfig& c) { return json(c.*section.*member); },
          [=](TrialConfig& c, const YAML::Node& n) { c.*section.*member = read_int(n, range); },
          range};
}

template <class S>
Field double_field(std::string path, bool hashed, S TrialConfig::*section, double S::*member,
                   NumericRange range, std::string doc) {
  return {path,
          with_range(doc, range),
          hashed,
          false,
          [=](const TrialConfig& c) { return json(c.*section.*member); },
          [=](TrialConfig& c, const YAML::Node& n) { c.*section.*member = read_double(n, range); },
          range};
}

template <class S>
Field string_field(std::string path, bool hashed, S TrialConfig::*section, std::string S::*member,
                   std::string doc) {
  return {path,
          doc,
          hashed,
          false,
          [=](const TrialConfig& c) { return json(c.*section.*member); },
          [=](TrialConfig& c, const YAML::Node& n) { c.*section.*member = read_string(n); },
          std::nullopt};
}

template <class S>
Field bool_field(std::string path, bool hashed, S TrialConfig::*section, bool S::*member,
                 std::string doc) {
  return {path,
          doc,
          hashed,
          false,
          [=](const TrialConfig& c) { return json(c.*section.*member); },
          [=](TrialConfig& c, const YAML::Node& n) { c.*section.*member = read_bool(n); },
          std::nullopt};
}

// A number of noop.loss (NoopLoss).
Field loss_field(std::string path, double NoopLoss::*member, NumericRange range, std::string doc) {
  return {path,
          with_range(doc, range),
          true,
          false,
          [=](const TrialConfig& c) { return json(c.noop.loss.*member); },
          [=](TrialConfig& c, const YAML::Node& n) { c.noop.loss.*member = read_double(n, range); },
          range};
}

std::vector<Field> make_fields() {
  using C = TrialConfig;
  std::vector<Field> f;
  f.push_back({"kind", "trial kind: gpt2 (train and evaluate) or noop (orchestration tests)", true,
               false, [](const C& c) { return json(to_string(c.kind)); },
               [](C& c, const YAML::Node& n) {
                 c.kind = trial_kind_from_string(read_choice(n, {"gpt2", "noop"}));
               },
               std::nullopt});
  f.push_back({"seed", with_range("seed of initialisation, data order and dropout", kSeedRange),
               true, false, [](const C& c) { return json(c.seed); },
               [](C& c, const YAML::Node& n) { c.seed = read_int(n, kSeedRange); }, kSeedRange});

  f.push_back(int_field("model.n_layer", true, &C::model, &ModelConfig::n_layer, 1, 96,
                        "transformer blocks L"));
  f.push_back(int_field("model.n_head", true, &C::model, &ModelConfig::n_head, 1, 128,
                        "attention heads per layer"));
  f.push_back(int_field("model.n_embd", true, &C::model, &ModelConfig::n_embd, 8, 16384,
                        "model width (divisible by n_head)"));
  f.push_back(int_field("model.block_size", true, &C::model, &ModelConfig::block_size, 2, 8192,
                        "tokens per training window T"));
  f.push_back(int_field("model.vocab_size", true, &C::model, &ModelConfig::vocab_size, 0, 1 << 20,
                        "vocabulary size; 0 takes the tokenizer's"));
  f.push_back(double_field("model.dropout", true, &C::model, &ModelConfig::dropout,
                           {0.0, 1.0, false, true}, "dropout probability"));
  f.push_back(
      string_field("model.init", true, &C::model, &ModelConfig::init,
                   "scratch | hf:<model.safetensors> | checkpoint:<file.h5> | base:<name>"));

  f.push_back(string_field("data.corpus", true, &C::data, &DataConfig::corpus,
                           "moby-dick | sotu | a text file | a folder of .txt files"));
  f.push_back(
      string_field("data.tokenizer", true, &C::data, &DataConfig::tokenizer,
                   "gpt2 | bytes | a folder with encoder.json+vocab.bpe or vocab.json+merges.txt"));
  f.push_back(double_field("data.val_fraction", true, &C::data, &DataConfig::val_fraction,
                           {0.0, 0.9, true}, "share of tokens held out for validation (the end)"));

  f.push_back(int_field("train.steps", true, &C::train, &TrainConfig::steps, 0, 100000000,
                        "optimiser steps"));
  f.push_back(int_field("train.batch_size", true, &C::train, &TrainConfig::batch_size, 1, 65536,
                        "windows per step B"));
  f.push_back(double_field("train.lr", true, &C::train, &TrainConfig::lr, {0.0, 10.0, true},
                           "peak learning rate"));
  f.push_back(double_field("train.min_lr", true, &C::train, &TrainConfig::min_lr, {0.0, 10.0},
                           "learning rate at the end of the cosine decay"));
  f.push_back(int_field("train.warmup_steps", true, &C::train, &TrainConfig::warmup_steps, 0,
                        100000000, "steps of linear warm-up"));
  f.push_back(double_field("train.weight_decay", true, &C::train, &TrainConfig::weight_decay,
                           {0.0, 10.0}, "AdamW weight decay (matrices only)"));
  f.push_back(double_field("train.beta1", true, &C::train, &TrainConfig::beta1,
                           {0.0, 1.0, false, true}, "AdamW beta1"));
  f.push_back(double_field("train.beta2", true, &C::train, &TrainConfig::beta2,
                           {0.0, 1.0, false, true}, "AdamW beta2"));
  f.push_back(double_field("train.grad_clip", true, &C::train, &TrainConfig::grad_clip, {0.0, 1e6},
                           "clip the global gradient norm to this; 0: off"));

  f.push_back({"locality.mechanism", mechanism_choices(" | "), true, false,
               [](const C& c) { return json(to_string(c.locality.mechanism)); },
               [](C& c, const YAML::Node& n) {
                 c.locality.mechanism = mechanism_from_string(read_choice(n, mechanism_names()));
               },
               std::nullopt});
  f.push_back(
      {"locality.schedule", std::string("lambda per layer: ") + std::string(schedule_syntax_help()),
       true, true, [](const C& c) { return json(c.locality.schedule.canonical()); },
       [](C& c, const YAML::Node& n) { c.locality.schedule = read_schedule(n); }, std::nullopt});
  f.push_back({"locality.blocks", "sentence | fixed:<N> | adaptive:<tau>", true, false,
               [](const C& c) { return json(c.locality.blocks.canonical()); },
               [](C& c, const YAML::Node& n) {
                 const std::string& text = scalar(n, "a block spec");
                 try {
                   c.locality.blocks = BlockSpec::parse(text);
                 } catch (const InputError& e) {  // BlockSpec::parse ends with "(valid: ...)"
                   throw FieldError(e.what(), FieldError::Hint::lists_valid);
                 }
               },
               std::nullopt});
  f.push_back(double_field("locality.sigma", true, &C::locality, &LocalityConfig::sigma,
                           {1e-3, 1e6}, "window: distance scale in tokens"));
  f.push_back(double_field("locality.kappa", true, &C::locality, &LocalityConfig::kappa, {0.0, 1e6},
                           "block/mask: cross-block logit penalty"));
  f.push_back(double_field("locality.theta", true, &C::locality, &LocalityConfig::theta,
                           {0.0, 1.0, true}, "mask: strict masking where lambda >= theta"));
  f.push_back(double_field("locality.rho", true, &C::locality, &LocalityConfig::rho, {0.0, 1.0},
                           "penalty: target in-block attention mass"));
  f.push_back(double_field("locality.gamma", true, &C::locality, &LocalityConfig::gamma, {0.0, 1e6},
                           "penalty: weight of the locality loss"));

  f.push_back(int_field("eval.every", false, &C::eval, &EvalConfig::every, 0, 100000000,
                        "validate every N steps; 0: only at the end"));
  f.push_back(int_field("eval.windows", false, &C::eval, &EvalConfig::windows, 1, 1000000,
                        "validation windows in a periodic evaluation"));

  f.push_back(int_field("record.attention_windows", false, &C::record,
                        &RecordConfig::attention_windows, 0, 4096,
                        "validation windows whose attention is stored in HDF5"));
  f.push_back(double_field("record.attention_max_mb", false, &C::record,
                           &RecordConfig::attention_max_mb, {0.0, 1e6, true},
                           "upper bound on the raw size of the attention file"));
  f.push_back(bool_field("record.export_safetensors", false, &C::record,
                         &RecordConfig::export_safetensors,
                         "also export the trained model for Hugging Face: model.safetensors + "
                         "config.json (HF's GPT-2 runs it without the locality bias)"));

  f.push_back(double_field("execution.timeout_s", false, &C::execution, &ExecutionConfig::timeout_s,
                           {0.0, 1e9}, "hard time limit per attempt in seconds; 0: none"));
  f.push_back(int_field("execution.max_retries", false, &C::execution,
                        &ExecutionConfig::max_retries, 0, 1000,
                        "retries after a crash, timeout or out-of-memory"));
  f.push_back(int_field("execution.max_preemptions", false, &C::execution,
                        &ExecutionConfig::max_preemptions, 0, 100000,
                        "interruptions in a row without a newer checkpoint (preemption, stop "
                        "signal, job killed) a trial resumes from; one more fails it"));
  f.push_back(double_field("execution.kill_grace_s", false, &C::execution,
                           &ExecutionConfig::kill_grace_s, {0.0, 86400.0},
                           "seconds a trial told to stop (time limit, its worker died) has to "
                           "checkpoint before SIGKILL"));
  f.push_back(int_field("execution.checkpoint_every", false, &C::execution,
                        &ExecutionConfig::checkpoint_every, 1, 100000000,
                        "steps between checkpoints"));
  f.push_back(int_field("execution.stop_at_step", false, &C::execution,
                        &ExecutionConfig::stop_at_step, 0, 100000000,
                        "stop at this step (checkpointed, validated there; outcome rung) for "
                        "early stopping to resume from; 0: train to train.steps"));

  f.push_back(double_field("noop.duration_s", true, &C::noop, &NoopConfig::duration_s, {0.0, 1e9},
                           "noop: seconds to sleep"));
  f.push_back({"noop.fail", "noop: none | crash | abort | hang | nan | oom | error | kill_parent",
               true, false, [](const C& c) { return json(c.noop.fail); },
               [](C& c, const YAML::Node& n) {
                 c.noop.fail = read_choice(
                     n, {"none", "crash", "abort", "hang", "nan", "oom", "error", "kill_parent"});
               },
               std::nullopt});
  f.push_back(int_field("noop.fail_attempts", true, &C::noop, &NoopConfig::fail_attempts, -1,
                        1000000, "noop: fail only in the first N attempts; -1: always"));
  f.push_back({"noop.loss.key",
               "noop: the numeric key whose value v gives a done trial the synthetic val_loss "
               "floor + curvature * (v - center)^2 (e.g. locality.schedule.beta); unset: none",
               true, false, [](const C& c) { return json(c.noop.loss.key); },
               [](C& c, const YAML::Node& n) {
                 const std::string key = scalar(n, "a numeric trial key");
                 if (!key.empty())  // empty: none (what to_json writes for none)
                   if (const auto problem = numeric_key_problem(key))
                     throw FieldError(*problem, FieldError::Hint::lists_valid);
                 c.noop.loss.key = key;
               },
               std::nullopt});
  f.push_back(loss_field("noop.loss.center", &NoopLoss::center, {-1e9, 1e9},
                         "noop: where the synthetic loss is least"));
  f.push_back(loss_field("noop.loss.curvature", &NoopLoss::curvature, {0.0, 1e9},
                         "noop: the synthetic loss's curvature"));
  f.push_back(loss_field("noop.loss.floor", &NoopLoss::floor, {0.0, 1e6},
                         "noop: the synthetic loss at its center"));
  return f;
}

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] != b[j - 1] ? 1u : 0u)});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string key_text(const YAML::Node& key) {
  return key.IsScalar() ? key.Scalar() : "<complex key>";
}

std::string unknown_key_message(const std::string& path) {
  std::string message = "unknown key '" + path + "'";
  const auto near = similar_paths(path);
  if (!near.empty()) {
    message += "; did you mean ";
    for (size_t i = 0; i < near.size(); ++i) message += (i ? " or '" : "'") + near[i] + "'";
    message += "?";
  }
  return message;
}

void read_map(const YAML::Node& map, const std::string& prefix, const std::string& file,
              TrialConfig& config, const std::vector<std::string>& skip) {
  reject_duplicate_keys(map, file);
  for (const auto& kv : map) {
    const std::string key = key_text(kv.first);
    const std::string path = prefix.empty() ? key : prefix + "." + key;
    if (std::find(skip.begin(), skip.end(), path) != skip.end()) continue;
    if (find_field(path)) {
      apply_field(config, path, kv.second, file, kv.first.Mark());
    } else if (is_section(path)) {
      if (!kv.second.IsMap())
        throw SpecError(file, kv.second.Mark(),
                        "'" + path + "' must be a mapping of keys, got " + describe(kv.second));
      read_map(kv.second, path, file, config, skip);
    } else {
      throw SpecError(file, kv.first.Mark(), unknown_key_message(path));
    }
  }
}

}  // namespace

bool NumericRange::contains(double value) const {
  return (lo_open ? value > lo : value >= lo) && (hi_open ? value < hi : value <= hi);
}

std::string NumericRange::text() const {
  if (integer)
    return std::to_string(static_cast<long long>(lo)) + " to " +
           std::to_string(static_cast<long long>(hi));
  return std::string(lo_open ? "(" : "[") + format_number(lo) + ", " +
         (std::isinf(hi) ? std::string("inf") : format_number(hi)) + (hi_open ? ")" : "]");
}

const std::vector<Field>& trial_fields() {
  static const std::vector<Field> fields = make_fields();
  return fields;
}

const Field* find_field(std::string_view path) {
  for (const auto& field : trial_fields())
    if (field.path == path) return &field;
  return nullptr;
}

bool is_section(std::string_view path) {
  const std::string prefix = std::string(path) + ".";
  for (const auto& field : trial_fields())
    if (field.path.rfind(prefix, 0) == 0) return true;
  return false;
}

std::vector<std::string> similar_paths(std::string_view path) {
  std::vector<std::pair<size_t, std::string>> scored;
  const auto leaf_of = [](std::string_view p) {
    return p.substr(p.rfind('.') == std::string_view::npos ? 0 : p.rfind('.') + 1);
  };
  std::set<std::string> candidates;  // every field and every section
  for (const auto& field : trial_fields()) {
    candidates.insert(field.path);
    for (size_t dot = field.path.find('.'); dot != std::string::npos;
         dot = field.path.find('.', dot + 1))
      candidates.insert(field.path.substr(0, dot));
  }
  for (const auto& candidate : candidates) {
    const size_t d = std::min(edit_distance(path, candidate),
                              edit_distance(leaf_of(path), leaf_of(candidate)) + 1);
    if (d <= std::max<size_t>(2, path.size() / 4)) scored.emplace_back(d, candidate);
  }
  std::sort(scored.begin(), scored.end());
  std::vector<std::string> out;
  for (size_t i = 0; i < scored.size() && i < 3; ++i) out.push_back(scored[i].second);
  return out;
}

void reject_duplicate_keys(const YAML::Node& map, const std::string& file) {
  if (!map.IsMap()) return;
  std::set<std::string> seen;
  for (const auto& kv : map) {
    const std::string key = key_text(kv.first);
    if (!seen.insert(key).second)
      throw SpecError(file, kv.first.Mark(),
                      "duplicate key '" + key + "'; each key may appear once per mapping");
  }
}

void apply_field(TrialConfig& config, const std::string& path, const YAML::Node& value,
                 const std::string& file, const YAML::Mark& key_mark) {
  const Field* field = find_field(path);
  if (!field) throw SpecError(file, key_mark, unknown_key_message(path));
  if (!field->accepts_map && !value.IsScalar())
    throw SpecError(
        file, value.Mark().is_null() ? key_mark : value.Mark(),
        path + ": expected a single value, got " + describe(value) + " (" + field->doc + ")");
  try {
    field->set(config, value);
  } catch (const FieldError& e) {
    throw SpecError(file, value.Mark().is_null() ? key_mark : value.Mark(),
                    path + ": " + e.what() + (e.lists_valid() ? "" : " (" + field->doc + ")"));
  }
}

void read_trial_keys(const YAML::Node& root, const std::string& file, TrialConfig& config,
                     const std::vector<std::string>& skip) {
  if (!root.IsMap())
    throw SpecError(file, root.Mark(),
                    "expected a mapping of keys at the top level, got " + describe(root));
  read_map(root, "", file, config, skip);
}

}  // namespace locsweep
