// Training checkpoints: parameters and optimizer state after real optimizer steps restore bit
// for bit, and the next step from the restored state equals the next step from the original;
// the exact metadata keys and values; weights-only files (as PyTorch writes them) load; every
// refusal (another model, shape, dtype, missing or extra tensor, another optimizer, changed
// hyperparameters, reserved names, bad metadata) says what is wrong and changes nothing.
#include "engine/checkpoint/checkpoint.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "engine/optim/adam.hpp"
#include "engine/optim/sgd.hpp"
#include "tests/support/random.hpp"
#include "tests/support/scratch_dir.hpp"

namespace kestrel {
namespace {

using checkpoint::CheckpointState;
using checkpoint::load_checkpoint;
using checkpoint::LoadedCheckpoint;
using checkpoint::NamedTensors;
using checkpoint::restore_optimizer;
using checkpoint::restore_parameters;
using checkpoint::save_checkpoint;

// A model as kestrel holds one: every parameter a view into one flat f32 buffer.
struct Model {
  Tensor flat;
  NamedTensors params;
};

using Layout = std::vector<std::pair<std::string, Shape>>;

const Layout kLenetLike = {{"conv1.weight", Shape{6, 1, 5, 5}},
                           {"conv1.bias", Shape{6}},
                           {"fc1.weight", Shape{10, 24}},
                           {"fc1.bias", Shape{10}}};  // 406 parameters

Model make_model(const Layout& layout, std::mt19937_64& gen) {
  int64_t total = 0;
  for (const auto& [name, shape] : layout) total += shape.numel();
  Model m{test::random_tensor(Shape{total}, gen), {}};
  int64_t offset = 0;
  for (const auto& [name, shape] : layout) {
    m.params.emplace_back(name, m.flat.sub(offset, shape));
    offset += shape.numel();
  }
  return m;
}

bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.nbytes() == b.nbytes() &&
         (a.nbytes() == 0 || std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()) == 0);
}

std::string bytes_of(const Tensor& t) {
  return std::string(static_cast<const char*>(t.raw_data()), t.nbytes());
}

template <class Fn>
::testing::AssertionResult throws_error(Fn&& fn, const std::string& expected) {
  try {
    fn();
  } catch (const Error& e) {
    if (e.message().find(expected) != std::string::npos) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << "message \"" << e.message() << "\" lacks \"" << expected << "\"";
  }
  return ::testing::AssertionFailure() << "no kestrel::Error (expected \"" << expected << "\")";
}

CheckpointState lenet_state() {
  CheckpointState s;
  s.model = "lenet5";
  s.dataset = "mnist";
  s.epoch = 2;
  s.step = 3;
  s.seed = 18446744073709551557ull;  // the largest 64-bit prime: all 64 bits survive
  s.rng_position = 123456789;
  s.config = R"({"model": "lenet5", "epochs": 10, "lr": 0.001})";
  s.kestrel_version = "0.1.0";
  s.kestrel_commit = "d487ceb";
  s.extra = {{"note", "hello"}};
  return s;
}

// ---- round trips after real steps ---------------------------------------------------------

struct OptimizerCase {
  std::string name;
  std::function<std::unique_ptr<optim::Optimizer>()> make;
};

class CheckpointRoundTrip : public ::testing::TestWithParam<OptimizerCase> {};

