// HDF5 checkpoints (worker/checkpoint.hpp): a save/load round trip restores parameters,
// AdamW moments, step, dropout RNG state and recent losses bitwise; damaged files (truncated,
// a flipped byte inside a dataset, not HDF5, HDF5 but not a checkpoint) are CorruptFileError,
// a checkpoint of another trial or shape is InputError, and a failed load changes nothing.
#include <H5Cpp.h>
#include <gtest/gtest.h>

#include <ATen/CPUGeneratorImpl.h>

#include <string>
#include <vector>

#include "common/error.hpp"
#include "worker/checkpoint.hpp"
#include "worker_test_support.hpp"

namespace locsweep {
namespace {

namespace fs = std::filesystem;
using testing::bitwise_equal;

const std::string kHash = std::string(64, 'a');
const std::string kConfig = R"({"model":{"n_layer":2}})";

GptConfig tiny(int64_t n_embd = 16) {
  return {.n_layer = 2, .n_head = 2, .n_embd = n_embd, .block_size = 8, .vocab_size = 20};
}

// A model and optimiser that have taken a few steps, so the moments are not zero.
struct Trained {
  Gpt2 model;
  AdamW optimizer;
  TrainingState state;

  explicit Trained(uint64_t seed, int64_t n_embd = 16)
      : model(tiny(n_embd), torch::kCPU),
        optimizer((model.init_weights(seed), model.parameters()), AdamWOptions{}) {
    auto gen = at::make_generator<at::CPUGeneratorImpl>(seed + 1);
    for (int s = 0; s < 3; ++s) {
      const auto x = at::randint(20, {2, 8}, gen, torch::kInt64);
      const auto y = at::randint(20, {2, 8}, gen, torch::kInt64);
      clear_grads(model.parameters());
      model.forward(x, y, torch::Tensor(), Locality{}, {}).loss.backward();
      optimizer.step(1e-2);
    }
    auto rng = at::make_generator<at::CPUGeneratorImpl>(seed + 2);
    (void)at::normal(0.0, 1.0, {100}, rng);  // advance it: the state is not the seed's
    state.step = optimizer.step_count();
    state.rng_state = rng.get_state();
    state.recent_loss = {3.5 + static_cast<double>(seed), 3.25, 3.125};
  }
};

// Everything a load may modify, copied.
struct Snapshot {
  std::vector<torch::Tensor> params, m, v;
  int64_t step;

  Snapshot(const Gpt2& model, AdamW& optimizer) : step(optimizer.step_count()) {
    for (size_t i = 0; i < model.parameters().size(); ++i) {
      params.push_back(model.parameters()[i].tensor.detach().clone());
      m.push_back(optimizer.exp_avg()[i].clone());
      v.push_back(optimizer.exp_avg_sq()[i].clone());
    }
  }
  bool same_as(const Gpt2& model, AdamW& optimizer) const {
    if (optimizer.step_count() != step) return false;
    for (size_t i = 0; i < params.size(); ++i)
      if (!bitwise_equal(params[i], model.parameters()[i].tensor) ||
          !bitwise_equal(m[i], optimizer.exp_avg()[i]) ||
          !bitwise_equal(v[i], optimizer.exp_avg_sq()[i]))
        return false;
    return true;
  }
};

class Checkpoint : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_ / "checkpoint.h5";
    save_checkpoint(path_, kHash, kConfig, 1, saved_.model, saved_.optimizer, saved_.state);
  }

  // Expects loading `file` into a live model to throw E and to leave the live model alone.
  template <class E>
  void expect_rejected(const fs::path& file, const std::string& hash, const std::string& what) {
    Trained live(99);
    const Snapshot before(live.model, live.optimizer);
    try {
      load_checkpoint(file, hash, live.model, live.optimizer);
      ADD_FAILURE() << what << ": loaded without error";
    } catch (const E& e) {
      if constexpr (std::is_same_v<E, InputError>) {
        EXPECT_EQ(dynamic_cast<const CorruptFileError*>(&e), nullptr) << what;
      }
      EXPECT_NE(std::string(e.what()).find(file.string()), std::string::npos)
          << what << ": the message names the file: " << e.what();
    } catch (const std::exception& e) {
      ADD_FAILURE() << what << ": wrong exception type: " << e.what();
    }
    EXPECT_TRUE(before.same_as(live.model, live.optimizer)) << what << ": the live model changed";
    // load_model_from_checkpoint rejects it the same way (except a foreign trial hash, which it
    // accepts).
    if (hash == kHash) {
      EXPECT_THROW(load_model_from_checkpoint(file, live.model), E) << what;
      EXPECT_TRUE(before.same_as(live.model, live.optimizer)) << what;
    }
  }

