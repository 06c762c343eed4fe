// One trial in named steps (train_and_evaluate reads top to bottom like llm.c's
// train_gpt2.c main): check the output folder, load the data, build the model, resume,
// claim the folder, the training loop (Training: steps, periodic evaluations and
// checkpoints), the final evaluation with attention metrics (evaluate_final), the files it
// leaves (write_artifacts), the result. An attempt asked to stop at a rung
// (execution.stop_at_step) ends after the loop instead: checkpointed and validated at that
// step, outcome rung (rung_result), and a later attempt resumes from there.
#include "worker/trial.hpp"

#include <ATen/CPUGeneratorImpl.h>

#include <chrono>
#include <cmath>
#include <deque>
#include <numeric>
#include <optional>

#include "common/disk_space.hpp"
#include "common/error.hpp"
#include "common/files.hpp"
#include "data/corpus.hpp"
#include "data/init_weights.hpp"
#include "data/tokenizer.hpp"
#include "sweeps/content_identity.hpp"
#include "trial/child_protocol.hpp"
#include "worker/adamw.hpp"
#include "worker/attention_file.hpp"
#include "worker/batches.hpp"
#include "worker/blocks.hpp"
#include "worker/checkpoint.hpp"
#include "worker/metrics.hpp"
#include "worker/model.hpp"
#include "worker/model_io.hpp"