TEST_P(CheckpointRoundTrip, RestoresBitExactlyAndTheNextStepAgrees) {
  test::ScratchDir dir;
  std::mt19937_64 gen(test::test_seed());
  Context ctx;
  Model original = make_model(kLenetLike, gen);
  auto opt = GetParam().make();
  for (int s = 0; s < 3; ++s) opt->step(ctx, original.flat, test::random_tensor(Shape{406}, gen));
  opt->set_lr(opt->lr() * 0.37f);  // as a scheduler would between steps

  const std::string path = dir.file("ckpt.safetensors");
  save_checkpoint(path, original.params, opt.get(), lenet_state());
  const LoadedCheckpoint loaded = load_checkpoint(path);
  EXPECT_TRUE(loaded.has_kestrel_metadata);
  EXPECT_EQ(loaded.state.optimizer, opt->name());
  EXPECT_EQ(loaded.state.optimizer_steps, 3);

  Model restored = make_model(kLenetLike, gen);  // other values, overwritten by the restore
  auto opt2 = GetParam().make();
  restore_parameters(loaded, restored.params, "lenet5");
  restore_optimizer(loaded, *opt2, restored.flat);

  EXPECT_TRUE(same_bytes(restored.flat, original.flat));
  EXPECT_EQ(opt2->step_count(), 3);
  EXPECT_EQ(opt2->lr(), opt->lr());
  const auto state = opt->state(), state2 = opt2->state();
  ASSERT_EQ(state2.size(), state.size());
  for (size_t i = 0; i < state.size(); ++i) {
    EXPECT_EQ(state2[i].first, state[i].first);
    EXPECT_TRUE(same_bytes(state2[i].second, state[i].second)) << state[i].first;
  }

  const Tensor grads = test::random_tensor(Shape{406}, gen);
  opt->step(ctx, original.flat, grads);
  opt2->step(ctx, restored.flat, grads);
  EXPECT_TRUE(same_bytes(restored.flat, original.flat));
  for (size_t i = 0; i < state.size(); ++i)
    EXPECT_TRUE(same_bytes(opt2->state()[i].second, opt->state()[i].second)) << state[i].first;
}

optim::SgdOptions sgd_nesterov() {
  optim::SgdOptions o;
  o.lr = 0.05f, o.momentum = 0.9f, o.weight_decay = 1e-4f, o.nesterov = true;
  return o;
}

INSTANTIATE_TEST_SUITE_P(
    Optimizers, CheckpointRoundTrip,
    ::testing::Values(
        OptimizerCase{"Adam", [] { return std::make_unique<optim::Adam>(optim::AdamOptions{}); }},
        OptimizerCase{"AdamW",
                      [] { return std::make_unique<optim::Adam>(optim::AdamOptions::adamw()); }},
        OptimizerCase{"SgdNesterov", [] { return std::make_unique<optim::Sgd>(sgd_nesterov()); }},
        OptimizerCase{"SgdPlain",
                      [] { return std::make_unique<optim::Sgd>(optim::SgdOptions{}); }}),
    [](const auto& test_info) { return test_info.param.name; });

TEST(Checkpoint, RunStateRoundTrips) {
  test::ScratchDir dir;
  std::mt19937_64 gen(1);
  const Model m = make_model(kLenetLike, gen);
  save_checkpoint(dir.file("c.safetensors"), m.params, nullptr, lenet_state());
  const CheckpointState s = load_checkpoint(dir.file("c.safetensors")).state;
  const CheckpointState e = lenet_state();
  EXPECT_EQ(s.model, e.model);
  EXPECT_EQ(s.dataset, e.dataset);
  EXPECT_EQ(s.epoch, e.epoch);
  EXPECT_EQ(s.step, e.step);
  EXPECT_EQ(s.seed, e.seed);
  EXPECT_EQ(s.rng_position, e.rng_position);
  EXPECT_EQ(s.config, e.config);
  EXPECT_EQ(s.kestrel_version, e.kestrel_version);
  EXPECT_EQ(s.kestrel_commit, e.kestrel_commit);
  EXPECT_EQ(s.extra, e.extra);
  EXPECT_EQ(s.optimizer, "");  // saved without one
  EXPECT_EQ(s.optimizer_hparams, "");
}

// ---- the file itself ----------------------------------------------------------------------