  testing::TempDir dir_;
  fs::path path_;
  Trained saved_{1};
};

TEST_F(Checkpoint, RoundTripRestoresEverythingBitwise) {
  Trained fresh(2);
  ASSERT_FALSE(
      bitwise_equal(fresh.model.parameter("wte.weight"), saved_.model.parameter("wte.weight")));
  const TrainingState loaded = load_checkpoint(path_, kHash, fresh.model, fresh.optimizer);
  const Snapshot want(saved_.model, saved_.optimizer);
  EXPECT_TRUE(want.same_as(fresh.model, fresh.optimizer));
  EXPECT_EQ(loaded.step, saved_.state.step);
  EXPECT_EQ(fresh.optimizer.step_count(), saved_.state.step);
  EXPECT_TRUE(bitwise_equal(loaded.rng_state, saved_.state.rng_state));
  EXPECT_EQ(loaded.recent_loss, saved_.state.recent_loss);

  // The restored generator continues the original's stream.
  auto original = at::make_generator<at::CPUGeneratorImpl>(0);
  original.set_state(saved_.state.rng_state);
  auto restored = at::make_generator<at::CPUGeneratorImpl>(12345);
  restored.set_state(loaded.rng_state);
  EXPECT_TRUE(
      bitwise_equal(at::normal(0.0, 1.0, {64}, original), at::normal(0.0, 1.0, {64}, restored)));

  // Training on from either copy gives the same parameters.
  auto step_once = [](Trained& t) {
    const auto x = torch::arange(16, torch::kInt64).remainder(20).view({2, 8});
    clear_grads(t.model.parameters());
    t.model.forward(x, x, torch::Tensor(), Locality{}, {}).loss.backward();
    t.optimizer.step(1e-2);
  };
  step_once(saved_);
  step_once(fresh);
  EXPECT_TRUE(Snapshot(saved_.model, saved_.optimizer).same_as(fresh.model, fresh.optimizer));
}

TEST_F(Checkpoint, IsReadableWithTheDocumentedLayout) {
  H5::H5File file(path_.string(), H5F_ACC_RDONLY);
  for (const char* name :
       {"/model/wte.weight", "/model/h.1.mlp.c_proj.bias", "/optimizer/exp_avg/wte.weight",
        "/optimizer/exp_avg_sq/ln_f.weight", "/rng/dropout", "/train/recent_loss"})
    EXPECT_TRUE(file.nameExists(name)) << name;
  EXPECT_TRUE(file.openGroup("/").attrExists("checksum"));
  EXPECT_TRUE(file.openGroup("/").attrExists("trial_hash"));
  // Written atomically: no temporary file is left beside it.
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir_.path())) files += e.is_regular_file();
  EXPECT_EQ(files, 1);
}

TEST_F(Checkpoint, SavingAgainReplacesTheFile) {
  Trained other(3);
  save_checkpoint(path_, kHash, kConfig, 1, other.model, other.optimizer, other.state);
  Trained fresh(4);
  load_checkpoint(path_, kHash, fresh.model, fresh.optimizer);
  EXPECT_TRUE(Snapshot(other.model, other.optimizer).same_as(fresh.model, fresh.optimizer));
}

TEST_F(Checkpoint, TruncatedFilesAreCorrupt) {
  const std::string bytes = testing::read_bytes(path_);
  const size_t n = bytes.size();
  for (size_t keep : {size_t{0}, size_t{7}, size_t{600}, n / 4, n / 2, 3 * n / 4, n - 16, n - 1}) {
    const fs::path cut = dir_ / ("cut_" + std::to_string(keep) + ".h5");
    testing::write_text(cut, bytes.substr(0, keep));
    expect_rejected<CorruptFileError>(
        cut, kHash, "truncated to " + std::to_string(keep) + " of " + std::to_string(n));
  }
}

// Flips one byte inside a dataset's stored bytes: HDF5 opens and reads the file as if
// nothing happened, so only the checksum can catch it.
struct FlipCase {
  std::string dataset;  // HDF5 path of the dataset to damage
};

class CheckpointFlip : public Checkpoint, public ::testing::WithParamInterface<FlipCase> {};

