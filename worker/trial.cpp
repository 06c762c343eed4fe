// The training loop of one trial, top to bottom (like llm.c's train_gpt2.c main): data,
// model, optimiser, resume, steps with periodic evaluation and checkpoints, final
// evaluation with attention metrics, attention record, result.
#include "worker/trial.hpp"

#include <ATen/CPUGeneratorImpl.h>

#include <chrono>
#include <cmath>
#include <deque>
#include <numeric>

#include "common/disk_space.hpp"
#include "common/error.hpp"
#include "common/files.hpp"
#include "data/corpus.hpp"
#include "data/tokenizer.hpp"
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

Evaluation evaluate(const Gpt2& model, const TrialConfig& c, const TrialData& data,
                    const Locality& loc, const std::vector<Window>& windows,
                    AttentionMetrics* metrics, AttentionRecord* record, int64_t keep_attention) {
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
        metrics || (record && static_cast<int64_t>(record->starts.size()) < keep_attention);
    const auto dev = model.device();
    const auto out = model.forward(b.x.to(dev), b.y.to(dev),
                                   blocks.defined() ? blocks.to(dev) : blocks, loc, opts);
    const auto n = b.y.numel();
    eval.loss_sum += out.loss.item<double>() * static_cast<double>(n);
    eval.tokens += n;
    if (metrics)
      for (size_t l = 0; l < out.attention.size(); ++l)
        metrics->add(static_cast<int64_t>(l), out.attention[l], blocks);
    if (record && opts.want_attention) {
      const int64_t take =
          std::min<int64_t>(keep_attention - static_cast<int64_t>(record->starts.size()),
                            static_cast<int64_t>(group.size()));
      if (take > 0) {
        auto cat = [&](const torch::Tensor& all, const torch::Tensor& add) {
          return all.defined() ? torch::cat({all, add}) : add;
        };
        record->tokens = cat(record->tokens, b.x.narrow(0, 0, take));
        record->blocks = cat(record->blocks, blocks.narrow(0, 0, take).cpu());
        if (record->attention.empty()) record->attention.resize(out.attention.size());
        for (size_t l = 0; l < out.attention.size(); ++l)
          record->attention[l] =
              cat(record->attention[l],
                  out.attention[l].narrow(0, 0, take).to(torch::kCPU, torch::kHalf));
        for (int64_t k = 0; k < take; ++k)
          record->starts.push_back(group[static_cast<size_t>(k)].start);
      }
    }
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

TrialResult train_and_evaluate(const TrialConfig& c, const TrialRunOptions& options_in,
                               WriteState& writes) {
  TrialRunOptions options = options_in;
  options.out_dir = fs::absolute(options.out_dir);  // artifact paths are recorded as given
  const auto start = Clock::now();
  NullProgress null_progress;
  ProgressSink& progress = options.progress ? *options.progress : null_progress;
  if (options.threads > 0) at::set_num_threads(options.threads);
  const torch::Device device = parse_device(options.device);
  const std::string hash = trial_hash(c);
  const std::string config_json = to_json(c).dump();

  fs::create_directories(options.out_dir);
  const fs::path checkpoint_path = options.out_dir / "checkpoint.h5";
  if (options.resume == TrialRunOptions::Resume::never && fs::exists(checkpoint_path))
    throw InputError("'" + options.out_dir.string() +
                     "' already holds a checkpoint; pass --resume to "
                     "continue it or choose another --out folder (nothing was overwritten)");
  if (options.resume == TrialRunOptions::Resume::required && !fs::exists(checkpoint_path))
    throw InputError("--resume: there is no checkpoint in '" + options.out_dir.string() + "'");

  const TrialData data = load_data(c);
  Gpt2 model(gpt_config_for(c, data.vocab_size), device);
  model.init_weights(static_cast<uint64_t>(c.seed));
  const std::string& init = c.model.init;
  if (init.rfind("hf:", 0) == 0)
    load_hf_safetensors(resolve_path(init.substr(3), c.spec_dir), model);
  if (init.rfind("checkpoint:", 0) == 0)
    load_model_from_checkpoint(resolve_path(init.substr(11), c.spec_dir), model);
  AdamW optimizer(model.parameters(), {c.train.beta1, c.train.beta2, 1e-8, c.train.weight_decay});
  at::Generator generator = dropout_generator(device, static_cast<uint64_t>(c.seed) ^ 0x5eedd20b0u);
  const Locality loc = locality_for(c);

  TrainingState state;
  if (options.resume != TrialRunOptions::Resume::never && fs::exists(checkpoint_path)) {
    try {
      state = load_checkpoint(checkpoint_path, hash, model, optimizer);
      if (state.rng_state.numel() > 0) generator.set_state(state.rng_state);
    } catch (const CorruptFileError& e) {
      if (options.resume == TrialRunOptions::Resume::required) throw;
      const fs::path aside =
          checkpoint_path.string() + ".corrupt-" + std::to_string(std::time(nullptr));
      fs::rename(checkpoint_path, aside);
      progress.event({{"event", "warning"},
                      {"message", std::string(e.what()) + "; set aside as " + aside.string() +
                                      ", starting from step 0"}});
      // Re-create the fresh state the damaged file might have half-replaced: nothing was copied.
    }
  }
  // Only now, with the input checked (data, tokenizer, init weights, the checkpoint to resume),
  // is the folder claimed: bad input leaves an existing trial.json (and result.json) as it was.
  write_file_atomic(
      options.out_dir / "trial.json",
      nlohmann::json{{"hash", hash}, {"label", trial_label(c)}, {"config", to_json(c)}}.dump(2) +
          "\n");
  const int64_t resumed_from = state.step;
  writes.resumed_from = resumed_from;
  if (fs::exists(checkpoint_path)) writes.checkpoint_step = resumed_from;
  // A checkpoint holds the parameters and AdamW's two moments (float32), and is written
  // beside the previous one before replacing it.
  writes.needed = static_cast<uint64_t>(model.num_parameters()) * 12 + (1 << 20);
  progress.event({{"event", "start"},
                  {"attempt", options.attempt},
                  {"resumed_from", resumed_from},
                  {"steps", c.train.steps},
                  {"device", describe_device(device)},
                  {"parameters", model.num_parameters()}});

  std::deque<double> recent(state.recent_loss.begin(), state.recent_loss.end());
  auto save = [&]() {
    state.rng_state = generator.get_state();
    state.recent_loss.assign(recent.begin(), recent.end());
    const auto info = save_checkpoint(checkpoint_path, hash, config_json, at::get_num_threads(),
                                      model, optimizer, state);
    writes.checkpoint_step = state.step;
    writes.needed = std::max<uint64_t>(writes.needed, static_cast<uint64_t>(info.bytes));
    progress.event({{"event", "checkpoint"},
                    {"step", state.step},
                    {"path", checkpoint_path.string()},
                    {"bytes", info.bytes}});
    return info;
  };

  const int64_t B = c.train.batch_size, T = c.model.block_size;
  const auto all_val = validation_windows(static_cast<int64_t>(data.val.size()), T);
  std::vector<Window> probe_val;  // the windows of periodic evaluations and metrics
  for (const auto& w : all_val)
    if (w.length == T && static_cast<int>(probe_val.size()) < c.eval.windows)
      probe_val.push_back(w);

  // A non-finite loss, or a finite loss with a non-finite gradient: stop before it spreads.
  auto non_finite = [&](const std::string& what, double value) {
    TrialResult r = failed(
        Outcome::nan,
        what + " became " + std::to_string(value) + " at step " + std::to_string(state.step + 1),
        state.step, start);
    r.resumed_from = static_cast<int>(resumed_from);
    write_result(options.out_dir, r);
    return r;
  };
  const auto train_start = Clock::now();
  double tokens_per_s = 0;
  while (state.step < c.train.steps) {
    if (options.stop && options.stop->load()) {
      save();
      TrialResult r =
          failed(Outcome::preempted,
                 "stopped by signal; checkpointed at step " + std::to_string(state.step),
                 state.step, start);
      r.resumed_from = static_cast<int>(resumed_from);
      return r;
    }
    const auto step_start = Clock::now();
    const double lr = learning_rate(c.train, state.step);
    const Batch batch = training_batch(data.train, B, T, static_cast<uint64_t>(c.seed), state.step);
    torch::Tensor blocks;
    if (loc.needs_blocks())
      blocks = block_ids(batch.x, c.locality.blocks, data.ends_sentence, model.token_embedding())
                   .to(device);
    ForwardOptions opts;
    opts.training = true;
    opts.dropout_generator = generator;
    const auto out = model.forward(batch.x.to(device), batch.y.to(device), blocks, loc, opts);
    clear_grads(model.parameters());
    (loc.mechanism == Mechanism::penalty ? out.loss + out.penalty : out.loss).backward();
    const double loss = out.loss.item<double>();
    if (!std::isfinite(loss)) return non_finite("training loss", loss);
    const double grad_norm = global_grad_norm(model.parameters());
    if (!std::isfinite(grad_norm)) return non_finite("gradient norm", grad_norm);
    optimizer.step(lr, clip_factor(grad_norm, c.train.grad_clip));
    ++state.step;
    recent.push_back(loss);
    if (recent.size() > kRecentLosses) recent.pop_front();

    const double step_s = seconds_since(step_start);
    tokens_per_s = tokens_per_s == 0 ? B * T / step_s : 0.9 * tokens_per_s + 0.1 * B * T / step_s;
    const double eta = (c.train.steps - state.step) * B * T / tokens_per_s;
    nlohmann::json step_event = {{"event", "step"}, {"step", state.step},           {"loss", loss},
                                 {"lr", lr},        {"tokens_per_s", tokens_per_s}, {"eta_s", eta}};
    if (loc.mechanism == Mechanism::penalty) step_event["penalty"] = out.penalty.item<double>();
    progress.event(step_event);

    if (c.eval.every > 0 && state.step % c.eval.every == 0 && state.step < c.train.steps &&
        !probe_val.empty()) {
      const auto e = evaluate(model, c, data, loc, probe_val, nullptr, nullptr, 0);
      progress.event({{"event", "eval"}, {"step", state.step}, {"val_loss", e.mean()}});
    }
    if (state.step % c.execution.checkpoint_every == 0 || state.step == c.train.steps) save();
  }
  if (state.step == 0 || !fs::exists(checkpoint_path)) save();  // steps: 0, or resumed at the end
  const double train_seconds = seconds_since(train_start);

  // Final evaluation: loss over every validation token; metrics and attention on the probes.
  AttentionMetrics metrics(c.model.n_layer, c.model.n_head, loc.lambdas);
  const auto full = evaluate(model, c, data, loc, all_val, nullptr, nullptr, 0);
  AttentionRecord record;
  record.lambdas = loc.lambdas;
  const int64_t keep = attention_windows_within(c.record.attention_windows, c.model.n_layer,
                                                c.model.n_head, T, c.record.attention_max_mb * 1e6);
  if (keep < c.record.attention_windows)
    progress.event({{"event", "warning"},
                    {"message", "attention record limited to " + std::to_string(keep) + " of " +
                                    std::to_string(c.record.attention_windows) +
                                    " windows by record.attention_max_mb"}});
  (void)evaluate(model, c, data, loc, probe_val, &metrics, keep > 0 ? &record : nullptr, keep);

  TrialResult result;
  result.outcome = Outcome::done;
  result.steps_done = static_cast<int>(state.step);
  result.resumed_from = static_cast<int>(resumed_from);
  result.train_loss =
      recent.empty() ? 0.0 : std::accumulate(recent.begin(), recent.end(), 0.0) / recent.size();
  result.val_loss = full.mean();
  result.val_ppl = std::exp(full.mean());
  result.val_tokens = full.tokens;
  result.train_tokens_per_s =
      state.step > resumed_from ? (state.step - resumed_from) * B * T / train_seconds : 0.0;
  result.device = describe_device(device);
  result.heads = metrics.result();
  result.artifacts.push_back({"checkpoint", checkpoint_path.string(),
                              static_cast<int64_t>(fs::file_size(checkpoint_path)),
                              file_sha256(checkpoint_path)});
  if (!record.starts.empty()) {
    const auto info =
        write_attention_file(options.out_dir / "attention.h5", record,
                             {{"trial_hash", hash},
                              {"config", config_json},
                              {"mechanism", std::string(to_string(c.locality.mechanism))},
                              {"schedule", c.locality.schedule.canonical()}});
    result.artifacts.push_back(
        {"attention", (options.out_dir / "attention.h5").string(), info.bytes, info.sha256});
  }
  if (c.record.export_safetensors) {
    const fs::path st = options.out_dir / "model.safetensors";
    export_hf_safetensors(st, model);
    result.artifacts.push_back(
        {"safetensors", st.string(), static_cast<int64_t>(fs::file_size(st)), file_sha256(st)});
  }
  result.seconds = seconds_since(start);
  write_result(options.out_dir, result);
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
