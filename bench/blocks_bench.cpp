// kestrel_bench_blocks: the building blocks of modern CNNs, each timed as one training pass
// (forward in training mode, then backward from a fixed random output gradient) on the CPU.
// bench/pytorch/blocks.py builds the same blocks in PyTorch and bench/compare_blocks.sh runs
// both side by side: the per-op-family rows of docs/perf.md.
//
// A block is what a model repeats, so the rows measure the ops as the models use them (a
// convolution's input already needs a gradient, batch norm runs in training mode, the in-place
// and fan-out decisions are the graph's): ResNet's basic block (3x3 convolutions, batch norm,
// ReLU, the residual add), MobileNetV2's inverted residual (1x1 expansion, depthwise 3x3, ReLU6,
// linear 1x1 projection), EfficientNet's MBConv (depthwise 5x5, SiLU, squeeze-and-excitation
// with sigmoid and channel scaling), and DenseNet's dense layer (batch norm, ReLU, 1x1 and 3x3
// convolutions, channel concatenation). The block's input is the graph's input, which needs no
// gradient, as in PyTorch with an input that does not require grad.
//
//   kestrel_bench_blocks [--block NAME|all] [--batch N] [--threads T] [--steps S] [--warmup W]
//                        [--repeats R] [--cpu-conv onednn|im2col] [--json]
//
// --cpu-conv: the convolutions' path, as `kestrel bench --cpu-conv`: oneDNN by default (what
// train, eval and bench run), im2col + GEMM (the deterministic path) on request.
//
// Each figure is the median over R windows of S passes after W untimed ones.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "engine/nn/activation.hpp"
#include "engine/nn/add.hpp"
#include "engine/nn/batch_norm.hpp"
#include "engine/nn/concat.hpp"
#include "engine/nn/conv2d.hpp"
#include "engine/nn/flatten.hpp"
#include "engine/nn/graph.hpp"
#include "engine/nn/pooling.hpp"
#include "engine/nn/scale_channels.hpp"
#include "kernels/cpu/parallel.hpp"

