#pragma once
// Work spread over the host's cores with OpenMP. Every loop here splits its range by the
// problem size alone, never by the thread count, and no two threads add into one value, so a
// result is bit-identical whether 1 or 64 threads ran it.
#include <algorithm>
#include <cstdint>

#include "kernels/cpu/simd.hpp"

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

// An element functor may also give the host its own loop over a range of indices,
// `void run_range(int64_t begin, int64_t end) const`, for when a loop of calls to operator()
// would not vectorise: a device flag checked with an early return (control flow in the loop)
// or scalars in memory that any float store might alias (reloaded every element). It must
// compute what operator() computes, index by index. The runners below call it instead.
template <class Functor>
concept HasRangeLoop = requires(const Functor& f, int64_t i) { f.run_range(i, i); };

namespace detail {

// One thread's share of an element launch, compiled three times: for baseline x86-64 and, on
// x86-64, for AVX2 and AVX-512 (the functor's code is inlined into each, so its loop vectorises
// to that width). Same bits at every width: kernels/cpu/simd.hpp says why.
template <class Functor>
void run_elements(int64_t begin, int64_t end, const Functor& functor) {
  if constexpr (HasRangeLoop<Functor>) {
    functor.run_range(begin, end);
  } else {
    for (int64_t i = begin; i < end; ++i) functor(i);
  }
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(__CUDACC__)
#define KESTREL_SIMD_CLONES 1
template <class Functor>
__attribute__((target("avx2,fma"), flatten)) void run_elements_avx2(int64_t begin, int64_t end,
                                                                    const Functor& functor) {
  if constexpr (HasRangeLoop<Functor>) {
    functor.run_range(begin, end);
  } else {
    for (int64_t i = begin; i < end; ++i) functor(i);
  }
}
template <class Functor>
__attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,fma"), flatten)) void run_elements_avx512(
    int64_t begin, int64_t end, const Functor& functor) {
  if constexpr (HasRangeLoop<Functor>) {
    functor.run_range(begin, end);
  } else {
    for (int64_t i = begin; i < end; ++i) functor(i);
  }
}
#endif

template <class Functor>
using ElementRunner = void (*)(int64_t, int64_t, const Functor&);

template <class Functor>
ElementRunner<Functor> element_runner() {
#if defined(KESTREL_SIMD_CLONES)
  switch (simd_level()) {
    case SimdLevel::Avx512: return &run_elements_avx512<Functor>;
    case SimdLevel::Avx2: return &run_elements_avx2<Functor>;
    case SimdLevel::Baseline: break;
  }
#endif
  return &run_elements<Functor>;
}

// f(i) for i in [0, n) at the current level: on the calling thread when one chunk holds it all,
// else chunk by chunk over the threads, one call through the runner per chunk.
template <class F>
void run_vectorised(int64_t n, int64_t chunk, const F& f) {
  const ElementRunner<F> run = element_runner<F>();
  if (n <= chunk) {
    run(0, n, f);
    return;
  }
  parallel_for_chunks(n, chunk, [&](int64_t begin, int64_t end) { run(begin, end, f); });
}

}  // namespace detail

// parallel_for for loops whose body vectorises (a plane of batch norm, a depthwise filter): the
// body is compiled into the AVX2 and AVX-512 clones too and runs at the level simd_level()
// names. Same contract as parallel_for (f(i) for each i once, any thread); same bits at every
// level as long as f computes each of its outputs on its own (simd.hpp).
template <class F>
void parallel_for_vectorised(int64_t n, const F& f, int64_t work = -1) {
  // Little work: one chunk of all n. Else 256 chunks, enough to balance the threads.
  const bool serial = work >= 0 && work < kMinParallelWork;
  detail::run_vectorised(n, serial ? n : (n + 255) / 256, f);
}

// Runs a single-source element functor (kernels/common) over n elements: the CPU twin of the
// CUDA grid-stride launch, at the widest vector level the CPU has (simd.hpp). The range is cut
// into chunks of about kMinParallelWork element operations (by n and work_per_element alone);
// a launch of one chunk runs on the calling thread. work_per_element: the element operations of
// one call (a row functor's row length).
template <class Functor>
void launch(int64_t n, const Functor& functor, int64_t work_per_element = 1) {
  detail::run_vectorised(
      n, std::max<int64_t>(1, kMinParallelWork / std::max<int64_t>(1, work_per_element)), functor);
}

}  // namespace kestrel::cpu
