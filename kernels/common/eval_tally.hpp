#pragma once
// Evaluation's bookkeeping on the device, so that evaluating a split waits for the device once
// at the end instead of after every batch: the confusion counts, the top-5 hits and the first
// misclassified test images accumulate in device memory, one call per batch (the loss and the
// top-1 hits go through the step ledger, as in training).
#include <cstdint>

#include "kernels/common/hd.hpp"

namespace kestrel::kernels {

// A test image the model got wrong.
struct EvalRecord {
  int64_t index;      // in the test split
  int32_t label;
  int32_t predicted;
  double confidence;  // softmax probability of the prediction
};

struct EvalTotals {
  int64_t top5_hits;
  int64_t recorded;  // misclassified images recorded so far (at most the capacity)
};

// One call per batch, after argmax and top-k hits: rows in order, so the records are the
// first misclassified images in test order, as the host found them. Labels outside [0,
// classes) are not counted (their loss is NaN, which the caller reports).
struct AccumulateEvalBatch {
  const float* logits;      // [rows, classes]
  const int32_t* labels;    // [rows]
  const int32_t* predicted; // [rows], argmax
  const int32_t* top5;      // [rows] hits, or null
  const int32_t* indices;   // [rows] test-split index of each row
  int64_t rows;
  int64_t classes;
  int64_t* confusion;  // [classes, classes], row = true class
  EvalTotals* totals;
  EvalRecord* records;  // [capacity]
  int64_t capacity;

  KESTREL_HD void operator()(int64_t) const {
    for (int64_t r = 0; r < rows; ++r) {
      const int32_t label = labels[r], pred = predicted[r];
      if (label < 0 || label >= classes) continue;
      confusion[label * classes + pred] += 1;
      if (top5 != nullptr) totals->top5_hits += top5[r];
      if (label == pred || totals->recorded >= capacity) continue;
      // Softmax probability of the prediction from the row's logits, in the stable form.
      const float* z = logits + r * classes;
      double denom = 0.0;
      for (int64_t k = 0; k < classes; ++k)
        denom += ::exp(static_cast<double>(z[k]) - static_cast<double>(z[pred]));
      records[totals->recorded++] = EvalRecord{indices[r], label, pred, 1.0 / denom};
    }
  }
};

}  // namespace kestrel::kernels