TEST(Checkpoint, MetadataKeysAndTensorsAreExactlyThese) {
  test::ScratchDir dir;
  std::mt19937_64 gen(2);
  Context ctx;
  Model m = make_model(kLenetLike, gen);
  optim::Adam adam(optim::AdamOptions::adamw(1e-3f, 0.01f));
  adam.step(ctx, m.flat, test::random_tensor(Shape{406}, gen));
  const std::string path = dir.file("c.safetensors");
  save_checkpoint(path, m.params, &adam, lenet_state());

  const auto file = checkpoint::read_safetensors(path);
  const std::map<std::string, std::string> expected = {
      {"format", "pt"},
      {"kestrel.format_version", "1"},
      {"kestrel.version", "0.1.0"},
      {"kestrel.commit", "d487ceb"},
      {"model", "lenet5"},
      {"dataset", "mnist"},
      {"epoch", "2"},
      {"step", "3"},
      {"seed", "18446744073709551557"},
      {"rng_position", "123456789"},
      {"config", R"({"model": "lenet5", "epochs": 10, "lr": 0.001})"},
      {"optimizer", "adamw"},
      {"optimizer.steps", "1"},
      {"optimizer.hparams",
       R"({"lr": 0.001, "betas": [0.9, 0.999], "eps": 1e-08, "weight_decay": 0.01, "amsgrad": false})"},
      {"optimizer.param_offsets",
       R"({"conv1.weight":[0,150],"conv1.bias":[150,156],"fc1.weight":[156,396],"fc1.bias":[396,406]})"},
      {"note", "hello"},
  };
  EXPECT_EQ(file.metadata, expected);

  std::set<std::string> names;
  for (const auto& e : file.entries) names.insert(e.name);
  EXPECT_EQ(names, (std::set<std::string>{"conv1.weight", "conv1.bias", "fc1.weight", "fc1.bias",
                                          "optimizer.exp_avg", "optimizer.exp_avg_sq"}));
  EXPECT_EQ(file.find("conv1.weight")->shape, (Shape{6, 1, 5, 5}));
  EXPECT_EQ(file.find("optimizer.exp_avg")->shape, (Shape{406}));
  EXPECT_EQ(file.find("optimizer.exp_avg_sq")->dtype, DType::F32);
}

TEST(Checkpoint, SgdHyperparametersUseTorchNames) {
  optim::SgdOptions o;
  o.lr = 0.1f, o.momentum = 0.9f, o.dampening = 0.1f, o.weight_decay = 5e-4f, o.nesterov = false;
  EXPECT_EQ(
      checkpoint::optimizer_hparams_json(optim::Sgd(o)),
      R"({"lr": 0.1, "momentum": 0.9, "dampening": 0.1, "weight_decay": 0.0005, "nesterov": false})");
}

// How a PyTorch user finds a parameter's Adam moments: exp_avg[begin:end].view(shape). The
// buffer here is laid out in another order than the names are listed.
TEST(Checkpoint, ParamOffsetsSliceTheFlatStateAsPyTorchWould) {
  test::ScratchDir dir;
  std::mt19937_64 gen(3);
  Context ctx;
  Model m = make_model(kLenetLike, gen);
  std::reverse(m.params.begin(), m.params.end());
  optim::Adam adam(optim::AdamOptions{});
  for (int s = 0; s < 2; ++s) adam.step(ctx, m.flat, test::random_tensor(Shape{406}, gen));
  const std::string path = dir.file("c.safetensors");
  save_checkpoint(path, m.params, &adam, lenet_state());

  const auto file = checkpoint::read_safetensors(path);
  const auto offsets = nlohmann::json::parse(file.metadata.at("optimizer.param_offsets"));
  const std::vector<float> exp_avg = file.find("optimizer.exp_avg")->tensor.to_vector();
  const std::vector<float> live = adam.state()[0].second.to_vector();
  int64_t flat_offset = 0;
  for (const auto& [name, shape] : kLenetLike) {  // the true layout
    SCOPED_TRACE(name);
    const int64_t begin = offsets.at(name)[0].get<int64_t>(),
                  end = offsets.at(name)[1].get<int64_t>();
    EXPECT_EQ(begin, flat_offset);
    EXPECT_EQ(end - begin, shape.numel());
    EXPECT_EQ(
        std::vector<float>(exp_avg.begin() + begin, exp_avg.begin() + end),
        std::vector<float>(live.begin() + flat_offset, live.begin() + flat_offset + shape.numel()));
    flat_offset += shape.numel();
  }
}

