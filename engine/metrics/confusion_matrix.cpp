#include "engine/metrics/confusion_matrix.hpp"

#include <algorithm>
#include <utility>

#include "kernels/common/error.hpp"

namespace kestrel::metrics {

ConfusionMatrix::ConfusionMatrix(int classes) : classes_(classes) {
  KESTREL_CHECK(classes >= 1, "confusion matrix needs at least one class, got {}", classes);
  counts_.assign(static_cast<size_t>(classes) * static_cast<size_t>(classes), 0);
}

ConfusionMatrix ConfusionMatrix::from_counts(int classes, std::vector<int64_t> counts) {
  ConfusionMatrix m(classes);
  KESTREL_CHECK(counts.size() == m.counts_.size(),
                "confusion matrix: {} counts for {} classes (expected {})", counts.size(), classes,
                m.counts_.size());
  for (int64_t c : counts) {
    KESTREL_CHECK(c >= 0, "confusion matrix: a count of {}", c);
    m.total_ += c;
  }
  m.counts_ = std::move(counts);
  return m;
}

void ConfusionMatrix::add(const int32_t* labels, const int32_t* predicted, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    KESTREL_CHECK(
        labels[i] >= 0 && labels[i] < classes_ && predicted[i] >= 0 && predicted[i] < classes_,
        "confusion matrix: pair {} (true {}, predicted {}) is outside [0, {})", i, labels[i],
        predicted[i], classes_);
    ++counts_[static_cast<size_t>(labels[i]) * static_cast<size_t>(classes_) +
              static_cast<size_t>(predicted[i])];
  }
  total_ += n;
}

void ConfusionMatrix::merge(const ConfusionMatrix& other) {
  KESTREL_CHECK(other.classes_ == classes_, "confusion matrix: cannot merge {} classes into {}",
                other.classes_, classes_);
  for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  total_ += other.total_;
}

void ConfusionMatrix::clear() {
  std::fill(counts_.begin(), counts_.end(), 0);
  total_ = 0;
}

int64_t ConfusionMatrix::count(int true_class, int predicted_class) const {
  KESTREL_CHECK(true_class >= 0 && true_class < classes_ && predicted_class >= 0 &&
                    predicted_class < classes_,
                "confusion matrix: cell ({}, {}) is outside {} classes", true_class,
                predicted_class, classes_);
  return counts_[static_cast<size_t>(true_class) * static_cast<size_t>(classes_) +
                 static_cast<size_t>(predicted_class)];
}

int64_t ConfusionMatrix::correct() const {
  int64_t c = 0;
  for (int k = 0; k < classes_; ++k) c += count(k, k);
  return c;
}

double ConfusionMatrix::accuracy() const {
  return total_ == 0 ? 0.0 : static_cast<double>(correct()) / static_cast<double>(total_);
}

std::vector<ClassScores> ConfusionMatrix::per_class() const {
  std::vector<ClassScores> scores(static_cast<size_t>(classes_));
  for (int k = 0; k < classes_; ++k) {
    int64_t predicted = 0, actual = 0;
    for (int j = 0; j < classes_; ++j) {
      predicted += count(j, k);
      actual += count(k, j);
    }
    const double tp = static_cast<double>(count(k, k));
    ClassScores& s = scores[static_cast<size_t>(k)];
    s.support = actual;
    s.precision = predicted == 0 ? 0.0 : tp / static_cast<double>(predicted);
    s.recall = actual == 0 ? 0.0 : tp / static_cast<double>(actual);
    s.f1 = s.precision + s.recall == 0.0 ? 0.0
                                         : 2.0 * s.precision * s.recall / (s.precision + s.recall);
  }
  return scores;
}

double ConfusionMatrix::macro_f1() const {
  double sum = 0.0;
  for (const ClassScores& s : per_class()) sum += s.f1;
  return sum / classes_;
}

}  // namespace kestrel::metrics
