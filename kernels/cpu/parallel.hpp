#pragma once
// Work spread over the host's cores with OpenMP. Every loop here splits its range by the
// problem size alone, never by the thread count, and no two threads add into one value, so a
// result is bit-identical whether 1 or 64 threads ran it.
#include <algorithm>
#include <cstdint>

namespace kestrel::cpu {

void set_num_threads(int n);  // <= 0 restores the default (all cores)
int num_threads();

// f(i) for every i in [0, n): one independent output element per index.
template <class F>
void parallel_for(int64_t n, const F& f) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) f(i);
}

// f(begin, end) over fixed chunks of `chunk` indices; chunk boundaries depend only on n.
template <class F>
void parallel_for_chunks(int64_t n, int64_t chunk, const F& f) {
  const int64_t chunks = (n + chunk - 1) / chunk;
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < chunks; ++c) f(c * chunk, std::min(n, (c + 1) * chunk));
}

// Runs a single-source element functor (kernels/common) over n elements: the CPU twin of the
// CUDA grid-stride launch.
template <class Functor>
void launch(int64_t n, const Functor& functor) {
  parallel_for(n, [&](int64_t i) { functor(i); });
}

}  // namespace kestrel::cpu