TEST(Checkpoint, OptimizerBeforeItsFirstStep) {
  test::ScratchDir dir;
  std::mt19937_64 gen(4);
  Model m = make_model(kLenetLike, gen);
  optim::Adam adam(optim::AdamOptions{});
  const std::string path = dir.file("c.safetensors");
  save_checkpoint(path, m.params, &adam, lenet_state());
  const LoadedCheckpoint loaded = load_checkpoint(path);
  EXPECT_EQ(loaded.file.entries.size(), 4u);
  EXPECT_FALSE(loaded.file.metadata.contains("optimizer.param_offsets"));
  EXPECT_EQ(loaded.file.metadata.at("optimizer.steps"), "0");
  optim::Adam adam2(optim::AdamOptions{});
  restore_optimizer(loaded, adam2, m.flat);
  EXPECT_EQ(adam2.step_count(), 0);
  EXPECT_TRUE(adam2.state().empty());
}

// ---- weights only ------------------------------------------------------------------------

// What safetensors.torch.save_file(model.state_dict(), path) gives: the parameters under their
// names, no kestrel metadata.
TEST(Checkpoint, WeightsOnlyFileRestoresParameters) {
  test::ScratchDir dir;
  std::mt19937_64 gen(5);
  const Model source = make_model(kLenetLike, gen);
  const std::string path = dir.file("torch.safetensors");
  checkpoint::write_safetensors(path, source.params, {{"format", "pt"}});

  const LoadedCheckpoint loaded = load_checkpoint(path);
  EXPECT_FALSE(loaded.has_kestrel_metadata);
  EXPECT_EQ(loaded.state.model, "");
  EXPECT_EQ(loaded.state.extra, (std::map<std::string, std::string>{{"format", "pt"}}));
  Model target = make_model(kLenetLike, gen);
  restore_parameters(loaded, target.params, "lenet5");
  EXPECT_TRUE(same_bytes(target.flat, source.flat));

  optim::Adam adam(optim::AdamOptions{});
  EXPECT_TRUE(
      throws_error([&] { restore_optimizer(loaded, adam, target.flat); },
                   "checkpoint " + path + " holds no optimizer state (it has the weights only)"));
}

TEST(Checkpoint, SavedWithoutOptimizerHasNoOptimizerKeys) {
  test::ScratchDir dir;
  std::mt19937_64 gen(6);
  const Model m = make_model(kLenetLike, gen);
  const std::string path = dir.file("c.safetensors");
  save_checkpoint(path, m.params, nullptr, lenet_state());
  const LoadedCheckpoint loaded = load_checkpoint(path);
  for (const auto& [key, value] : loaded.file.metadata)
    EXPECT_FALSE(key.starts_with("optimizer")) << key;
  EXPECT_EQ(loaded.file.entries.size(), 4u);
  optim::Sgd sgd(optim::SgdOptions{});
  EXPECT_TRUE(
      throws_error([&] { restore_optimizer(loaded, sgd, m.flat); }, "holds no optimizer state"));
}

// ---- refusals on restore -------------------------------------------------------------------

class CheckpointRefusal : public ::testing::Test {
 protected:
  void SetUp() override {
    std::mt19937_64 gen(7);
    Context ctx;
    saved_ = make_model(kLenetLike, gen);
    adam_ = std::make_unique<optim::Adam>(optim::AdamOptions{});
    adam_->step(ctx, saved_.flat, test::random_tensor(Shape{406}, gen));
    path_ = dir_.file("ckpt.safetensors");
    save_checkpoint(path_, saved_.params, adam_.get(), lenet_state());
    loaded_ = load_checkpoint(path_);
  }

  // Restoring into a model of `layout` must fail with `expected` and change none of its values.
  void expect_refused(const Layout& layout, std::string_view model, const std::string& expected) {
    std::mt19937_64 gen(8);
    const Model live = make_model(layout, gen);
    const std::string before = bytes_of(live.flat);
    EXPECT_TRUE(throws_error([&] { restore_parameters(loaded_, live.params, model); }, expected));
    EXPECT_EQ(bytes_of(live.flat), before) << "a refused restore changed the parameters";
  }

  test::ScratchDir dir_;
  Model saved_;
  std::unique_ptr<optim::Adam> adam_;
  std::string path_;
  LoadedCheckpoint loaded_;
};