namespace locsweep {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

constexpr size_t kRecentLosses = 50;  // the reported train loss is their mean

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// The step this attempt trains to: execution.stop_at_step when it stops there early (an
// early-stopping rung, search/asha.hpp), else train.steps.
int64_t attempt_end_step(const TrialConfig& c) {
  const int stop = c.execution.stop_at_step;
  return stop > 0 && stop < c.train.steps ? stop : c.train.steps;
}

// Warm-up from lr/warmup to lr, then cosine decay to min_lr at the last step (SPEC.md).
double learning_rate(const TrainConfig& t, int64_t step) {
  if (step < t.warmup_steps) return t.lr * static_cast<double>(step + 1) / t.warmup_steps;
  const int64_t decay_steps = std::max<int64_t>(1, t.steps - t.warmup_steps);
  const double progress = std::min(1.0, static_cast<double>(step - t.warmup_steps) / decay_steps);
  return t.min_lr + 0.5 * (1.0 + std::cos(M_PI * progress)) * (t.lr - t.min_lr);
}

torch::Device parse_device(const std::string& text) {
  try {
    torch::Device device(text);
    if (device.is_cuda() && !torch::cuda::is_available())
      throw InputError("device '" + text +
                       "' requested but no CUDA GPU is visible to this libtorch");
    return device;
  } catch (const c10::Error&) {
    throw InputError("unknown device '" + text + "' (valid: cpu, cuda, cuda:N)");
  }
}

std::string describe_device(const torch::Device& device) {
  if (device.is_cpu())
    return "cpu (" + std::to_string(at::get_num_threads()) + " thread" +
           (at::get_num_threads() == 1 ? "" : "s") + ")";
  return device.str();
}

at::Generator dropout_generator(const torch::Device& device, uint64_t seed) {
  if (device.is_cpu()) return at::make_generator<at::CPUGeneratorImpl>(seed);
  auto gen = at::globalContext().defaultGenerator(device);
  gen.set_current_seed(seed);
  return gen;
}

// Everything a trial reads before its first step.
struct TrialData {
  std::vector<int32_t> train, val;
  std::vector<uint8_t> ends_sentence;
  int64_t vocab_size = 0;
};

TrialData load_data(const TrialConfig& c) {
  const Tokenizer tokenizer = Tokenizer::from_spec(c.data.tokenizer, c.spec_dir);
  const std::string text = load_corpus_text(c.data.corpus, c.spec_dir);
  // What it reads must still be what the trial's identity was planned from.
  check_planned_inputs(c, text, tokenizer.id());
  TokenSplit split =
      split_tokens(tokenize_cached(text, tokenizer), c.data.val_fraction, c.model.block_size);
  TrialData data;
  data.train = std::move(split.train);
  data.val = std::move(split.val);
  data.vocab_size = tokenizer.vocab_size();
  if (c.model.vocab_size != 0 && c.model.vocab_size < data.vocab_size)
    throw InputError("model.vocab_size " + std::to_string(c.model.vocab_size) +
                     " is smaller than the tokenizer's " + std::to_string(data.vocab_size));
  data.ends_sentence =
      sentence_end_table(tokenizer.vocab_size(),
                         [&](int id) -> const std::string& { return tokenizer.token_bytes(id); });
  return data;
}

// Loss over windows (token-weighted), optionally accumulating attention metrics and
// keeping the attention of the first `keep_attention` windows.
struct Evaluation {
  double loss_sum = 0;
  int64_t tokens = 0;
  double mean() const { return tokens ? loss_sum / static_cast<double>(tokens) : 0.0; }
};

// Appends the first windows of one evaluated batch to `record`, up to `keep` windows in all.
void keep_attention(AttentionRecord& record, int64_t keep, const std::vector<Window>& group,
                    const torch::Tensor& x, const torch::Tensor& blocks,
                    const std::vector<torch::Tensor>& attention) {
  const int64_t take = std::min<int64_t>(keep - static_cast<int64_t>(record.starts.size()),
                                         static_cast<int64_t>(group.size()));
  if (take <= 0) return;
  auto cat = [](const torch::Tensor& all, const torch::Tensor& add) {
    return all.defined() ? torch::cat({all, add}) : add;
  };
  record.tokens = cat(record.tokens, x.narrow(0, 0, take));
  record.blocks = cat(record.blocks, blocks.narrow(0, 0, take).cpu());
  if (record.attention.empty()) record.attention.resize(attention.size());
  for (size_t l = 0; l < attention.size(); ++l)
    record.attention[l] =
        cat(record.attention[l], attention[l].narrow(0, 0, take).to(torch::kCPU, torch::kHalf));
  for (int64_t k = 0; k < take; ++k) record.starts.push_back(group[static_cast<size_t>(k)].start);
}

Evaluation evaluate(const Gpt2& model, const TrialConfig& c, const TrialData& data,
                    const Locality& loc, const std::vector<Window>& windows,
                    AttentionMetrics* metrics, AttentionRecord* record,
                    int64_t keep_attention_windows) {
  torch::NoGradGuard no_grad;
  Evaluation eval;
  const int64_t batch = std::max<int64_t>(c.train.batch_size, 8);
  const bool want_blocks = loc.needs_blocks() || metrics || record;
  for (size_t i = 0; i < windows.size();) {
    std::vector<Window> group;
    while (i < windows.size() && static_cast<int64_t>(group.size()) < batch &&
           (group.empty() || windows[i].length == group.front().length))
      group.push_back(windows[i++]);
    const Batch b = window_batch(data.val, group);
    torch::Tensor blocks;
    if (want_blocks)
      blocks = block_ids(b.x, c.locality.blocks, data.ends_sentence, model.token_embedding());
    ForwardOptions opts;
    opts.want_attention =
        metrics || (record && static_cast<int64_t>(record->starts.size()) < keep_attention_windows);
    const auto dev = model.device();
    const auto out = model.forward(b.x.to(dev), b.y.to(dev),
                                   blocks.defined() ? blocks.to(dev) : blocks, loc, opts);
    const auto n = b.y.numel();
    eval.loss_sum += out.loss.item<double>() * static_cast<double>(n);
    eval.tokens += n;
    if (metrics)
      for (size_t l = 0; l < out.attention.size(); ++l)
        metrics->add(static_cast<int64_t>(l), out.attention[l], blocks);
    if (record && opts.want_attention)
      keep_attention(*record, keep_attention_windows, group, b.x, blocks, out.attention);
  }
  return eval;
}

// LibTorch reports exhausted GPU memory as c10::OutOfMemoryError; 1.13's CPU allocator
// fails a CAFFE_ENFORCE (a plain c10::Error) whose message is the only sign.
bool is_out_of_memory(const c10::Error& e) {
  if (dynamic_cast<const c10::OutOfMemoryError*>(&e)) return true;
  const std::string_view what = e.what_without_backtrace();
  return what.find("DefaultCPUAllocator: not enough memory") != std::string_view::npos;
}

TrialResult failed(Outcome outcome, std::string message, int64_t steps, Clock::time_point start) {
  TrialResult r;
  r.outcome = outcome;
  r.message = std::move(message);
  r.steps_done = static_cast<int>(steps);
  r.seconds = seconds_since(start);
  return r;
}

void write_result(const fs::path& out_dir, const TrialResult& result) {
  write_file_atomic(out_dir / "result.json", to_json(result).dump(2) + "\n");
}

// What a failed write needs to be told apart (a full disk or not) and reported.
struct WriteState {
  uint64_t needed = 1 << 20;     // about what the next large write (a checkpoint) takes, bytes
  int64_t checkpoint_step = -1;  // step of the last complete checkpoint (-1: none yet)
  int64_t resumed_from = 0;
};

// What every step of a trial shares: its configuration, options, identity and paths.
struct TrialContext {
  const TrialConfig& c;
  TrialRunOptions options;  // out_dir absolute (artifact paths are recorded as given)
  ProgressSink& progress;
  torch::Device device;
  std::string hash, config_json;
  fs::path checkpoint_path;
  Clock::time_point start;
  WriteState& writes;
};

// Refuses to overwrite or to resume what is not there, as options.resume says.
void check_out_dir(const TrialContext& t) {
  fs::create_directories(t.options.out_dir);
  if (t.options.resume == TrialRunOptions::Resume::never && fs::exists(t.checkpoint_path))
    throw InputError("'" + t.options.out_dir.string() +
                     "' already holds a checkpoint; pass --resume to "
                     "continue it or choose another --out folder (nothing was overwritten)");
  if (t.options.resume == TrialRunOptions::Resume::required && !fs::exists(t.checkpoint_path))
    throw InputError("--resume: there is no checkpoint in '" + t.options.out_dir.string() + "'");
}

// The model with its initial weights: GPT-2 initialisation from the seed, then model.init.
// A staged sweep's trial (inputs.init "trial:<base hash>") arrives with model.init set by the
// coordinator to checkpoint:<its base's folder>/checkpoint.h5, so it loads like any checkpoint.
Gpt2 build_model(const TrialConfig& c, const TrialData& data, const torch::Device& device) {
  Gpt2 model(gpt_config_for(c, data.vocab_size), device);
  model.init_weights(static_cast<uint64_t>(c.seed));
  const std::string& init = c.model.init;
  if (init.rfind("hf:", 0) == 0) load_hf_safetensors(init_weights_file(init, c.spec_dir), model);
  if (init.rfind("checkpoint:", 0) == 0)
    load_model_from_checkpoint(init_weights_file(init, c.spec_dir), model);
  return model;
}

// The state to continue from: the checkpoint's when resuming (a damaged one is set aside,
// unless resuming is required), else step 0.
TrainingState resume(const TrialContext& t, Gpt2& model, AdamW& optimizer,
                     at::Generator& generator) {
  TrainingState state;
  if (t.options.resume == TrialRunOptions::Resume::never || !fs::exists(t.checkpoint_path))
    return state;
  try {
    state = load_checkpoint(t.checkpoint_path, t.hash, model, optimizer);
    if (state.rng_state.numel() > 0) generator.set_state(state.rng_state);
  } catch (const CorruptFileError& e) {
    if (t.options.resume == TrialRunOptions::Resume::required) throw;
    const fs::path aside =
        t.checkpoint_path.string() + ".corrupt-" + std::to_string(std::time(nullptr));
    fs::rename(t.checkpoint_path, aside);
    t.progress.event({{"event", "warning"},
                      {"message", std::string(e.what()) + "; set aside as " + aside.string() +
                                      ", starting from step 0"}});
    // Nothing was copied into the model: the fresh state stands.
  }
  return state;
}

// Only with the input checked (data, tokenizer, init weights, the checkpoint to resume) is the
// folder claimed: bad input leaves an existing trial.json (and result.json) as it was.
void claim_out_dir(const TrialContext& t) {
  write_file_atomic(
      t.options.out_dir / "trial.json",
      nlohmann::json{{"hash", t.hash}, {"label", trial_label(t.c)}, {"config", to_json(t.c)}}.dump(
          2) +
          "\n");
}

// The windows of periodic evaluations and metrics: the first eval.windows full ones.
std::vector<Window> probe_windows(const TrialConfig& c, const std::vector<Window>& all_val) {
  std::vector<Window> probe;
  for (const auto& w : all_val)
    if (w.length == c.model.block_size && static_cast<int>(probe.size()) < c.eval.windows)
      probe.push_back(w);
  return probe;
}

// The training loop from `state` to train.steps, with periodic evaluations and checkpoints.
class Training {
 public:
  Training(const TrialContext& t, const TrialData& data, Gpt2& model, const Locality& loc,
           const std::vector<Window>& probe_val)
      : t_(t),
        data_(data),
        model_(model),
        loc_(loc),
        probe_val_(probe_val),
        optimizer_(model.parameters(),
                   {t.c.train.beta1, t.c.train.beta2, 1e-8, t.c.train.weight_decay}),
        generator_(dropout_generator(t.device, static_cast<uint64_t>(t.c.seed) ^ 0x5eedd20b0u)) {}