namespace {

using namespace kestrel;
using nn::Graph;
using nn::ValueId;

struct Block {
  const char* name;
  const char* what;
  Shape input;          // [C, H, W]
  int64_t out_features;  // elements of one sample's output
  std::function<void(Graph&)> build;
};

nn::Conv2dOptions conv(int stride, int padding, int groups = 1, bool bias = false) {
  nn::Conv2dOptions o;
  o.stride = stride;
  o.padding = padding;
  o.groups = groups;
  o.bias = bias;
  return o;
}

// ResNet-20's stage-2 basic block: conv3x3-BN-ReLU-conv3x3-BN, + x, ReLU (32 channels, 16x16).
void resnet_basic(Graph& g) {
  g.add<nn::Conv2d>("conv1", 32, 32, 3, conv(1, 1));
  g.add<nn::BatchNorm2d>("bn1", 32);
  g.add<nn::ReLU>("relu1");
  g.add<nn::Conv2d>("conv2", 32, 32, 3, conv(1, 1));
  g.add<nn::BatchNorm2d>("bn2", 32);
  g.node<nn::Add>({g.last_value(), Graph::kInput}, "add");
  g.add<nn::ReLU>("relu2");
}

// MobileNetV2's inverted residual, expansion 6 (32 -> 192 -> 32 channels, 16x16).
void mobilenet_inverted_residual(Graph& g) {
  g.add<nn::Conv2d>("conv.0.0", 32, 192, 1, conv(1, 0));
  g.add<nn::BatchNorm2d>("conv.0.1", 192);
  g.add<nn::ReLU6>("conv.0.2");
  g.add<nn::Conv2d>("conv.1.0", 192, 192, 3, conv(1, 1, 192));
  g.add<nn::BatchNorm2d>("conv.1.1", 192);
  g.add<nn::ReLU6>("conv.1.2");
  g.add<nn::Conv2d>("conv.2", 192, 32, 1, conv(1, 0));
  g.add<nn::BatchNorm2d>("conv.3", 32);
  g.node<nn::Add>({g.last_value(), Graph::kInput}, "add");
}

// EfficientNet-B0's MBConv6 with a 5x5 depthwise convolution and squeeze-and-excitation
// (40 -> 240 -> 40 channels, 16x16; squeeze to 10 = 40 / 4 as torchvision does).
void efficientnet_mbconv(Graph& g) {
  g.add<nn::Conv2d>("block.0.0", 40, 240, 1, conv(1, 0));
  g.add<nn::BatchNorm2d>("block.0.1", 240);
  g.add<nn::SiLU>("block.0.2");
  g.add<nn::Conv2d>("block.1.0", 240, 240, 5, conv(1, 2, 240));
  g.add<nn::BatchNorm2d>("block.1.1", 240);
  const ValueId features = g.node<nn::SiLU>({g.last_value()}, "block.1.2");
  g.add<nn::AdaptiveAvgPool2d>("block.2.avgpool", 1, 1);
  g.add<nn::Conv2d>("block.2.fc1", 240, 10, 1, conv(1, 0, 1, true));
  g.add<nn::SiLU>("block.2.activation");
  g.add<nn::Conv2d>("block.2.fc2", 10, 240, 1, conv(1, 0, 1, true));
  const ValueId scale = g.node<nn::Sigmoid>({g.last_value()}, "block.2.scale_activation");
  g.node<nn::ScaleChannels>({features, scale}, "block.2.scale");
  g.add<nn::Conv2d>("block.3.0", 240, 40, 1, conv(1, 0));
  g.add<nn::BatchNorm2d>("block.3.1", 40);
  g.node<nn::Add>({g.last_value(), Graph::kInput}, "add");
}

// DenseNet-121's dense layer in its first block (growth 32, bottleneck 4 x 32 = 128), fed 128
// channels at 16x16, its 32 new features concatenated to its input.
void densenet_layer(Graph& g) {
  g.add<nn::BatchNorm2d>("norm1", 128);
  g.add<nn::ReLU>("relu1");
  g.add<nn::Conv2d>("conv1", 128, 128, 1, conv(1, 0));
  g.add<nn::BatchNorm2d>("norm2", 128);
  g.add<nn::ReLU>("relu2");
  g.add<nn::Conv2d>("conv2", 128, 32, 3, conv(1, 1));
  g.node<nn::Concat>({Graph::kInput, g.last_value()}, "cat");
}

std::vector<Block> blocks() {
  return {
      {"resnet_basic", "ResNet basic block, 32 ch, 16x16", Shape{32, 16, 16}, 32 * 16 * 16,
       resnet_basic},
      {"mobilenet_v2_inverted_residual", "MobileNetV2 inverted residual, 32-192-32 ch, 16x16",
       Shape{32, 16, 16}, 32 * 16 * 16, mobilenet_inverted_residual},
      {"efficientnet_mbconv_se", "EfficientNet MBConv6 5x5 + SE, 40-240-40 ch, 16x16",
       Shape{40, 16, 16}, 40 * 16 * 16, efficientnet_mbconv},
      {"densenet_layer", "DenseNet dense layer, 128 + 32 ch, 16x16", Shape{128, 16, 16},
       160 * 16 * 16, densenet_layer},
  };
}

Tensor random_tensor(const Shape& shape, uint64_t seed) {
  Tensor t = Tensor::empty(shape);
  std::mt19937_64 gen(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = normal(gen);
  return t;
}

struct Options {
  std::string block = "all";
  int64_t batch = 128;
  int threads = 0;
  int steps = 5, warmup = 2, repeats = 5;
  bool onednn = true;
  bool json = false;
};

[[noreturn]] void usage_error(const std::string& message) {
  std::fprintf(stderr, "kestrel_bench_blocks: %s\n", message.c_str());
  std::exit(2);
}

int64_t integer_at_least(const char* flag, const char* text, long long least) {
  char* end = nullptr;
  const long long v = std::strtoll(text, &end, 10);
  if (end == text || *end != '\0' || v < least)
    usage_error(std::string(flag) + (least > 0 ? " needs a positive integer"
                                               : " needs a non-negative integer"));
  return v;
}
int64_t positive(const char* flag, const char* text) { return integer_at_least(flag, text, 1); }

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) usage_error(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--block") o.block = value();
    else if (arg == "--batch") o.batch = positive("--batch", value());
    else if (arg == "--threads") o.threads = static_cast<int>(positive("--threads", value()));
    else if (arg == "--steps") o.steps = static_cast<int>(positive("--steps", value()));
    else if (arg == "--warmup") o.warmup = static_cast<int>(integer_at_least("--warmup", value(), 0));
    else if (arg == "--repeats") o.repeats = static_cast<int>(positive("--repeats", value()));
    else if (arg == "--cpu-conv") {
      const std::string path = value();
      if (path != "onednn" && path != "im2col") usage_error("--cpu-conv is onednn or im2col");
      o.onednn = path == "onednn";
    } else if (arg == "--json") o.json = true;
    else usage_error("unknown argument '" + arg + "' (--block, --batch, --threads, --steps, "
                     "--warmup, --repeats, --cpu-conv, --json)");
  }
  return o;
}

