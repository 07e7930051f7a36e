#pragma once
// 2-D convolution on the host through oneDNN (Debian's libdnnl, the library PyTorch's CPU
// convolutions run on), for builds that found it (KESTREL_HAVE_ONEDNN). oneDNN picks its own
// blocked layouts and ISA (AVX-512 where the CPU has it); the operands are reordered into them
// and the result back, in caller-provided scratch. Primitives are built once per geometry and
// kept for the process.
//
// Unlike cpu::conv2d_* (im2col + GEMM), the weight gradient's reduction over the batch is split
// by oneDNN across threads: results are the same run to run at one thread count, not across
// thread counts. Layouts and meaning as in conv2d.hpp.
#include <cstddef>
#include <string>

#include "kernels/common/conv2d_geometry.hpp"

namespace kestrel::cpu::onednn {

// Whether this build has the oneDNN path.
bool built();
// The algorithm new primitives ask oneDNN for. Auto (the default): Winograd F(4x4, 3x3) where
// oneDNN's heuristic expects it to beat direct (3x3 stride-1 layers on AVX-512, decided per pass
// and shape; its "jit_wino_4x3"), direct elsewhere. Direct: what PyTorch asks for. KESTREL_ONEDNN_CONV=direct picks Direct at start-up. Winograd's transforms round
// more (ResNet-20's 32-channel layer at batch 32: worst error against float64 4e-5 where direct's
// is 1e-5, on outputs of order 10); its bits, like direct's, depend on the geometry and the
// thread count only.
enum class ConvAlgorithm { Auto, Direct };
ConvAlgorithm conv_algorithm();
// For the convolutions that follow (each geometry is built once per algorithm and kept); not
// while another thread runs convolutions (a pass's scratch size is asked for separately).
void set_conv_algorithm(ConvAlgorithm a);

enum class ConvPass { Forward, BackwardData, BackwardWeight };
// The implementation oneDNN runs for this geometry's pass under the current algorithm (its
// impl_info_str: "jit_wino_4x3:avx512_core", "jit:avx512_core", ...).
std::string implementation(const kernels::Conv2dGeometry& g, ConvPass pass);

// "oneDNN 2.6.3 (avx512_core)": the library and the ISA it dispatches to, for `devices`.
std::string describe();

// Whether oneDNN takes this geometry: any group count, padding that keeps the output size
// kestrel computes. Others run on cpu::conv2d_*.
bool supports(const kernels::Conv2dGeometry& g);

// Bytes of scratch each pass needs for its reordered operands (0: none).
size_t forward_workspace_bytes(const kernels::Conv2dGeometry& g, bool bias);
size_t backward_data_workspace_bytes(const kernels::Conv2dGeometry& g);
size_t backward_weight_workspace_bytes(const kernels::Conv2dGeometry& g);

void conv2d_forward(const kernels::Conv2dGeometry& g, const float* x, const float* w,
                    const float* bias, float* y, void* workspace);
void conv2d_backward_data(const kernels::Conv2dGeometry& g, const float* dy, const float* w,
                          float* dx, void* workspace);
void conv2d_backward_weight(const kernels::Conv2dGeometry& g, const float* x, const float* dy,
                            float* dw, void* workspace);

}  // namespace kestrel::cpu::onednn
