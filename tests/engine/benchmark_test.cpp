// kestrel bench's measuring code on the CPU with a few tiny steps: FLOP accounting (2 x the
// graph's multiply-adds, a training step 3 x forward, checked against LeNet-5's layer
// arithmetic written out here), the figures derived from the timed windows, peak memory, the
// datasheet peak table, the option checks, and the JSON object's shape.
#include "engine/bench/benchmark.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "engine/data/registry.hpp"
#include "kernels/cpu/conv2d_onednn.hpp"
#include "kernels/cpu/simd.hpp"
#include "models/registry.hpp"
#include "tests/support/errors.hpp"

namespace kestrel {
namespace {

using bench::BenchMode;

// LeNet-5 on 1x28x28 per image: conv1 6x24x24 outputs of 1x5x5, conv2 16x8x8 of 6x5x5, then
// fc1 256->120, fc2 120->84, fc3 84->10.
constexpr int64_t kLenetMultiplyAdds =
    6 * 24 * 24 * 25 + 16 * 8 * 8 * 150 + 256 * 120 + 120 * 84 + 84 * 10;
constexpr int64_t kLenetParams = 44426;

bench::BenchData lenet_data(int64_t samples) {
  bench::BenchData d;
  d.dataset = "mnist";
  d.input_chw = Shape{1, 28, 28};
  d.classes = 10;
  d.samples = samples;
  d.normalization = data::lab_normalization(1);
  return d;
}

bench::GraphFactory lenet_factory() {
  return [] { return models::build_model("lenet5", models::ModelInput{1, 28, 28, 10}); };
}

bench::BenchOptions tiny_options() {
  bench::BenchOptions o;
  o.batch = 4;
  o.steps = 2;
  o.warmup = 1;
  o.repeats = 3;
  return o;
}

TEST(BenchFlops, TwoPerMultiplyAddAndThreeForwardsPerTrainingStep) {
  EXPECT_DOUBLE_EQ(bench::flops_per_step(1000, BenchMode::Forward), 2000.0);
  EXPECT_DOUBLE_EQ(bench::flops_per_step(1000, BenchMode::Train), 6000.0);
  EXPECT_DOUBLE_EQ(bench::flops_per_step(0, BenchMode::Train), 0.0);
}

TEST(BenchSyntheticSamples, WholeSplitUpToTheByteCapNeverBelowOneBatch) {
  EXPECT_EQ(bench::synthetic_samples(60000, Shape{1, 28, 28}, 64), 60000);
  EXPECT_EQ(bench::synthetic_samples(50000, Shape{3, 32, 32}, 128), 50000);
  const int64_t imagenet_fit = bench::kMaxSyntheticBytes / (3 * 224 * 224);
  EXPECT_EQ(bench::synthetic_samples(1281167, Shape{3, 224, 224}, 256), imagenet_fit);
  EXPECT_EQ(bench::synthetic_samples(1281167, Shape{3, 224, 224}, 4096), 4096);
  EXPECT_EQ(bench::synthetic_samples(10, Shape{1, 28, 28}, 64), 64);
}

TEST(BenchRun, TrainingFiguresFollowFromTheWindowsAndTheGraph) {
  const Context ctx;
  const bench::BenchOptions o = tiny_options();
  const bench::BenchResult r =
      bench::run_benchmark(ctx, lenet_factory(), lenet_data(16), BenchMode::Train, o);
  EXPECT_EQ(r.mode, BenchMode::Train);
  EXPECT_EQ(r.forward_multiply_adds, kLenetMultiplyAdds * o.batch);
  EXPECT_DOUBLE_EQ(r.flops_per_step, 6.0 * static_cast<double>(kLenetMultiplyAdds * o.batch));
  ASSERT_EQ(r.window_ms.size(), 3u);
  for (double w : r.window_ms) EXPECT_GT(w, 0.0);
  std::vector<double> sorted = r.window_ms;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_DOUBLE_EQ(r.median_window_ms, sorted[1]);
  EXPECT_DOUBLE_EQ(r.ms_per_step, r.median_window_ms / static_cast<double>(o.steps));
  EXPECT_NEAR(r.images_per_second * r.ms_per_step / 1e3, static_cast<double>(o.batch), 1e-9);
  EXPECT_NEAR(r.achieved_gflops, r.flops_per_step / (r.ms_per_step / 1e3) / 1e9,
              1e-12 * r.achieved_gflops);
  EXPECT_TRUE(std::isfinite(r.last_loss));
  EXPECT_GT(r.last_loss, 0.0f);
}

TEST(BenchRun, EvenRepeatsTakeTheMeanOfTheMiddleTwoWindows) {
  const Context ctx;
  bench::BenchOptions o = tiny_options();
  o.repeats = 2;
  const bench::BenchResult r =
      bench::run_benchmark(ctx, lenet_factory(), lenet_data(8), BenchMode::Forward, o);
  ASSERT_EQ(r.window_ms.size(), 2u);
  EXPECT_DOUBLE_EQ(r.median_window_ms, 0.5 * (r.window_ms[0] + r.window_ms[1]));
  EXPECT_DOUBLE_EQ(r.flops_per_step, 2.0 * static_cast<double>(kLenetMultiplyAdds * o.batch));
}

TEST(BenchRun, TrainingPeakMemoryHoldsTheAdamStateOnTopOfTheForwardRun) {
  const Context ctx;
  const bench::BenchOptions o = tiny_options();
  const auto forward =
      bench::run_benchmark(ctx, lenet_factory(), lenet_data(16), BenchMode::Forward, o);
  const auto train =
      bench::run_benchmark(ctx, lenet_factory(), lenet_data(16), BenchMode::Train, o);
  // Parameters and gradients (built in both runs) at least; Adam's two moments in training.
  const size_t param_bytes = kLenetParams * sizeof(float);
  EXPECT_GE(forward.peak_memory_bytes, 2 * param_bytes);
  EXPECT_GE(train.peak_memory_bytes, forward.peak_memory_bytes + 2 * param_bytes);
}

TEST(BenchRun, WrapsAroundEpochsWhenTheStepsOutnumberTheBatches) {
  const Context ctx;
  bench::BenchOptions o = tiny_options();
  o.steps = 5;  // 1 + 5 x 3 steps over 2 batches per epoch
  const auto r = bench::run_benchmark(ctx, lenet_factory(), lenet_data(9), BenchMode::Train, o);
  EXPECT_EQ(r.window_ms.size(), 3u);
  EXPECT_TRUE(std::isfinite(r.last_loss));
}

TEST(BenchRun, BadOptionsNameTheFlag) {
  const Context ctx;
  const auto run = [&](bench::BenchOptions o, int64_t samples = 16) {
    (void)bench::run_benchmark(ctx, lenet_factory(), lenet_data(samples), BenchMode::Train, o);
  };
  bench::BenchOptions o = tiny_options();
  o.steps = 0;
  test::expect_error([&] { run(o); }, "--steps must be at least 1, got 0");
  o = tiny_options();
  o.repeats = 0;
  test::expect_error([&] { run(o); }, "--repeats must be at least 1, got 0");
  o = tiny_options();
  o.warmup = -1;
  test::expect_error([&] { run(o); }, "--warmup must be >= 0, got -1");
  o = tiny_options();
  o.batch = 0;
  test::expect_error([&] { run(o); }, "--batch must be in [1, 65536], got 0");
  test::expect_error([&] { run(tiny_options(), 3); },
                     "3 synthetic images are fewer than one batch of 4");
  o = tiny_options();
  o.profile_first = 2;
  o.profile_last = 7;  // 1 + 2 x 3 = 7 steps: 0..6
  test::expect_error([&] { run(o); }, "--profile-steps 2:7 must satisfy 0 <= A <= B < 7");
}

TEST(BenchRun, ProfileBracketIsANoOpOnTheCpu) {
  const Context ctx;
  bench::BenchOptions o = tiny_options();
  o.profile_first = 1;
  o.profile_last = 3;
  const auto r = bench::run_benchmark(ctx, lenet_factory(), lenet_data(16), BenchMode::Train, o);
  EXPECT_EQ(r.window_ms.size(), 3u);
}

TEST(BenchPeak, DatasheetValuesForH100AndH200) {
  const auto sxm = bench::gpu_peak("NVIDIA H100 80GB HBM3", 9, 0, bench::PeakPrecision::FP32);
  EXPECT_DOUBLE_EQ(sxm.gflops, 67000.0);
  EXPECT_NE(sxm.source.find("datasheet: NVIDIA H100 SXM5, FP32"), std::string::npos);
  const auto sxm_tf32 = bench::gpu_peak("NVIDIA H100 80GB HBM3", 9, 0, bench::PeakPrecision::TF32);
  EXPECT_DOUBLE_EQ(sxm_tf32.gflops, 494700.0);
  EXPECT_NE(sxm_tf32.source.find("TF32 tensor core, dense"), std::string::npos);
  EXPECT_DOUBLE_EQ(bench::gpu_peak("NVIDIA H100 PCIe", 9, 0, bench::PeakPrecision::FP32).gflops,
                   51000.0);
  EXPECT_DOUBLE_EQ(bench::gpu_peak("NVIDIA H100 PCIe", 9, 0, bench::PeakPrecision::TF32).gflops,
                   378000.0);
  EXPECT_DOUBLE_EQ(bench::gpu_peak("NVIDIA H100 NVL", 9, 0, bench::PeakPrecision::TF32).gflops,
                   417500.0);
  EXPECT_DOUBLE_EQ(bench::gpu_peak("NVIDIA H200", 9, 0, bench::PeakPrecision::FP32).gflops,
                   67000.0);
  EXPECT_DOUBLE_EQ(bench::gpu_peak("NVIDIA H200 NVL", 9, 0, bench::PeakPrecision::FP32).gflops,
                   60000.0);
  const auto h200_bf16 = bench::gpu_peak("NVIDIA H200", 9, 0, bench::PeakPrecision::BF16);
  EXPECT_DOUBLE_EQ(h200_bf16.gflops, 989500.0);
  EXPECT_NE(h200_bf16.source.find("H200 SXM, BF16 tensor core, dense"), std::string::npos);
  EXPECT_DOUBLE_EQ(bench::gpu_peak("NVIDIA H100 PCIe", 9, 0, bench::PeakPrecision::BF16).gflops,
                   756500.0);
}

TEST(BenchPeak, UnknownDevicesHaveNoPeak) {
  const auto a100 = bench::gpu_peak("NVIDIA A100-SXM4-80GB", 8, 0, bench::PeakPrecision::FP32);
  EXPECT_FALSE(a100.known());
  EXPECT_NE(a100.source.find("NVIDIA A100-SXM4-80GB (compute 8.0)"), std::string::npos);
  EXPECT_FALSE(bench::gpu_peak("NVIDIA H100 80GB HBM3", 8, 9, bench::PeakPrecision::FP32).known());
  EXPECT_FALSE(bench::cpu_peak().known());
  EXPECT_FALSE(bench::device_peak(Context(), bench::PeakPrecision::FP32).known());
  // The CPU's description names its element loops' vector level and its convolution path (a
  // bare context: im2col + GEMM).
  const std::string loops =
      "cpu, element loops on " + std::string(cpu::simd_level_name(cpu::simd_level()));
  EXPECT_EQ(bench::device_description(Context()), loops + ", convolutions by im2col + GEMM");
  Context commands;
  commands.set_math(MathOptions::application_default());
  std::string expected = loops + ", convolutions by im2col + GEMM";
  if (cpu::onednn::built()) {
    expected = loops + ", convolutions on ";
    expected += cpu::onednn::describe();
  }
  EXPECT_EQ(bench::device_description(commands), expected);
}

bench::BenchReport report_of(const bench::BenchResult& result, bench::DevicePeak peak) {
  bench::BenchReport r;
  r.model = "lenet5";
  r.data = lenet_data(16);
  r.device = "cpu";
  r.device_name = "cpu";
  r.threads = 2;
  r.precision = "fp32";
  r.options = tiny_options();
  r.peak = std::move(peak);
  r.results.push_back(result);
  return r;
}

TEST(BenchJson, OneObjectWithSettingsConventionAndAResultPerMode) {
  const Context ctx;
  const auto train =
      bench::run_benchmark(ctx, lenet_factory(), lenet_data(16), BenchMode::Train, tiny_options());
  const nlohmann::json j = bench::to_json(report_of(train, bench::cpu_peak()));
  for (const char* key : {"model", "dataset", "data", "device", "device_name", "threads",
                          "precision", "batch", "steps", "warmup", "repeats", "optimizer",
                          "flop_convention", "device_peak_gflops", "device_peak_source", "results"})
    EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_EQ(j["model"], "lenet5");
  EXPECT_EQ(j["batch"], 4);
  EXPECT_EQ(j["data"]["input"], nlohmann::json::array({1, 28, 28}));
  EXPECT_TRUE(j["device_peak_gflops"].is_null());
  ASSERT_EQ(j["results"].size(), 1u);
  const nlohmann::json& r = j["results"][0];
  EXPECT_EQ(r["mode"], "train");
  for (const char* key : {"images_per_second", "ms_per_step", "median_window_ms", "window_ms",
                          "forward_multiply_adds", "flops_per_step", "achieved_gflops",
                          "peak_memory_bytes", "peak_share", "last_loss"})
    EXPECT_TRUE(r.contains(key)) << key;
  EXPECT_TRUE(r["peak_share"].is_null());
  EXPECT_EQ(r["window_ms"].size(), 3u);
  EXPECT_EQ(r["forward_multiply_adds"], kLenetMultiplyAdds * 4);
  EXPECT_DOUBLE_EQ(r["images_per_second"].get<double>(), train.images_per_second);
}

TEST(BenchJson, PeakShareIsAchievedOverPeakWhenThePeakIsKnown) {
  bench::BenchResult fake;
  fake.mode = BenchMode::Forward;
  fake.achieved_gflops = 670.0;
  const auto j = bench::to_json(
      report_of(fake, bench::gpu_peak("NVIDIA H200", 9, 0, bench::PeakPrecision::FP32)));
  EXPECT_DOUBLE_EQ(j["device_peak_gflops"].get<double>(), 67000.0);
  EXPECT_DOUBLE_EQ(j["results"][0]["peak_share"].get<double>(), 0.01);
  EXPECT_FALSE(j["results"][0].contains("last_loss"));
  const std::string text = bench::format_report(
      report_of(fake, bench::gpu_peak("NVIDIA H200", 9, 0, bench::PeakPrecision::FP32)));
  EXPECT_NE(text.find("1.0%"), std::string::npos) << text;
  EXPECT_NE(text.find("67.0 TFLOP/s (datasheet: NVIDIA H200 SXM, FP32)"), std::string::npos)
      << text;
}

TEST(BenchText, CpuTableSaysNotApplicableForThePeakShare) {
  bench::BenchResult fake;
  fake.mode = BenchMode::Train;
  fake.images_per_second = 12345.4;
  fake.ms_per_step = 0.324;
  fake.achieved_gflops = 9.87;
  fake.peak_memory_bytes = 55'500'000;
  const std::string text = bench::format_report(report_of(fake, bench::cpu_peak()));
  EXPECT_NE(text.find("lenet5 on mnist-shaped synthetic data (16 images of 1x28x28 on cpu"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("a training step (forward, loss, backward, AdamW) counts as 3 x forward"),
            std::string::npos);
  EXPECT_NE(text.find("train          12,345      0.324        9.9      n/a      55.5 MB"),
            std::string::npos)
      << text;
}

}  // namespace
}  // namespace kestrel