TEST_F(CheckpointRefusal, AnotherModel) {
  expect_refused(kLenetLike, "alexnet", "checkpoint " + path_ + " is for lenet5, not alexnet");
}

TEST_F(CheckpointRefusal, ShapeMismatch) {
  Layout layout = kLenetLike;
  layout[2].second = Shape{10, 20};
  expect_refused(layout, "lenet5",
                 "checkpoint " + path_ +
                     ": fc1.weight has shape [10, 24] in the checkpoint but [10, 20] in lenet5");
}

TEST_F(CheckpointRefusal, MissingTensor) {
  Layout layout = kLenetLike;
  layout.emplace_back("fc2.weight", Shape{3, 10});
  expect_refused(layout, "lenet5",
                 "checkpoint " + path_ + " does not match lenet5: missing fc2.weight (needed)");
}

TEST_F(CheckpointRefusal, TensorTheModelLacks) {
  Layout layout = kLenetLike;
  layout.pop_back();
  expect_refused(
      layout, "lenet5",
      "checkpoint " + path_ + " does not match lenet5: unexpected fc1.bias (not in the model)");
}

TEST_F(CheckpointRefusal, EveryMissingAndUnexpectedNameInOneLine) {
  // Another architecture's file: the line names them all (up to twelve of each, then a count).
  Layout layout = {{"conv1.weight", Shape{6, 1, 5, 5}}, {"conv1.bias", Shape{6}}};
  for (int i = 0; i < 14; ++i) layout.emplace_back(fmt::format("bn{}.running_mean", i), Shape{6});
  expect_refused(layout, "lenet5",
                 "checkpoint " + path_ +
                     " does not match lenet5: missing bn0.running_mean, bn1.running_mean, "
                     "bn2.running_mean, bn3.running_mean, bn4.running_mean, bn5.running_mean, "
                     "bn6.running_mean, bn7.running_mean, bn8.running_mean, bn9.running_mean, "
                     "bn10.running_mean, bn11.running_mean and 2 more (all needed); unexpected "
                     "fc1.bias, fc1.weight (not in the model)");
}

TEST(Checkpoint, BuffersSaveBesideTheParametersAndRestoreWithThem) {
  // Model state (f32 statistics, an i64 count) is saved as tensors of its own, outside the
  // optimizer's flat layout, and restored by name like the parameters.
  std::mt19937_64 gen(10);
  test::ScratchDir dir;
  Context ctx;
  Model m = make_model(kLenetLike, gen);
  optim::Adam adam(optim::AdamOptions{});
  adam.step(ctx, m.flat, test::random_tensor(Shape{406}, gen));
  Tensor mean = test::random_tensor(Shape{6}, gen);
  Tensor count = Tensor::zeros(Shape{}, DType::I64);
  count.data<int64_t>()[0] = 1234567890123;
  const std::string path = dir.file("buffers.safetensors");
  save_checkpoint(path, m.params, &adam, lenet_state(),
                  {{"bn1.running_mean", mean}, {"bn1.num_batches_tracked", count}});

  const LoadedCheckpoint loaded = load_checkpoint(path);
  const auto* saved_count = loaded.file.find("bn1.num_batches_tracked");
  ASSERT_NE(saved_count, nullptr);
  EXPECT_EQ(saved_count->dtype, DType::I64);
  EXPECT_EQ(saved_count->shape, Shape{});
  // The optimizer's map covers the parameters only.
  const auto offsets = nlohmann::json::parse(loaded.file.metadata.at("optimizer.param_offsets"));
  EXPECT_EQ(offsets.size(), 4u);

  Model live = make_model(kLenetLike, gen);
  Tensor live_mean = Tensor::zeros(Shape{6});
  Tensor live_count = Tensor::zeros(Shape{}, DType::I64);
  NamedTensors all = live.params;
  all.emplace_back("bn1.running_mean", live_mean);
  all.emplace_back("bn1.num_batches_tracked", live_count);
  restore_parameters(loaded, all, "lenet5");
  EXPECT_TRUE(same_bytes(live_mean, mean));
  EXPECT_EQ(live_count.data<int64_t>()[0], 1234567890123);
  EXPECT_TRUE(same_bytes(live.flat, m.flat));
  // Without the buffers the file does not match the model.
  EXPECT_TRUE(throws_error([&] { restore_parameters(loaded, live.params, "lenet5"); },
                           "unexpected bn1.num_batches_tracked, bn1.running_mean"));
  // A buffer may not reuse a parameter's name.
  EXPECT_TRUE(throws_error(
      [&] {
        save_checkpoint(path, m.params, &adam, lenet_state(), {{"fc1.bias", mean}});
      },
      "parameter name fc1.bias appears twice"));
}

