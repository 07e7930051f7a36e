#pragma once
// The vector instruction set the host's element-wise loops run with, chosen at run time.
//
// kestrel's CPU code is compiled for baseline x86-64, so a loop over an element functor
// vectorises to SSE2's four float lanes. cpu::launch (parallel.hpp) also compiles each loop for
// AVX2 and for AVX-512 and runs the widest one the CPU has, as ATen does. That changes no bit:
// an element functor computes each element by itself, and every lane runs the same IEEE
// operations at any width (no a*b+c contraction, -ffp-contract=off holds in the clones too; no
// fast-math, so no approximate reciprocals and no reordered sums). The clones enable FMA, so an
// explicit fmaf (fp::fma_rn) is one instruction there instead of a library call that stops the
// loop from vectorising; both round once. tests/kernels/simd_test.cpp checks it functor by
// functor.
//
// KESTREL_CPU_SIMD=baseline|avx2|avx512 caps the level (as ONEDNN_MAX_CPU_ISA caps oneDNN's),
// for measuring one against another; a level the CPU lacks is lowered to what it has.
#include <optional>
#include <string_view>

namespace kestrel::cpu {

enum class SimdLevel { Baseline = 0, Avx2 = 1, Avx512 = 2 };

// The widest level this CPU and this build can run (Baseline off x86-64).
SimdLevel simd_level_supported();

// The level launches use now: the supported one, capped by KESTREL_CPU_SIMD (read once; any
// other value than the three names is warned about on stderr and ignored: the first read may
// be inside a parallel loop, where nothing may throw) and by set_simd_level.
SimdLevel simd_level();

// Uses `level`, lowered to simd_level_supported(); returns the level now in use. For tests and
// benchmarks that compare levels.
SimdLevel set_simd_level(SimdLevel level);

std::string_view simd_level_name(SimdLevel level);
std::optional<SimdLevel> parse_simd_level(std::string_view name);

}  // namespace kestrel::cpu
