// kestrel_bench_gemm_paths: the libraries behind cpu::gemm side by side, on the tiles cpu::gemm
// hands them (64x256 of C) for the products of the models kestrel trains: oneDNN's sgemm (the
// default where the build has oneDNN), OpenBLAS's cblas_sgemm (its kernels for this CPU, or
// OPENBLAS_CORETYPE's) and the built-in loops (only with --builtin: slow). One thread, as each
// tile runs; per shape and backend, the median of REPS rounds of enough calls for ~0.2 s, the
// backends alternating; GFLOP/s and each backend's speed over OpenBLAS's, and the largest
// difference from OpenBLAS's result relative to the largest magnitude.
// Usage: kestrel_bench_gemm_paths [--reps 3] [--builtin]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/gemm.hpp"

namespace {

using kestrel::cpu::GemmArgs;
using kestrel::cpu::GemmBackend;

struct Tile {
  const char* name;
  int64_t m, n, k;
  bool trans_a, trans_b;
};

// A Linear layer y = x W^T runs three products: forward (A = x, B = W transposed), the input
// gradient dY W, and the weight gradient dY^T x (A transposed).
const Tile kTiles[] = {
    {"alexnet classifier.1 forward (k 9216)", 64, 256, 9216, false, true},
    {"alexnet classifier.4 forward (k 4096)", 64, 256, 4096, false, true},
    {"alexnet classifier.4 input grad (k 4096)", 64, 256, 4096, false, false},
    {"alexnet classifier.4 weight grad (k 128)", 64, 256, 128, true, false},
    {"vit mlp forward (k 192)", 64, 256, 192, false, true},
    {"vit mlp input grad (k 384)", 64, 256, 384, false, false},
    {"vit weight grad (k 256 rows of tokens)", 64, 256, 256, true, false},
    {"lenet5 fc1 forward (k 400)", 32, 120, 400, false, true},
};

const char* name_of(GemmBackend b) {
  switch (b) {
    case GemmBackend::OneDnn: return "oneDNN";
    case GemmBackend::OpenBlas: return "OpenBLAS";
    case GemmBackend::BuiltIn: return "built-in";
  }
  return "?";
}

}  // namespace

int main(int argc, char** argv) {
  int reps = 3;
  bool builtin = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--reps" && i + 1 < argc) {
      reps = std::max(1, std::atoi(argv[++i]));
    } else if (arg == "--builtin") {
      builtin = true;
    } else {
      std::fprintf(stderr, "kestrel_bench_gemm_paths: unknown argument '%s' (--reps N, --builtin)\n",
                   arg.c_str());
      return 2;
    }
  }
  std::vector<GemmBackend> backends;
  for (GemmBackend b : {GemmBackend::OneDnn, GemmBackend::OpenBlas, GemmBackend::BuiltIn})
    if (kestrel::cpu::gemm_backend_built(b) && (b != GemmBackend::BuiltIn || builtin))
      backends.push_back(b);
  std::printf("%-44s", "tile of C (one thread)");
  for (GemmBackend b : backends) std::printf(" %10s GF/s", name_of(b));
  std::printf("   speed over OpenBLAS   largest difference\n");
  std::mt19937_64 gen(7);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (const Tile& t : kTiles) {
    std::vector<float> a(static_cast<size_t>(t.m * t.k)), b(static_cast<size_t>(t.k * t.n));
    for (float& x : a) x = u(gen);
    for (float& x : b) x = u(gen);
    std::vector<std::vector<float>> c(backends.size(), std::vector<float>(t.m * t.n));
    std::vector<std::vector<double>> gflops(backends.size());
    const double flops = 2.0 * static_cast<double>(t.m * t.n * t.k);
    const int calls = std::max(3, static_cast<int>(0.2 * 50e9 / flops));
    for (int r = 0; r < reps + 1; ++r) {
      for (size_t i = 0; i < backends.size(); ++i) {
        const GemmArgs g{t.trans_a, t.trans_b, t.m, t.n, t.k, 1.0f, a.data(),
                         t.trans_a ? t.m : t.k, b.data(), t.trans_b ? t.k : t.n, 0.0f,
                         c[i].data(), t.n};
        const auto start = std::chrono::steady_clock::now();
        for (int s = 0; s < calls; ++s) kestrel::cpu::gemm_serial_on(backends[i], g);
        const double sec =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        if (r > 0) gflops[i].push_back(flops * calls / sec / 1e9);  // round 0 warms up
      }
    }
    std::printf("%-44s", t.name);
    std::vector<double> median(backends.size());
    for (size_t i = 0; i < backends.size(); ++i) {
      std::sort(gflops[i].begin(), gflops[i].end());
      median[i] = gflops[i][gflops[i].size() / 2];
      std::printf(" %15.1f", median[i]);
    }
    const auto blas = std::find(backends.begin(), backends.end(), GemmBackend::OpenBlas);
    std::string ratios, diffs;
    if (blas != backends.end()) {
      const size_t j = static_cast<size_t>(blas - backends.begin());
      double scale = 0.0;
      for (float v : c[j]) scale = std::max(scale, static_cast<double>(std::abs(v)));
      for (size_t i = 0; i < backends.size(); ++i) {
        if (i == j) continue;
        double diff = 0.0;
        for (size_t e = 0; e < c[i].size(); ++e)
          diff = std::max(diff, static_cast<double>(std::abs(c[i][e] - c[j][e])));
        char buf[64];
        std::snprintf(buf, sizeof buf, "%s%s %.2fx", ratios.empty() ? "" : ", ",
                      name_of(backends[i]), median[i] / median[j]);
        ratios += buf;
        std::snprintf(buf, sizeof buf, "%s%.1e", diffs.empty() ? "" : ", ", diff / scale);
        diffs += buf;
      }
    }
    std::printf("   %-21s %s\n", ratios.c_str(), diffs.c_str());
  }
  return 0;
}