  // Resumes (resume()), then records the state the trial starts from.
  void start() {
    state_ = resume(t_, model_, optimizer_, generator_);
    recent_.assign(state_.recent_loss.begin(), state_.recent_loss.end());
    resumed_from_ = state_.step;
  }

  // Runs the steps to attempt_end_step(); the result when the trial ends early (stopped:
  // preempted; a non-finite loss or gradient: nan), nullopt when every step ran. The last
  // step is always checkpointed (a rung's too, whatever checkpoint_every says).
  std::optional<TrialResult> run() {
    const auto train_start = Clock::now();
    const int64_t end = attempt_end_step(t_.c);
    while (state_.step < end) {
      if (t_.options.stop && t_.options.stop->load()) return preempted();
      if (auto ended = step()) return ended;
      if (t_.c.eval.every > 0 && state_.step % t_.c.eval.every == 0 &&
          state_.step < t_.c.train.steps && !probe_val_.empty())
        validate();
      if (state_.step % t_.c.execution.checkpoint_every == 0 || state_.step == end) save();
    }
    if (state_.step == 0 || !fs::exists(t_.checkpoint_path)) save();  // 0 steps, or resumed at end
    train_seconds_ = seconds_since(train_start);
    return std::nullopt;
  }

  // Whether the attempt stopped at a rung (execution.stop_at_step) short of train.steps. A
  // checkpoint already past the rung (an attempt that went further before) stops at its own
  // step: training never goes back.
  bool at_rung() const {
    return attempt_end_step(t_.c) < t_.c.train.steps && state_.step < t_.c.train.steps;
  }
  // The validation at the rung: the periodic one when it fell on this step, else measured
  // now (on the same windows) and reported as this step's periodic evaluation, so the DB's
  // step_metrics has it either way. Evaluating touches no training state (no gradient, no
  // dropout, neither the generator nor the optimiser), so the attempt that resumes from the
  // rung continues exactly as an uninterrupted run would.
  Evaluation rung_evaluation() {
    return last_validation_step_ == state_.step ? last_validation_ : validate();
  }

