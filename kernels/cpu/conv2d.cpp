#include "kernels/cpu/conv2d.hpp"

#include <algorithm>

#include "kernels/cpu/depthwise_conv2d.hpp"
#include "kernels/cpu/gemm.hpp"
#include "kernels/cpu/im2col.hpp"
#include "kernels/cpu/parallel.hpp"

namespace kestrel::cpu {

namespace {

using kernels::Conv2dGeometry;

// Slots: at most 64 (enough to balance any core count we run on), halved until their scratch
// fits 32 MiB, and never more than there are images.
constexpr int64_t kMaxSlots = 64;
constexpr int64_t kWorkspaceBudgetFloats = int64_t{8} << 20;

struct ImageSlots {
  int64_t count = 0;            // parallel iterations
  int64_t images_per_slot = 0;  // consecutive images per iteration (the last may have fewer)
};

ImageSlots plan_image_slots(int64_t images, int64_t floats_per_slot) {
  if (images == 0) return {};
  int64_t cap = kMaxSlots;
  while (cap > 1 && cap * floats_per_slot > kWorkspaceBudgetFloats) cap /= 2;
  const int64_t per_slot = (images + std::min(images, cap) - 1) / std::min(images, cap);
  return {(images + per_slot - 1) / per_slot, per_slot};
}

// Floats of one image-group's column matrix; none when the input is its own column matrix or
// the direct depthwise loops run instead.
int64_t col_floats(const Conv2dGeometry& g) {
  return g.is_pointwise() || is_direct_depthwise(g) ? 0 : g.col_rows() * g.col_cols();
}

// Runs body(image, scratch) for every image, slot by slot in parallel, images in order within
// a slot; scratch is the slot's `floats_per_slot` floats of the workspace.
template <class Body>
void for_each_image_in_slots(int64_t images, int64_t floats_per_slot, float* workspace,
                             const Body& body) {
  const ImageSlots slots = plan_image_slots(images, floats_per_slot);
  parallel_for(slots.count, [&](int64_t slot) {
    float* scratch = floats_per_slot > 0 ? workspace + slot * floats_per_slot : nullptr;
    const int64_t first = slot * slots.images_per_slot;
    const int64_t last = std::min(images, first + slots.images_per_slot);
    for (int64_t image = first; image < last; ++image) body(image, scratch);
  });
}

}  // namespace

int64_t conv2d_forward_workspace(const Conv2dGeometry& g) {
  return plan_image_slots(g.n, col_floats(g)).count * col_floats(g);
}

int64_t conv2d_backward_data_workspace(const Conv2dGeometry& g) {
  return conv2d_forward_workspace(g);
}

int64_t conv2d_backward_weight_workspace(const Conv2dGeometry& g) {
  if (is_direct_depthwise(g)) return 0;
  // Each slot needs a column matrix and a partial weight gradient; slot 0 sums straight into dw.
  const int64_t slots = plan_image_slots(g.n, col_floats(g) + g.weight_size()).count;
  return slots * col_floats(g) + std::max<int64_t>(slots - 1, 0) * g.weight_size();
}

void conv2d_forward(const Conv2dGeometry& g, const float* x, const float* w, const float* bias,
                    float* y, float* workspace) {
  if (is_direct_depthwise(g)) return depthwise_conv2d_forward(g, x, w, bias, y);
  const int64_t cg = g.channels_per_group(), kg = g.out_channels_per_group();
  const int64_t rows = g.col_rows(), positions = g.col_cols();
  for_each_image_in_slots(g.n, col_floats(g), workspace, [&](int64_t image, float* col) {
    for (int64_t group = 0; group < g.groups; ++group) {
      const float* x_group = x + image * g.input_image_size() + group * cg * g.h * g.w;
      float* y_group = y + image * g.output_image_size() + group * kg * positions;
      const float* cols = x_group;
      if (col != nullptr) {
        im2col(g, cg, x_group, col);
        cols = col;
      }
      // The bias goes in first and the GEMM accumulates onto it (beta = 1).
      if (bias != nullptr) {
        for (int64_t k = 0; k < kg; ++k)
          std::fill(y_group + k * positions, y_group + (k + 1) * positions, bias[group * kg + k]);
      }
      GemmArgs args;
      args.m = kg, args.n = positions, args.k = rows;
      args.a = w + group * kg * rows, args.lda = rows;
      args.b = cols, args.ldb = positions;
      args.beta = bias != nullptr ? 1.0f : 0.0f;
      args.c = y_group, args.ldc = positions;
      gemm_serial(args);
    }
  });
}

void conv2d_backward_data(const Conv2dGeometry& g, const float* dy, const float* w, float* dx,
                          float* workspace) {
  if (is_direct_depthwise(g)) return depthwise_conv2d_backward_data(g, dy, w, dx);
  const int64_t cg = g.channels_per_group(), kg = g.out_channels_per_group();
  const int64_t rows = g.col_rows(), positions = g.col_cols();
  for_each_image_in_slots(g.n, col_floats(g), workspace, [&](int64_t image, float* col) {
    for (int64_t group = 0; group < g.groups; ++group) {
      const float* dy_group = dy + image * g.output_image_size() + group * kg * positions;
      float* dx_group = dx + image * g.input_image_size() + group * cg * g.h * g.w;
      // dcol = W_group^T * dy_group; a pointwise conv's dcol is dx itself.
      GemmArgs args;
      args.trans_a = true;
      args.m = rows, args.n = positions, args.k = kg;
      args.a = w + group * kg * rows, args.lda = rows;
      args.b = dy_group, args.ldb = positions;
      args.c = col != nullptr ? col : dx_group, args.ldc = positions;
      gemm_serial(args);
      if (col != nullptr) col2im(g, cg, col, dx_group);
    }
  });
}

void conv2d_backward_weight(const Conv2dGeometry& g, const float* x, const float* dy, float* dw,
                            float* workspace) {
  if (is_direct_depthwise(g)) return depthwise_conv2d_backward_weight(g, x, dy, dw);
  const int64_t cg = g.channels_per_group(), kg = g.out_channels_per_group();
  const int64_t rows = g.col_rows(), positions = g.col_cols();
  const int64_t col_size = col_floats(g), weight_size = g.weight_size();
  const ImageSlots slots = plan_image_slots(g.n, col_size + weight_size);
  if (slots.count == 0) {
    std::fill(dw, dw + weight_size, 0.0f);
    return;
  }
  // Workspace: the slots' column matrices, then the partial sums of slots 1, 2, ...
  float* partials = workspace + slots.count * col_size;
  auto partial_of = [&](int64_t slot) {
    return slot == 0 ? dw : partials + (slot - 1) * weight_size;
  };
  parallel_for(slots.count, [&](int64_t slot) {
    float* col = col_size > 0 ? workspace + slot * col_size : nullptr;
    float* dw_slot = partial_of(slot);
    const int64_t first = slot * slots.images_per_slot;
    const int64_t last = std::min(g.n, first + slots.images_per_slot);
    for (int64_t image = first; image < last; ++image) {
      for (int64_t group = 0; group < g.groups; ++group) {
        const float* x_group = x + image * g.input_image_size() + group * cg * g.h * g.w;
        const float* dy_group = dy + image * g.output_image_size() + group * kg * positions;
        const float* cols = x_group;
        if (col != nullptr) {
          im2col(g, cg, x_group, col);
          cols = col;
        }
        // dw_group (+)= dy_group * cols^T; the slot's first image overwrites.
        GemmArgs args;
        args.trans_b = true;
        args.m = kg, args.n = rows, args.k = positions;
        args.a = dy_group, args.lda = positions;
        args.b = cols, args.ldb = positions;
        args.beta = image == first ? 0.0f : 1.0f;
        args.c = dw_slot + group * kg * rows, args.ldc = rows;
        gemm_serial(args);
      }
    }
  });
  // dw = ((p0 + p1) + p2) + ...: fixed slot order for every element.
  if (slots.count > 1) {
    parallel_for_chunks(weight_size, 512, [&](int64_t begin, int64_t end) {
      for (int64_t slot = 1; slot < slots.count; ++slot) {
        const float* p = partial_of(slot);
        for (int64_t i = begin; i < end; ++i) dw[i] += p[i];
      }
    });
  }
}

void conv2d_backward_bias(const Conv2dGeometry& g, const float* dy, float* db) {
  const int64_t positions = g.col_cols();
  const auto channel_sum = [&](int64_t k) {
    // Eight running sums (in double) keep the adds independent; they combine in a fixed order.
    double lanes[8] = {};
    for (int64_t image = 0; image < g.n; ++image) {
      const float* row = dy + image * g.output_image_size() + k * positions;
      int64_t i = 0;
      for (; i + 8 <= positions; i += 8)
        for (int j = 0; j < 8; ++j) lanes[j] += static_cast<double>(row[i + j]);
      for (; i < positions; ++i) lanes[i % 8] += static_cast<double>(row[i]);
    }
    double total = 0.0;
    for (double lane : lanes) total += lane;
    db[k] = static_cast<float>(total);
  };
  parallel_for(g.k, channel_sum, g.n * g.k * positions);
}

}  // namespace kestrel::cpu
