#pragma once
// Classification metrics beyond accuracy: the confusion matrix and what it gives per class
// (precision, recall, F1) and overall (accuracy, macro-F1). CIFAR-10's cat/dog confusion and
// MNIST's 4/9 show up here, not in a single accuracy figure.
#include <cstdint>
#include <vector>

namespace kestrel::metrics {

struct ClassScores {
  double precision = 0.0;  // of the predictions of this class, the share that were right
  double recall = 0.0;     // of the samples of this class, the share found
  double f1 = 0.0;         // harmonic mean of the two
  int64_t support = 0;     // samples whose true class this is
};

class ConfusionMatrix {
 public:
  explicit ConfusionMatrix(int classes);
  // A matrix with these row-major [true][predicted] counts (e.g. summed over data-parallel
  // ranks); counts must hold classes x classes values >= 0.
  static ConfusionMatrix from_counts(int classes, std::vector<int64_t> counts);

  // Counts n (true, predicted) pairs; both in [0, classes) (kestrel::Error otherwise).
  void add(const int32_t* labels, const int32_t* predicted, int64_t n);
  void merge(const ConfusionMatrix& other);
  void clear();

  int classes() const { return classes_; }
  int64_t count(int true_class, int predicted_class) const;
  int64_t total() const { return total_; }
  int64_t correct() const;
  double accuracy() const;
  // Precision of a class no sample was predicted as is 0 (scikit-learn's zero_division=0);
  // such classes still count in the macro average.
  std::vector<ClassScores> per_class() const;
  double macro_f1() const;
  // Row-major [true][predicted] counts.
  const std::vector<int64_t>& counts() const { return counts_; }

 private:
  int classes_;
  int64_t total_ = 0;
  std::vector<int64_t> counts_;
};

}  // namespace kestrel::metrics