// Median milliseconds of one training pass (forward in training mode + backward).
double time_block(const Block& block, const Options& o) {
  Context ctx(Device::cpu());
  MathOptions math = MathOptions::application_default();
  math.cpu_onednn = o.onednn;
  ctx.set_math(math);
  Graph g;
  block.build(g);
  g.add<nn::Flatten>("flatten");
  const int64_t features = block.out_features;
  g.build(ctx, block.input, o.batch, features);
  g.initialize(ctx, init::InitScheme::PyTorchDefault, 0);
  std::vector<int64_t> dims{o.batch};
  dims.insert(dims.end(), block.input.data(), block.input.data() + block.input.ndim());
  const Shape x_shape = Shape::from(dims.data(), static_cast<int>(dims.size()));
  const Tensor x = random_tensor(x_shape, 1);
  const Tensor dy = random_tensor(Shape{o.batch, features}, 2);
  int64_t step = 0;
  auto pass = [&] {
    (void)g.forward(ctx, x, /*training=*/true, step++);
    g.backward(ctx, dy);
  };
  for (int i = 0; i < o.warmup; ++i) pass();
  std::vector<double> ms;
  for (int r = 0; r < o.repeats; ++r) {
    const auto start = std::chrono::steady_clock::now();
    for (int s = 0; s < o.steps; ++s) pass();
    ctx.synchronize();
    const std::chrono::duration<double, std::milli> elapsed = std::chrono::steady_clock::now() - start;
    ms.push_back(elapsed.count() / o.steps);
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  try {
    if (o.threads > 0) cpu::set_num_threads(o.threads);
    bool any = false;
    if (o.json) std::printf("[");
    for (const Block& b : blocks()) {
      if (o.block != "all" && o.block != b.name) continue;
      const double ms = time_block(b, o);
      const double images_per_s = 1000.0 * static_cast<double>(o.batch) / ms;
      if (o.json)
        std::printf("%s{\"block\": \"%s\", \"batch\": %lld, \"threads\": %d, \"ms\": %.4f, "
                    "\"images_per_second\": %.2f}",
                    any ? ", " : "", b.name, static_cast<long long>(o.batch),
                    cpu::num_threads(), ms, images_per_s);
      else
        std::printf("%-32s %-52s %9.3f ms %10.1f images/s\n", b.name, b.what, ms, images_per_s);
      any = true;
    }
    if (o.json) std::printf("]\n");
    if (!any) usage_error("no block named '" + o.block + "'");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kestrel_bench_blocks: %s\n", e.what());
    return 1;
  }
  return 0;
}
