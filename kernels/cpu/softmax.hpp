#pragma once
// Softmax over the rows of a row-major [rows, cols] matrix (torch.softmax(x, -1)), and its
// backward. One row per task, in parallel over rows; each row's sums run in a fixed order, so
// the bits do not depend on the thread count. In place (y == x, dx == dy) is allowed.
#include <cstdint>

namespace kestrel::cpu {

// y = exp(x - max) / sum(exp(x - max)) per row: no exp overflows, the largest term is 1.
void softmax_rows_forward(const float* x, float* y, int64_t rows, int64_t cols);
// dx = y * (dy - sum_j dy_j y_j) per row, from the forward's output y.
void softmax_rows_backward(const float* y, const float* dy, float* dx, int64_t rows,
                           int64_t cols);

}  // namespace kestrel::cpu
