// kestrel_bench_conv_paths: the two CPU convolution paths side by side, on the convolutions of
// the CIFAR models kestrel trains: im2col + GEMM (cpu::conv2d_*, the default and the tests'
// oracle) and oneDNN (cpu::onednn::conv2d_*, where the build has it). Per shape, one training
// pass (forward, backward data, backward weight) on random operands, the two paths alternating
// REPS rounds of STEPS passes after a warm-up round (oneDNN builds its primitives there); each
// figure is the median round's ms per pass, and the ratio im2col / oneDNN is printed (above 1:
// oneDNN faster). Also the largest difference between the two results, relative to the largest
// magnitude. Usage: kestrel_bench_conv_paths [--steps 3] [--reps 5] [--threads N] [--only NAME]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <random>
#include <string>
#include <vector>

#include "kernels/common/conv2d_geometry.hpp"
#include "kernels/cpu/conv2d.hpp"
#include "kernels/cpu/conv2d_onednn.hpp"
#include "kernels/cpu/parallel.hpp"

namespace {

using kestrel::kernels::Conv2dGeometry;

struct Shape {
  const char* name;
  int64_t n, c, h, w, k, r;
  int stride, pad;
};

// airbench94 at batch 1024 (its three conv blocks' first and second convolutions) and resnet20
// at batch 128 (one per stage, and a strided one).
const Shape kShapes[] = {
    {"airbench block1.conv1 (24->64, 31x31, b1024)", 1024, 24, 31, 31, 64, 3, 1, 1},
    {"airbench block1.conv2 (64->64, 15x15, b1024)", 1024, 64, 15, 15, 64, 3, 1, 1},
    {"airbench block2.conv1 (64->256, 15x15, b1024)", 1024, 64, 15, 15, 256, 3, 1, 1},
    {"airbench block2.conv2 (256->256, 7x7, b1024)", 1024, 256, 7, 7, 256, 3, 1, 1},
    {"airbench block3.conv1 (256->256, 7x7, b1024)", 1024, 256, 7, 7, 256, 3, 1, 1},
    {"airbench block3.conv2 (256->256, 3x3, b1024)", 1024, 256, 3, 3, 256, 3, 1, 1},
    {"resnet20 stage1 (16->16, 32x32, b128)", 128, 16, 32, 32, 16, 3, 1, 1},
    {"resnet20 stage2 (32->32, 16x16, b128)", 128, 32, 16, 16, 32, 3, 1, 1},
    {"resnet20 stage3 (64->64, 8x8, b128)", 128, 64, 8, 8, 64, 3, 1, 1},
    {"resnet20 downsample (16->32, s2, b128)", 128, 16, 32, 32, 32, 3, 2, 1},
};

std::vector<float> random_floats(size_t n, std::mt19937_64& gen) {
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = d(gen);
  return v;
}

double relative_difference(const std::vector<float>& a, const std::vector<float>& b) {
  double diff = 0.0, scale = 0.0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff = std::max(diff, std::fabs(static_cast<double>(a[i]) - b[i]));
    scale = std::max(scale, std::fabs(static_cast<double>(a[i])));
  }
  return scale > 0.0 ? diff / scale : diff;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) try {
  int steps = 3, reps = 5, threads = 0;
  std::string only;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr, "kestrel_bench_conv_paths: %s needs a value\n", a.c_str());
      return 2;
    }
    if (a == "--steps") steps = std::atoi(argv[++i]);
    else if (a == "--reps") reps = std::atoi(argv[++i]);
    else if (a == "--threads") threads = std::atoi(argv[++i]);
    else if (a == "--only") only = argv[++i];
    else {
      std::fprintf(stderr, "kestrel_bench_conv_paths: unknown flag %s\n", a.c_str());
      return 2;
    }
  }
  if (steps < 1 || reps < 1) {
    std::fprintf(stderr, "kestrel_bench_conv_paths: --steps and --reps must be positive\n");
    return 2;
  }
  namespace cpu = kestrel::cpu;
  if (!cpu::onednn::built()) {
    std::fprintf(stderr, "kestrel_bench_conv_paths: this build has no oneDNN (libdnnl-dev)\n");
    return 1;
  }
  if (threads > 0) cpu::set_num_threads(threads);
  std::printf("%s, %d threads; ms per training pass (forward + backward data + backward "
              "weight), median of %d rounds of %d\n",
              cpu::onednn::describe().c_str(), cpu::num_threads(), reps, steps);
  std::printf("%-48s %10s %10s %8s %10s\n", "convolution", "im2col", "oneDNN", "ratio", "max diff");
  std::mt19937_64 gen(20261207);
  for (const Shape& s : kShapes) {
    if (!only.empty() && std::strstr(s.name, only.c_str()) == nullptr) continue;
    const Conv2dGeometry g = kestrel::kernels::make_conv2d_geometry(
        s.n, s.c, s.h, s.w, s.k, s.r, s.r, {.stride_h = s.stride, .stride_w = s.stride,
                                            .pad_h = s.pad, .pad_w = s.pad});
    const auto x = random_floats(static_cast<size_t>(g.n * g.input_image_size()), gen);
    const auto w = random_floats(static_cast<size_t>(g.weight_size()), gen);
    const auto dy = random_floats(static_cast<size_t>(g.n * g.output_image_size()), gen);
    std::vector<float> y[2], dx[2], dw[2];
    for (int p = 0; p < 2; ++p) {
      y[p].resize(dy.size()), dx[p].resize(x.size()), dw[p].resize(w.size());
    }
    std::vector<float> scratch(static_cast<size_t>(std::max(
        {cpu::conv2d_forward_workspace(g), cpu::conv2d_backward_data_workspace(g),
         cpu::conv2d_backward_weight_workspace(g)})));
    const size_t onednn_bytes = std::max({cpu::onednn::forward_workspace_bytes(g, false),
                                          cpu::onednn::backward_data_workspace_bytes(g),
                                          cpu::onednn::backward_weight_workspace_bytes(g)});
    std::vector<float> onednn_scratch(onednn_bytes / sizeof(float) + 16);
    auto pass = [&](int p) {
      if (p == 0) {
        cpu::conv2d_forward(g, x.data(), w.data(), nullptr, y[0].data(), scratch.data());
        cpu::conv2d_backward_data(g, dy.data(), w.data(), dx[0].data(), scratch.data());
        cpu::conv2d_backward_weight(g, x.data(), dy.data(), dw[0].data(), scratch.data());
      } else {
        void* ws = onednn_scratch.data();
        cpu::onednn::conv2d_forward(g, x.data(), w.data(), nullptr, y[1].data(), ws);
        cpu::onednn::conv2d_backward_data(g, dy.data(), w.data(), dx[1].data(), ws);
        cpu::onednn::conv2d_backward_weight(g, x.data(), dy.data(), dw[1].data(), ws);
      }
    };
    std::vector<double> ms[2];
    for (int round = -1; round < reps; ++round)
      for (int p = 0; p < 2; ++p) {
        const auto start = std::chrono::steady_clock::now();
        for (int i = 0; i < steps; ++i) pass(p);
        const double t =
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                .count() / steps;
        if (round >= 0) ms[p].push_back(t);
      }
    const double diff = std::max({relative_difference(y[0], y[1]), relative_difference(dx[0], dx[1]),
                                  relative_difference(dw[0], dw[1])});
    const double a = median(ms[0]), b = median(ms[1]);
    std::printf("%-48s %10.2f %10.2f %7.2fx %10.1e\n", s.name, a, b, a / b, diff);
    std::fflush(stdout);
  }
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "kestrel_bench_conv_paths: %s\n", e.what());
  return 1;
}