TEST_P(CheckpointFlip, ChecksumCatchesAFlippedByteThatHdf5Misses) {
  const std::string& name = GetParam().dataset;
  torch::Tensor data;
  if (name.rfind("/model/", 0) == 0) data = saved_.model.parameter(name.substr(7)).detach();
  const std::string moment = "/optimizer/exp_avg_sq/";
  if (name.rfind(moment, 0) == 0) {
    for (size_t i = 0; i < saved_.model.parameters().size(); ++i)
      if (saved_.model.parameters()[i].name == name.substr(moment.size()))
        data = saved_.optimizer.exp_avg_sq()[i];
  }
  if (name == "/rng/dropout") data = saved_.state.rng_state;
  ASSERT_TRUE(data.defined()) << name;
  const auto c = data.contiguous();
  const std::string needle(static_cast<const char*>(c.data_ptr()), static_cast<size_t>(c.nbytes()));
  std::string bytes = testing::read_bytes(path_);
  const size_t at = bytes.find(needle);
  ASSERT_NE(at, std::string::npos) << "the dataset's bytes are stored contiguously";
  ASSERT_EQ(bytes.find(needle, at + 1), std::string::npos) << "and only once";
  bytes[at + needle.size() / 2] ^= 0x10;
  const fs::path damaged = dir_ / "flipped.h5";
  testing::write_text(damaged, bytes);

  {  // HDF5 itself sees nothing wrong: the dataset opens and reads, with the changed value.
    H5::H5File file(damaged.string(), H5F_ACC_RDONLY);
    H5::DataSet ds = file.openDataSet(name);
    std::vector<uint8_t> read(needle.size());
    ds.read(read.data(), ds.getDataType());
    EXPECT_NE(std::memcmp(read.data(), needle.data(), needle.size()), 0);
  }
  expect_rejected<CorruptFileError>(damaged, kHash, "byte flipped in " + name);
}

INSTANTIATE_TEST_SUITE_P(Datasets, CheckpointFlip,
                         ::testing::Values(FlipCase{"/model/wte.weight"},
                                           FlipCase{"/model/h.1.attn.c_attn.weight"},
                                           FlipCase{"/optimizer/exp_avg_sq/h.0.mlp.c_fc.weight"},
                                           FlipCase{"/rng/dropout"}),
                         [](const ::testing::TestParamInfo<FlipCase>& info) {
                           std::string n;
                           for (char ch : info.param.dataset)
                             n += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
                           return n;
                         });

TEST_F(Checkpoint, NonHdf5FileIsCorrupt) {
  const fs::path text = dir_ / "text.h5";
  testing::write_text(text, "this is not an HDF5 file\n");
  expect_rejected<CorruptFileError>(text, kHash, "a text file");
}

TEST_F(Checkpoint, Hdf5FileThatIsNotACheckpointIsCorrupt) {
  const fs::path other = dir_ / "other.h5";
  {
    H5::H5File file(other.string(), H5F_ACC_TRUNC);
    file.createGroup("/model");
  }
  expect_rejected<CorruptFileError>(other, kHash, "an HDF5 file without the checkpoint format");
}

TEST_F(Checkpoint, AnotherTrialIsAnInputError) {
  expect_rejected<InputError>(path_, std::string(64, 'b'), "another trial's checkpoint");
  // model.init: checkpoint:<file> takes the parameters of any trial of the same shape.
  Trained live(7);
  const Snapshot before(live.model, live.optimizer);
  load_model_from_checkpoint(path_, live.model);
  for (size_t i = 0; i < live.model.parameters().size(); ++i) {
    EXPECT_TRUE(
        bitwise_equal(live.model.parameters()[i].tensor, saved_.model.parameters()[i].tensor));
    EXPECT_TRUE(bitwise_equal(live.optimizer.exp_avg()[i], before.m[i]));  // moments untouched
  }
  EXPECT_EQ(live.optimizer.step_count(), before.step);
}

TEST_F(Checkpoint, AnotherModelShapeIsAnInputError) {
  Trained wide(5, 24);
  const fs::path wide_path = dir_ / "wide.h5";
  save_checkpoint(wide_path, kHash, kConfig, 1, wide.model, wide.optimizer, wide.state);
  expect_rejected<InputError>(wide_path, kHash, "a checkpoint of another width");
}

TEST_F(Checkpoint, MissingFileIsAnInputError) {
  Trained live(6);
  EXPECT_THROW(load_checkpoint(dir_ / "absent.h5", kHash, live.model, live.optimizer), InputError);
}

}  // namespace
}  // namespace locsweep
