#include "worker/checkpoint.hpp"

#include <ctime>
#include <map>

#include "trial/checkpoint_reader.hpp"
#include "trial/hdf5_io.hpp"

namespace locsweep {
namespace fs = std::filesystem;

namespace {

torch::Tensor to_cpu(const torch::Tensor& t) {
  return t.detach().to(torch::kCPU).contiguous();
}

// The datasets of a checkpoint, in the fixed order the checksum uses.
struct Entry {
  std::string path;    // "/model/wte.weight"
  torch::Tensor data;  // CPU, contiguous
};

std::string checksum(const std::vector<Entry>& entries, const std::string& config, int64_t step) {
  std::vector<std::pair<std::string, std::span<const std::byte>>> datasets;
  for (const auto& e : entries)
    datasets.emplace_back(
        e.path, std::span<const std::byte>(static_cast<const std::byte*>(e.data.data_ptr()),
                                           static_cast<size_t>(e.data.nbytes())));
  return checkpoint_checksum(config, step, datasets);
}

std::vector<Entry> entries_of(const Gpt2& model, AdamW& optimizer, const TrainingState& state) {
  std::vector<Entry> out;
  const auto& params = model.parameters();
  for (const auto& p : params) out.push_back({"/model/" + p.name, to_cpu(p.tensor)});
  for (size_t i = 0; i < params.size(); ++i)
    out.push_back({"/optimizer/exp_avg/" + params[i].name, to_cpu(optimizer.exp_avg()[i])});
  for (size_t i = 0; i < params.size(); ++i)
    out.push_back({"/optimizer/exp_avg_sq/" + params[i].name, to_cpu(optimizer.exp_avg_sq()[i])});
  out.push_back({"/rng/dropout", state.rng_state.defined() ? to_cpu(state.rng_state)
                                                           : torch::zeros({0}, torch::kUInt8)});
  out.push_back(
      {"/train/recent_loss", torch::tensor(state.recent_loss, torch::kFloat64)
                                 .reshape({static_cast<int64_t>(state.recent_loss.size())})});
  return out;
}

H5::PredType h5_type(torch::ScalarType t) {
  switch (t) {
    case torch::kFloat32:
      return H5::PredType::NATIVE_FLOAT;
    case torch::kFloat64:
      return H5::PredType::NATIVE_DOUBLE;
    case torch::kUInt8:
      return H5::PredType::NATIVE_UINT8;
    default:
      throw Error("checkpoint: unsupported tensor type");
  }
}

H5::Group group_for(H5::H5File& file, const std::string& path) {
  // Creates the intermediate groups of "/a/b/name" and returns /a/b.
  std::string current;
  H5::Group group = file.openGroup("/");
  size_t start = 1;
  for (size_t slash; (slash = path.find('/', start)) != std::string::npos; start = slash + 1) {
    current += "/" + path.substr(start, slash - start);
    group = file.nameExists(current) ? file.openGroup(current) : file.createGroup(current);
  }
  return group;
}

std::string leaf(const std::string& path) {
  return path.substr(path.rfind('/') + 1);
}

}  // namespace

CheckpointInfo save_checkpoint(const fs::path& path, const std::string& trial_hash,
                               const std::string& config_json, int threads, const Gpt2& model,
                               AdamW& optimizer, const TrainingState& state) {
  const auto entries = entries_of(model, optimizer, state);
  h5::write_atomic(path, "checkpoint", [&](H5::H5File& file) {
    H5::Group root = file.openGroup("/");
    h5::write_string_attr(root, "format", kCheckpointFormat);
    h5::write_int_attr(root, "version", kCheckpointVersion);
    h5::write_string_attr(root, "trial_hash", trial_hash);
    h5::write_string_attr(root, "config", config_json);
    h5::write_int_attr(root, "step", state.step);
    h5::write_int_attr(root, "threads", threads);
    h5::write_int_attr(root, "created_unix", static_cast<int64_t>(std::time(nullptr)));
    for (const auto& e : entries) {
      H5::Group group = group_for(file, e.path);
      std::vector<hsize_t> dims(e.data.sizes().begin(), e.data.sizes().end());
      h5::write_dataset(group, leaf(e.path), h5_type(e.data.scalar_type()), dims,
                        e.data.data_ptr());
    }
    h5::write_string_attr(root, "checksum", checksum(entries, config_json, state.step));
  });
  return {static_cast<int64_t>(fs::file_size(path))};
}

namespace {

struct Verified {
  std::vector<Entry> entries;  // in entries_of() order
  int64_t step = 0;
};

torch::ScalarType scalar_type(h5::Element e) {
  switch (e) {
    case h5::Element::float64:
      return torch::kFloat64;
    case h5::Element::uint8:
      return torch::kUInt8;
    default:
      return torch::kFloat32;
  }
}

// Reads and verifies the whole file (checkpoint_reader.hpp) into fresh CPU tensors; modifies
// nothing. An empty `trial_hash` accepts any trial (model.init).
Verified read_verified(const fs::path& path, const std::string& trial_hash, const Gpt2& model) {
  const auto layout = checkpoint_layout(model);
  Verified out;
  out.entries.resize(layout.size());
  const auto buffer = [&](size_t i, const std::vector<int64_t>& shape) {
    auto t = torch::empty(shape, torch::TensorOptions().dtype(scalar_type(layout[i].type)));
    out.entries[i] = {layout[i].path, t};
    return std::span<std::byte>(static_cast<std::byte*>(t.data_ptr()),
                                static_cast<size_t>(t.nbytes()));
  };
  out.step = read_checkpoint_file(path, trial_hash, layout, buffer).step;
  return out;
}

}  // namespace

std::vector<CheckpointDataset> checkpoint_layout(const Gpt2& model) {
  std::vector<CheckpointDataset> layout;
  for (const char* group : {"/model/", "/optimizer/exp_avg/", "/optimizer/exp_avg_sq/"})
    for (const auto& p : model.parameters())
      layout.push_back({group + p.name, h5::Element::float32, p.tensor.sizes().vec()});
  layout.push_back({"/rng/dropout", h5::Element::uint8, {}, true, kMaxRngStateBytes});
  layout.push_back({"/train/recent_loss", h5::Element::float64, {}, true, kMaxRecentLosses});
  return layout;
}

TrainingState load_checkpoint(const fs::path& path, const std::string& trial_hash, Gpt2& model,
                              AdamW& optimizer) {
  const Verified v = read_verified(path, trial_hash, model);
  // Verified: now copy into the live objects.
  torch::NoGradGuard no_grad;
  const auto& params = model.parameters();
  const size_t n = params.size();
  for (size_t i = 0; i < n; ++i) {
    params[i].tensor.copy_(v.entries[i].data);
    optimizer.exp_avg()[i].copy_(v.entries[n + i].data);
    optimizer.exp_avg_sq()[i].copy_(v.entries[2 * n + i].data);
  }
  optimizer.set_step_count(v.step);
  TrainingState state;
  state.step = v.step;
  state.rng_state = v.entries[3 * n].data;
  const auto& losses = v.entries[3 * n + 1].data;
  state.recent_loss.assign(losses.data_ptr<double>(), losses.data_ptr<double>() + losses.numel());
  return state;
}

void load_model_from_checkpoint(const fs::path& path, Gpt2& model) {
  const Verified v = read_verified(path, "", model);
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < model.parameters().size(); ++i)
    model.parameters()[i].tensor.copy_(v.entries[i].data);
}

}  // namespace locsweep