  int64_t steps_done() const { return state_.step; }
  int64_t resumed_from() const { return resumed_from_; }
  double train_loss() const {
    return recent_.empty() ? 0.0
                           : std::accumulate(recent_.begin(), recent_.end(), 0.0) / recent_.size();
  }
  double tokens_per_s() const {
    const int64_t tokens = t_.c.train.batch_size * t_.c.model.block_size;
    return state_.step > resumed_from_ ? (state_.step - resumed_from_) * tokens / train_seconds_
                                       : 0.0;
  }

 private:
  // One optimiser step; a result when the loss or the gradient is not finite.
  std::optional<TrialResult> step() {
    const auto step_start = Clock::now();
    const int64_t B = t_.c.train.batch_size, T = t_.c.model.block_size;
    const double lr = learning_rate(t_.c.train, state_.step);
    const Batch batch =
        training_batch(data_.train, B, T, static_cast<uint64_t>(t_.c.seed), state_.step);
    torch::Tensor blocks;
    if (loc_.needs_blocks())
      blocks =
          block_ids(batch.x, t_.c.locality.blocks, data_.ends_sentence, model_.token_embedding())
              .to(t_.device);
    ForwardOptions opts;
    opts.training = true;
    opts.dropout_generator = generator_;
    const auto out =
        model_.forward(batch.x.to(t_.device), batch.y.to(t_.device), blocks, loc_, opts);
    clear_grads(model_.parameters());
    (loc_.mechanism == Mechanism::penalty ? out.loss + out.penalty : out.loss).backward();
    const double loss = out.loss.item<double>();
    if (!std::isfinite(loss)) return non_finite("training loss", loss);
    const double grad_norm = global_grad_norm(model_.parameters());
    if (!std::isfinite(grad_norm)) return non_finite("gradient norm", grad_norm);
    optimizer_.step(lr, clip_factor(grad_norm, t_.c.train.grad_clip));
    ++state_.step;
    recent_.push_back(loss);
    if (recent_.size() > kRecentLosses) recent_.pop_front();

    const double step_s = seconds_since(step_start);
    rate_ = rate_ == 0 ? B * T / step_s : 0.9 * rate_ + 0.1 * B * T / step_s;
    const double eta = (attempt_end_step(t_.c) - state_.step) * B * T / rate_;
    nlohmann::json event = {{"event", "step"}, {"step", state_.step},   {"loss", loss},
                            {"lr", lr},        {"tokens_per_s", rate_}, {"eta_s", eta}};
    if (loc_.mechanism == Mechanism::penalty) event["penalty"] = out.penalty.item<double>();
    t_.progress.event(event);
    return std::nullopt;
  }

