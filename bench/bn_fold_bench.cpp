// kestrel_bench_bn_fold: evaluation images/s of a CIFAR-shaped conv-BN-ReLU network (five
// 3x3 convolutions, each followed by batch norm and ReLU, two max-pools, a global average
// pool and a linear head; random weights and running statistics) with batch norm folded into
// the convolutions (Graph::set_eval_folding, the default) and without, in one process on
// the CPU (or --device cuda:N). The two graphs run alternately, REPS rounds of BATCHES eval
// forwards each (after one warm-up round); each figure is the median round, and the ratio
// folded / unfolded is printed last. Usage: kestrel_bench_bn_fold [--batch 128] [--batches 8]
// [--reps 5] [--threads N] [--device cpu|cuda:N]
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "engine/nn/activation.hpp"
#include "engine/nn/batch_norm.hpp"
#include "engine/nn/conv2d.hpp"
#include "engine/nn/flatten.hpp"
#include "engine/nn/graph.hpp"
#include "engine/nn/linear.hpp"
#include "engine/nn/pooling.hpp"
#include "engine/runtime/context.hpp"
#include "kernels/cpu/parallel.hpp"

namespace {

using namespace kestrel;

std::unique_ptr<nn::Graph> conv_bn_net() {
  auto g = std::make_unique<nn::Graph>();
  int64_t in = 3;
  int k = 0;
  for (int64_t out : {32, 32, 64, 64, 128}) {
    const std::string i = std::to_string(++k);
    g->add<nn::Conv2d>("conv" + i, in, out, 3, nn::Conv2dOptions{.padding = 1});
    g->add<nn::BatchNorm2d>("bn" + i, out);
    g->add<nn::ReLU>("relu" + i);
    if (k == 2 || k == 4) g->add<nn::MaxPool2d>("pool" + i, 2);
    in = out;
  }
  g->add<nn::AdaptiveAvgPool2d>("avgpool", 1, 1);
  g->add<nn::Flatten>("flatten");
  g->add<nn::Linear>("fc", 128, 10);
  return g;
}

// Random running statistics, copied to the graph's device.
void randomize_state(nn::Graph& g, std::mt19937_64& gen) {
  std::uniform_real_distribution<float> mean(-0.5f, 0.5f), var(0.5f, 2.0f);
  for (auto& s : g.named_state()) {
    if (s.tensor.dtype() != DType::F32) continue;
    std::vector<float> v(static_cast<size_t>(s.tensor.numel()));
    const bool is_var = s.name.ends_with("running_var");
    for (float& x : v) x = is_var ? var(gen) : mean(gen);
    s.tensor.copy_from(Tensor::from_vector(s.tensor.shape(), v));
  }
}

struct Flags {
  int64_t batch = 128, batches = 8, reps = 5, threads = 0;
  std::string device = "cpu";
};

// Every flag takes a value; an unknown flag, a missing value or a count below 1 is an error.
bool parse(int argc, char** argv, Flags& f) {
  for (int i = 1; i < argc; i += 2) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr, "kestrel_bench_bn_fold: %s needs a value\n", flag.c_str());
      return false;
    }
    const std::string value = argv[i + 1];
    if (flag == "--device") {
      f.device = value;
      continue;
    }
    int64_t* target = flag == "--batch"     ? &f.batch
                      : flag == "--batches" ? &f.batches
                      : flag == "--reps"    ? &f.reps
                      : flag == "--threads" ? &f.threads
                                            : nullptr;
    char* end = nullptr;
    const long long v = std::strtoll(value.c_str(), &end, 10);
    if (target == nullptr || end == value.c_str() || *end != '\0' || v < 1) {
      std::fprintf(stderr,
                   target == nullptr ? "kestrel_bench_bn_fold: unknown flag %s (%s)\n"
                                     : "kestrel_bench_bn_fold: %s %s is not a count >= 1\n",
                   flag.c_str(), value.c_str());
      return false;
    }
    *target = v;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    Flags flags;
    if (!parse(argc, argv, flags)) return 2;
    const int64_t batch = flags.batch;
    const int64_t batches = flags.batches, reps = flags.reps;
    if (flags.threads > 0) cpu::set_num_threads(static_cast<int>(flags.threads));
    Context ctx(Device::parse(flags.device));
    std::mt19937_64 gen(7);
    const Shape input{3, 32, 32};
    auto folded = conv_bn_net(), plain = conv_bn_net();
    plain->set_eval_folding(false);
    folded->build(ctx, input, batch, 10);
    plain->build(ctx, input, batch, 10);
    folded->initialize(ctx, init::InitScheme::PyTorchDefault, 1);
    randomize_state(*folded, gen);
    plain->parameters().copy_from(folded->parameters());
    plain->state().copy_from(folded->state());
    std::normal_distribution<float> normal;
    std::vector<float> host(static_cast<size_t>(batch * input.numel()));
    for (float& x : host) x = normal(gen);
    const Tensor images = Tensor::from_vector(Shape{batch, 3, 32, 32}, host).to(ctx.device());

    const auto round = [&](nn::Graph& g) {
      const auto start = std::chrono::steady_clock::now();
      for (int64_t b = 0; b < batches; ++b) g.forward(ctx, images, /*training=*/false, 0);
      ctx.synchronize();
      const double s =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      return static_cast<double>(batch * batches) / s;
    };
    round(*folded);
    round(*plain);
    std::vector<double> f, p;
    for (int64_t r = 0; r < reps; ++r) {
      f.push_back(round(*folded));
      p.push_back(round(*plain));
    }
    const auto median = [](std::vector<double> v) {
      std::sort(v.begin(), v.end());
      return v[v.size() / 2];
    };
    std::printf(
        "conv-BN-ReLU net (5 conv+BN pairs, 3x32x32), batch %lld, %lld batches x %lld "
        "rounds on %s, %d thread(s)\n",
        static_cast<long long>(batch), static_cast<long long>(batches),
        static_cast<long long>(reps), ctx.device().str().c_str(), cpu::num_threads());
    std::printf("eval, batch norm folded:   %10.1f images/s (median)\n", median(f));
    std::printf("eval, batch norm unfolded: %10.1f images/s (median)\n", median(p));
    std::printf("folded / unfolded: %.3f\n", median(f) / median(p));
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kestrel_bench_bn_fold: %s\n", e.what());
    return 1;
  }
}