TEST_F(CheckpointRefusal, WrongDtype) {
  NamedTensors tensors = saved_.params;
  tensors.back().second = Tensor::zeros(Shape{10}, DType::I32);
  const std::string path = dir_.file("ints.safetensors");
  checkpoint::write_safetensors(path, tensors, {});
  std::mt19937_64 gen(9);
  const Model live = make_model(kLenetLike, gen);
  const std::string before = bytes_of(live.flat);
  EXPECT_TRUE(
      throws_error([&] { restore_parameters(load_checkpoint(path), live.params, "lenet5"); },
                   "checkpoint " + path + ": fc1.bias is I32 in the checkpoint but F32 in lenet5"));
  EXPECT_EQ(bytes_of(live.flat), before);
}

TEST_F(CheckpointRefusal, AnotherOptimizer) {
  optim::Sgd sgd(optim::SgdOptions{});
  EXPECT_TRUE(throws_error([&] { restore_optimizer(loaded_, sgd, saved_.flat); },
                           "checkpoint " + path_ + ": the optimizer state is adam's, not sgd's"));
  optim::Adam adamw(optim::AdamOptions::adamw());
  EXPECT_TRUE(throws_error([&] { restore_optimizer(loaded_, adamw, saved_.flat); },
                           "the optimizer state is adam's, not adamw's"));
}

TEST_F(CheckpointRefusal, ChangedHyperparameters) {
  optim::AdamOptions o;
  o.beta2 = 0.99f;
  optim::Adam adam(o);
  EXPECT_TRUE(throws_error(
      [&] { restore_optimizer(loaded_, adam, saved_.flat); },
      "checkpoint " + path_ + ": its adam has betas [0.9,0.999] but this run's has [0.9,0.99]"));
  EXPECT_EQ(adam.step_count(), 0);
  EXPECT_TRUE(adam.state().empty());
}

TEST_F(CheckpointRefusal, OptimizerStateOfAnotherSize) {
  optim::Adam adam(optim::AdamOptions{});
  const Tensor other = Tensor::zeros(Shape{400});
  EXPECT_TRUE(throws_error(
      [&] { restore_optimizer(loaded_, adam, other); },
      "checkpoint " + path_ + ": optimizer.exp_avg has 406 elements but the parameters have 400"));
  EXPECT_TRUE(adam.state().empty());
}

// ---- refusals on save and load -----------------------------------------------------------