  // The periodic evaluation on the probe windows, reported as an eval event of this step.
  Evaluation validate() {
    last_validation_ = evaluate(model_, t_.c, data_, loc_, probe_val_, nullptr, nullptr, 0);
    last_validation_step_ = state_.step;
    t_.progress.event(
        {{"event", "eval"}, {"step", state_.step}, {"val_loss", last_validation_.mean()}});
    return last_validation_;
  }

  void save() {
    state_.rng_state = generator_.get_state();
    state_.recent_loss.assign(recent_.begin(), recent_.end());
    const auto info = save_checkpoint(t_.checkpoint_path, t_.hash, t_.config_json,
                                      at::get_num_threads(), model_, optimizer_, state_);
    t_.writes.checkpoint_step = state_.step;
    t_.writes.needed = std::max<uint64_t>(t_.writes.needed, static_cast<uint64_t>(info.bytes));
    t_.progress.event({{"event", "checkpoint"},
                       {"step", state_.step},
                       {"path", t_.checkpoint_path.string()},
                       {"bytes", info.bytes}});
  }

  TrialResult preempted() {
    save();
    TrialResult r = failed(Outcome::preempted,
                           "stopped by signal; checkpointed at step " + std::to_string(state_.step),
                           state_.step, t_.start);
    r.resumed_from = static_cast<int>(resumed_from_);
    return r;
  }

  // A non-finite loss, or a finite loss with a non-finite gradient: stop before it spreads.
  TrialResult non_finite(const std::string& what, double value) {
    TrialResult r = failed(
        Outcome::nan,
        what + " became " + std::to_string(value) + " at step " + std::to_string(state_.step + 1),
        state_.step, t_.start);
    r.resumed_from = static_cast<int>(resumed_from_);
    write_result(t_.options.out_dir, r);
    return r;
  }

