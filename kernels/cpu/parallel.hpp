#pragma once
// Work spread over the host's cores with OpenMP. Every loop here splits its range by the
// problem size alone, never by the thread count, and no two threads add into one value, so a
// result is bit-identical whether 1 or 64 threads ran it.
#include <algorithm>
#include <cstdint>

namespace kestrel::cpu {

void set_num_threads(int n);  // <= 0 restores the default (all cores)
int num_threads();

// Loops with less work than this (in simple element operations: a load, an add or compare, a
// store) run on the calling thread: waking the other threads and joining them at the barrier
// costs more than they would save (microseconds with spinning threads, tens of them when the
// threads sleep or share a busy core). Which thread computes an element never changes its
// value, so this only moves time.
inline constexpr int64_t kMinParallelWork = int64_t{1} << 15;

// f(i) for every i in [0, n): one independent output element per index. `work` estimates the
// whole loop's element operations; below kMinParallelWork, and for a single iteration, the
// loop runs on the calling thread. The default (-1) always spreads the loop over the threads.
template <class F>
void parallel_for(int64_t n, const F& f, int64_t work = -1) {
  if (n <= 1 || (work >= 0 && work < kMinParallelWork)) {
    for (int64_t i = 0; i < n; ++i) f(i);
    return;
  }
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) f(i);
}

// f(begin, end) over fixed chunks of `chunk` indices; chunk boundaries depend only on n. A
// single chunk runs on the calling thread.
template <class F>
void parallel_for_chunks(int64_t n, int64_t chunk, const F& f) {
  const int64_t chunks = (n + chunk - 1) / chunk;
  parallel_for(chunks, [&](int64_t c) { f(c * chunk, std::min(n, (c + 1) * chunk)); });
}

// Runs a single-source element functor (kernels/common) over n elements: the CPU twin of the
// CUDA grid-stride launch. work_per_element: the element operations of one call (a row
// functor's row length); launches under kMinParallelWork in all run on the calling thread.
template <class Functor>
void launch(int64_t n, const Functor& functor, int64_t work_per_element = 1) {
  parallel_for(
      n, [&](int64_t i) { functor(i); }, n * work_per_element);
}

}  // namespace kestrel::cpu
