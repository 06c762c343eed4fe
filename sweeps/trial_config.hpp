// One trial's configuration, as plain data (like nanoGPT's GPTConfig), plus what makes two
// configurations "the same trial": the canonical JSON and its hash.
//
// Sections mirror the YAML a user writes (see docs/sweep-spec.md):
//   kind, seed, model.*, data.*, train.*, locality.*  -> define the result; hashed
//   eval.*, record.*, execution.*                      -> how it is run and recorded; not hashed
//   noop.*                                             -> only for kind: noop (hashed)
#pragma once

#include <array>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "schedules/schedule.hpp"

namespace locsweep {

enum class TrialKind { gpt2, noop };
enum class Mechanism { none, window, block, mask, penalty };
// Every mechanism (none and the four of SPEC.md, "Mechanisms"), the one list of them: the
// parser, its error message, the key table of docs/sweep-spec.md and the benchmarks derive
// from it (and from to_string(Mechanism) for the names).
inline constexpr std::array<Mechanism, 5> kMechanisms = {
    Mechanism::none, Mechanism::window, Mechanism::block, Mechanism::mask, Mechanism::penalty};

// How a training window is cut into blocks B(i) (SPEC.md, "Blocks").
struct BlockSpec {
  enum class Kind { sentence, fixed, adaptive };
  Kind kind = Kind::sentence;
  int size = 0;                                   // fixed:N
  double tau = 0.0;                               // adaptive:tau
  static BlockSpec parse(std::string_view text);  // "sentence", "fixed:16", "adaptive:0.8"
  std::string canonical() const;
  friend bool operator==(const BlockSpec&, const BlockSpec&) = default;
};

struct ModelConfig {
  int n_layer = 6;
  int n_head = 4;
  int n_embd = 256;
  int block_size = 128;  // T, the training window
  int vocab_size = 0;    // 0: take it from the tokenizer
  double dropout = 0.0;
  // scratch | hf:<model.safetensors> | checkpoint:<file.h5> | base:<name> (a sweep's base)
  std::string init = "scratch";
};

struct DataConfig {
  std::string corpus = "moby-dick";  // a named corpus of the data cache, or a text file/folder
  std::string tokenizer = "gpt2";    // gpt2 | bytes | a folder with GPT-2 tokenizer files
  double val_fraction = 0.1;         // the last share of the token stream
};

struct TrainConfig {
  int steps = 200;
  int batch_size = 8;
  double lr = 6e-4;
  double min_lr = 6e-5;  // the floor of the cosine decay
  int warmup_steps = 20;
  double weight_decay = 0.1;  // on matrices only
  double beta1 = 0.9;
  double beta2 = 0.95;
  double grad_clip = 1.0;  // global norm; 0 turns clipping off
};

struct LocalityConfig {
  Mechanism mechanism = Mechanism::block;
  Schedule schedule = Schedule::uniform(0.0);
  BlockSpec blocks;
  double sigma = 4.0;  // window: distance scale in tokens
  double kappa = 8.0;  // block, mask: cross-block logit penalty
  double theta = 1.0;  // mask: layers with lambda >= theta are strictly masked
  double rho = 0.5;    // penalty: target in-block mass
  double gamma = 1.0;  // penalty: loss weight
};

struct EvalConfig {
  int every = 50;    // periodic validation every N steps (0: only at the end)
  int windows = 16;  // validation windows used by the periodic evaluation
};

struct RecordConfig {
  int attention_windows = 2;        // validation windows whose attention is stored
  double attention_max_mb = 64.0;   // upper bound on the attention file's raw size
  bool export_safetensors = false;  // also write model.safetensors with HF names
};

struct ExecutionConfig {
  double timeout_s = 0.0;     // hard limit per attempt; 0: none
  int max_retries = 2;        // attempts after the first that crashes/timeouts/OOMs may use
  int max_preemptions = 10;   // interruptions in a row a trial resumes from; one more fails it
  double kill_grace_s = 60;   // SIGTERM (checkpoint) to SIGKILL at a time limit or orphaning
  int checkpoint_every = 50;  // steps between checkpoints
  // Early stopping (search/asha.hpp): train only to this step, checkpoint and validate there,
  // and end the attempt with Outcome::rung; a later attempt resumes from that checkpoint.
  // 0 (or >= train.steps): none, train to train.steps.
  int stop_at_step = 0;
};

// noop.loss: a synthetic final validation loss, so searches are checked fast and exactly:
// floor + curvature * (v - center)^2, v the configuration's value of the numeric key `key`
// (sweeps/numeric_keys.hpp: beta of a polynomial schedule, 0 for a uniform one). Empty key:
// none (the trial reports no validation figures), and no noop.loss key is hashed.
struct NoopLoss {
  std::string key;
  double center = 0.0;
  double curvature = 1.0;
  double floor = 0.0;
};

// The no-op trial kind, for benchmarks and fault-containment tests: it sleeps, then succeeds
// or fails in the chosen way (crash, abort, hang, nan, oom, error).
struct NoopConfig {
  double duration_s = 0.0;
  std::string fail = "none";
  int fail_attempts = -1;  // fail only in the first N attempts; -1: always
  NoopLoss loss;
};

// What a trial reads, by content: filled in by the planner (not written by users, not read
// from YAML). When a digest is set, the canonical JSON hashes it instead of the key as
// written, so the same data under another path is the same trial and edited data is not.
//   corpus:    digest of the corpus text after joining ("sha256:<hex>")
//   tokenizer: the tokenizer's identity (files' digests + kGpt2EncodingVersion)
//   init:      "sha256:<hex>" of the weights file, or "trial:<hash>" of a base trial
struct InputDigests {
  std::string corpus;
  std::string tokenizer;
  std::string init;
  friend bool operator==(const InputDigests&, const InputDigests&) = default;
};

struct TrialConfig {
  TrialKind kind = TrialKind::gpt2;
  int seed = 0;
  ModelConfig model;
  DataConfig data;
  TrainConfig train;
  LocalityConfig locality;
  EvalConfig eval;
  RecordConfig record;
  ExecutionConfig execution;
  NoopConfig noop;
  std::string spec_dir;  // folder of the YAML it came from; relative paths resolve against it
  InputDigests inputs;   // content identity of what it reads; empty until the planner fills it
};

std::string_view to_string(TrialKind kind);
std::string_view to_string(Mechanism mechanism);
Mechanism mechanism_from_string(std::string_view text);     // throws InputError
std::vector<std::string> mechanism_names();                 // of kMechanisms, in order
std::string mechanism_choices(std::string_view separator);  // "none | window | ..."
TrialKind trial_kind_from_string(std::string_view text);    // throws InputError

// Why a configuration cannot run: a value, not an exception (common/error.hpp), because only
// the caller knows where in which file the key `path` was written; it throws the SpecError.
struct ConfigProblem {
  std::string path;     // the key to blame, "model.n_embd"
  std::string message;  // what is wrong with it
  std::string text() const { return path + ": " + message; }
};
// Cross-field checks (n_embd divisible by n_head, explicit schedule length, ...). Returns the
// first problem found, or nothing when the configuration is valid. `base_names`: the bases a
// sweep defines (sweeps/sweep_spec.hpp); model.init `base:<name>` is valid only for those.
std::optional<ConfigProblem> find_problem(const TrialConfig& config,
                                          const std::vector<std::string>& base_names = {});

// Every field, JSON-encoded (what a trial process receives and the DB stores), with
// "inputs" when the planner filled any of them (so the trial's hash is the planner's).
nlohmann::json to_json(const TrialConfig& config);
// Inverse of to_json(); missing keys keep their defaults, unknown keys throw InputError.
TrialConfig trial_config_from_json(const nlohmann::json& json);
// Only the execution block of a to_json(TrialConfig) (what a scheduler keeps per trial),
// without the full parse: absent keys keep ExecutionConfig{}'s defaults; a mistyped one
// throws InputError.
ExecutionConfig execution_config_from_json(const nlohmann::json& config);

// The fields that define the result, normalised: defaults filled in, numbers typed, the
// schedule canonical, parameters of other mechanisms dropped, and an all-zero schedule
// folded into plain attention (every mechanism is plain GPT-2 at lambda = 0).
nlohmann::json canonical_json(const TrialConfig& config);
// SHA-256 of canonical_json(config).dump(): a trial's identity.
std::string trial_hash(const TrialConfig& config);

// "block quintic seed=0": what a person calls this trial.
std::string trial_label(const TrialConfig& config);
// The same from an already computed canonical_json(config) (planning computes it once).
std::string trial_label_from_canonical(const nlohmann::json& canonical);
// The vocabulary a trial's model has: model.vocab_size, else the named tokenizer's (0 for a
// tokenizer folder: known once it is read). What canonical_json records as model.vocab_size.
int model_vocab_size(const TrialConfig& config);
// A relative cost estimate (FLOPs, or seconds for noop), for longest-first ordering.
double estimated_cost(const TrialConfig& config);

// A done noop trial's synthetic val_loss (NoopLoss); nothing without noop.loss.key.
std::optional<double> noop_synthetic_loss(const TrialConfig& config);

}  // namespace locsweep