  const TrialContext& t_;
  const TrialData& data_;
  Gpt2& model_;
  const Locality& loc_;
  const std::vector<Window>& probe_val_;
  AdamW optimizer_;
  at::Generator generator_;
  TrainingState state_;
  std::deque<double> recent_;
  int64_t resumed_from_ = 0;
  double rate_ = 0;  // tokens per second, smoothed
  double train_seconds_ = 0;
  Evaluation last_validation_;
  int64_t last_validation_step_ = -1;  // step of last_validation_ (-1: none in this attempt)
};

// The final evaluation: the loss over every validation window; metrics and the attention
// record (within record.attention_max_mb) on the probe windows.
struct FinalEvaluation {
  Evaluation full;
  std::vector<HeadMetrics> heads;
  AttentionRecord record;  // no windows when nothing is recorded
};

FinalEvaluation evaluate_final(const TrialContext& t, const TrialData& data, const Gpt2& model,
                               const Locality& loc, const std::vector<Window>& all_val,
                               const std::vector<Window>& probe_val) {
  const TrialConfig& c = t.c;
  FinalEvaluation out;
  out.full = evaluate(model, c, data, loc, all_val, nullptr, nullptr, 0);
  out.record.lambdas = loc.lambdas;
  const int64_t keep =
      attention_windows_within(c.record.attention_windows, c.model.n_layer, c.model.n_head,
                               c.model.block_size, c.record.attention_max_mb * 1e6);
  if (keep < c.record.attention_windows)
    t.progress.event({{"event", "warning"},
                      {"message", "attention record limited to " + std::to_string(keep) + " of " +
                                      std::to_string(c.record.attention_windows) +
                                      " windows by record.attention_max_mb"}});
  AttentionMetrics metrics(c.model.n_layer, c.model.n_head, loc.lambdas);
  (void)evaluate(model, c, data, loc, probe_val, &metrics, keep > 0 ? &out.record : nullptr, keep);
  out.heads = metrics.result();
  return out;
}

Artifact checkpoint_artifact(const TrialContext& t) {
  return {"checkpoint", t.checkpoint_path.string(),
          static_cast<int64_t>(fs::file_size(t.checkpoint_path)), file_sha256(t.checkpoint_path)};
}

// The files a finished trial leaves besides trial.json and result.json, as artifacts: the
// checkpoint, the attention record (if any windows were kept), the safetensors export.
std::vector<Artifact> write_artifacts(const TrialContext& t, const Gpt2& model,
                                      const AttentionRecord& record) {
  std::vector<Artifact> artifacts;
  artifacts.push_back(checkpoint_artifact(t));
  if (!record.starts.empty()) {
    const fs::path path = t.options.out_dir / "attention.h5";
    const auto info =
        write_attention_file(path, record,
                             {{"trial_hash", t.hash},
                              {"config", t.config_json},
                              {"mechanism", std::string(to_string(t.c.locality.mechanism))},
                              {"schedule", t.c.locality.schedule.canonical()}});
    artifacts.push_back({"attention", path.string(), info.bytes, info.sha256});
  }
  if (t.c.record.export_safetensors) {
    const fs::path st =
        export_hf_model(t.options.out_dir, model,
                        {{"trial_hash", t.hash},
                         {"locality",
                          {{"mechanism", std::string(to_string(t.c.locality.mechanism))},
                           {"schedule", t.c.locality.schedule.canonical()}}}});
    artifacts.push_back(
        {"safetensors", st.string(), static_cast<int64_t>(fs::file_size(st)), file_sha256(st)});
  }
  return artifacts;
}

// What an attempt that trained to its end (done or rung) reports, with `val` its validation.
TrialResult trained_result(const TrialContext& t, const Training& training, Outcome outcome,
                           const Evaluation& val) {
  TrialResult result;
  result.outcome = outcome;
  result.steps_done = static_cast<int>(training.steps_done());
  result.resumed_from = static_cast<int>(training.resumed_from());
  result.train_loss = training.train_loss();
  result.val_loss = val.mean();
  result.val_ppl = std::exp(val.mean());
  result.val_tokens = val.tokens;
  result.train_tokens_per_s = training.tokens_per_s();
  result.device = describe_device(t.device);
  return result;
}

// An attempt stopped at its rung: checkpointed there, its validation loss the rung's (what
// early stopping ranks it by). No final evaluation, no attention record, and no result.json:
// the trial is not finished.
TrialResult rung_result(const TrialContext& t, Training& training) {
  const Evaluation val = training.rung_evaluation();
  TrialResult result = trained_result(t, training, Outcome::rung, val);
  result.message = "stopped at step " + std::to_string(training.steps_done()) +
                   " (execution.stop_at_step " + std::to_string(t.c.execution.stop_at_step) +
                   "), checkpointed; a later attempt resumes from there";
  result.artifacts.push_back(checkpoint_artifact(t));
  result.seconds = seconds_since(t.start);
  return result;
}

TrialResult train_and_evaluate(const TrialConfig& c, const TrialRunOptions& options,
                               WriteState& writes) {
  NullProgress null_progress;
  TrialContext t{c,
                 options,
                 options.progress ? *options.progress : null_progress,
                 parse_device(options.device),
                 trial_hash(c),
                 to_json(c).dump(),
                 {},
                 Clock::now(),
                 writes};
  t.options.out_dir = fs::absolute(options.out_dir);
  t.checkpoint_path = trial_checkpoint_file(t.options.out_dir);
  if (options.threads > 0) at::set_num_threads(options.threads);
  check_out_dir(t);

  const TrialData data = load_data(c);
  Gpt2 model = build_model(c, data, t.device);
  const Locality loc = locality_for(c);
  const auto all_val =
      validation_windows(static_cast<int64_t>(data.val.size()), c.model.block_size);
  const auto probe_val = probe_windows(c, all_val);
  Training training(t, data, model, loc, probe_val);
  training.start();
  claim_out_dir(t);
  writes.resumed_from = training.resumed_from();
  if (fs::exists(t.checkpoint_path)) writes.checkpoint_step = training.resumed_from();
  // A checkpoint holds the parameters and AdamW's two moments (float32), and is written
  // beside the previous one before replacing it.
  writes.needed = static_cast<uint64_t>(model.num_parameters()) * 12 + (1 << 20);
  nlohmann::json start = {{"event", "start"},
                          {"attempt", options.attempt},
                          {"resumed_from", training.resumed_from()},
                          {"steps", c.train.steps},
                          {"device", describe_device(t.device)},
                          {"parameters", model.num_parameters()}};
  if (attempt_end_step(c) < c.train.steps) start["stop_at_step"] = attempt_end_step(c);
  t.progress.event(start);
  if (auto ended = training.run()) return *ended;
  if (training.at_rung()) return rung_result(t, training);

  const FinalEvaluation final_eval = evaluate_final(t, data, model, loc, all_val, probe_val);
  TrialResult result = trained_result(t, training, Outcome::done, final_eval.full);
  result.heads = final_eval.heads;
  result.artifacts = write_artifacts(t, model, final_eval.record);
  result.seconds = seconds_since(t.start);
  write_result(t.options.out_dir, result);
  return result;
}

}  // namespace