TEST(Checkpoint, SaveRefusesReservedNamesAndBadConfig) {
  test::ScratchDir dir;
  std::mt19937_64 gen(10);
  Context ctx;
  Model m = make_model(kLenetLike, gen);
  const std::string path = dir.file("c.safetensors");

  CheckpointState s = lenet_state();
  s.extra["model"] = "x";
  EXPECT_TRUE(throws_error(
      [&] { save_checkpoint(path, m.params, nullptr, s); },
      "cannot save checkpoint " + path + ": extra metadata key \"model\" is reserved"));
  s = lenet_state();
  s.extra["kestrel.anything"] = "x";
  EXPECT_TRUE(throws_error([&] { save_checkpoint(path, m.params, nullptr, s); }, "is reserved"));
  s = lenet_state();
  s.config = "{epochs: 3";
  EXPECT_TRUE(throws_error([&] { save_checkpoint(path, m.params, nullptr, s); },
                           "cannot save checkpoint " + path + ": config is not a JSON document"));

  NamedTensors params = m.params;
  params[1].first = params[0].first;
  EXPECT_TRUE(throws_error(
      [&] { save_checkpoint(path, params, nullptr, lenet_state()); },
      "cannot save checkpoint " + path + ": parameter name conv1.weight appears twice"));
  params[0].first = "optimizer.lr";
  EXPECT_TRUE(throws_error([&] { save_checkpoint(path, params, nullptr, lenet_state()); },
                           "parameter name optimizer.lr uses the reserved prefix \"optimizer.\""));

  // Optimizer state over a buffer these parameters do not fit. Gaps under 64 elements are the
  // graph's alignment padding and allowed; overlaps and a wrong total are not.
  optim::Adam adam(optim::AdamOptions{});
  adam.step(ctx, m.flat, test::random_tensor(Shape{406}, gen));
  const Model separate = make_model({{"a", Shape{300}}}, gen);
  EXPECT_TRUE(throws_error([&] { save_checkpoint(path, separate.params, &adam, lenet_state()); },
                           "the parameters span 300 elements but the optimizer state has 406"));
  NamedTensors overlap = {m.params[0], {"x", m.flat.sub(100, Shape{10})}};
  EXPECT_TRUE(
      throws_error([&] { save_checkpoint(path, overlap, &adam, lenet_state()); },
                   "the parameters are not one flat buffer that the optimizer state matches "
                   "(x starts at element 100; the previous parameter ends at 150)"));
  EXPECT_TRUE(dir.listing().empty());
}

// A checkpoint whose metadata was edited to `key` = `value` (or without `key` when value is
// empty) must fail to load with `expected`.
void expect_bad_metadata(const std::string& key, const std::string& value,
                         const std::string& expected) {
  SCOPED_TRACE(key + " = " + value);
  test::ScratchDir dir;
  std::mt19937_64 gen(11);
  Context ctx;
  Model m = make_model(kLenetLike, gen);
  optim::Adam adam(optim::AdamOptions{});
  adam.step(ctx, m.flat, test::random_tensor(Shape{406}, gen));
  const std::string path = dir.file("c.safetensors");
  save_checkpoint(path, m.params, &adam, lenet_state());
  auto file = checkpoint::read_safetensors(path);
  if (value.empty()) {
    file.metadata.erase(key);
  } else {
    file.metadata[key] = value;
  }
  NamedTensors tensors;
  for (const auto& e : file.entries) tensors.emplace_back(e.name, e.tensor);
  checkpoint::write_safetensors(path, tensors, file.metadata);
  EXPECT_TRUE(throws_error([&] { load_checkpoint(path); }, "checkpoint " + path + ": " + expected));
}

TEST(Checkpoint, LoadRefusesBadMetadata) {
  expect_bad_metadata("kestrel.format_version", "2",
                      "format version 2; this kestrel reads version 1");
  expect_bad_metadata("kestrel.format_version", "one",
                      "metadata \"kestrel.format_version\" is \"one\", not an integer");
  expect_bad_metadata("epoch", "three", "metadata \"epoch\" is \"three\", not an integer");
  expect_bad_metadata("step", "12abc", "metadata \"step\" is \"12abc\", not an integer");
  expect_bad_metadata("seed", "-1", "metadata \"seed\" is \"-1\", not an integer");
  expect_bad_metadata("model", "", "metadata has no \"model\"");
  expect_bad_metadata("rng_position", "", "metadata has no \"rng_position\"");
  expect_bad_metadata("config", "{not json", "metadata \"config\" is not a JSON document");
  expect_bad_metadata("optimizer.steps", "-4", "negative optimizer.steps -4");
  expect_bad_metadata("optimizer.hparams", "[1]",
                      "optimizer.hparams is not an object of numbers with an lr");
  expect_bad_metadata("optimizer.hparams", R"({"lr": -1})", "invalid learning rate -1");
  expect_bad_metadata("optimizer.hparams", R"({"lr": 1, "betas": [[[1]]]})",
                      "optimizer.hparams is not an object of numbers");
}

}  // namespace
}  // namespace kestrel