TrialResult run_trial(const TrialConfig& c, const TrialRunOptions& options) {
  const auto start = Clock::now();
  WriteState writes;
  try {
    if (c.kind == TrialKind::noop) return run_noop_trial(c, options);
    return train_and_evaluate(c, options, writes);
  } catch (const InputError&) {
    throw;
  } catch (const std::exception& e) {
    const int error_number = errno;
    if (const auto* torch_error = dynamic_cast<const c10::Error*>(&e)) {
      if (is_out_of_memory(*torch_error))
        return failed(Outcome::oom, torch_error->what_without_backtrace(),
                      std::max<int64_t>(writes.checkpoint_step, 0), start);
      throw Error(torch_error->what_without_backtrace());
    }
    // A full disk is not the trial's fault: the sweep pauses, the trial resumes later from
    // its last complete checkpoint (checkpoints are replaced atomically, so it is intact).
    if (options.out_dir.empty()) throw;
    const fs::path dir = fs::absolute(options.out_dir);
    if (!is_disk_full(dir, writes.needed, error_number)) throw;
    TrialResult r = failed(
        Outcome::disk_full,
        describe_disk_full(dir) + ": " + e.what() +
            (writes.checkpoint_step >= 0 ? "; the checkpoint of step " +
                                               std::to_string(writes.checkpoint_step) + " is intact"
                                         : std::string("; no checkpoint yet")),
        std::max<int64_t>(writes.checkpoint_step, 0), start);
    r.resumed_from = static_cast<int>(writes.resumed_from);
    return r;
  }
}

}  // namespace locsweep
