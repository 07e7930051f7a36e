#pragma once
// BatchLoader: float batches from an ImageDataset held as bytes on the training device.
// The images and labels go to the context's device once; each epoch uploads its order (N
// int32s) and draws every sample's crop and flip in one launch; each batch is then one
// batch-assembly launch and one label gather (kernels/common/batch_assembly.hpp) on the
// context's device. No host work per batch beyond two launches.
//
//   BatchLoader loader(train_set, ctx, LoaderOptions::for_training(128, Normalization::cifar10(),
//                                                                  {.crop_padding = 4, .hflip = true}, seed));
//   for (int64_t epoch = 0; epoch < epochs; ++epoch) {
//     loader.start_epoch(epoch);
//     for (Batch batch; loader.next(batch);) step(batch.images, batch.labels);
//   }
//
// A batch's tensors are views of buffers the loader allocates once: the next call to next()
// overwrites them (on a GPU, in stream order after the work queued before it).
//
// Data parallel (shard_count R > 1): rank r visits data::shard(epoch order, r, R), in batches of
// batch_size B. Step s of the R ranks then covers exactly the rows of step s of one loader with
// batch B x R (the global batch): rank r holds its rows r, r + R, r + 2R, ... Every rank takes
// the same number of steps (the global batch count), so near the end of an epoch a rank's batch
// may be short or even empty (size 0, undefined tensors) while it still joins the step's
// collectives. An evaluation loader simply walks its shard: evaluation has no lockstep.
#include <cstdint>
#include <vector>

#include "engine/data/augment.hpp"
#include "engine/data/dataset.hpp"
#include "engine/data/normalization.hpp"
#include "engine/runtime/context.hpp"
#include "engine/tensor/tensor.hpp"

namespace kestrel::data {

// torchvision's RandomCrop(size = image size, padding = crop_padding, padding_mode) and
// RandomHorizontalFlip(p = 0.5), or airbench's alternating flips. All off by default.
struct AugmentOptions {
  int crop_padding = 0;  // > 0: pad by this much on every side, crop back at random
  bool hflip = false;
  // Reflect: padding_mode='reflect', which needs crop_padding < the images' height and width.
  PaddingMode padding_mode = PaddingMode::Zero;
  // With hflip: each sample draws one coin (seed, sample) and is flipped on epoch e iff
  // coin XOR (e odd), so it is seen both ways in every pair of epochs (airbench's scheme);
  // without it, an independent coin per sample and epoch.
  bool alternate_flip = false;

  bool enabled() const { return crop_padding > 0 || hflip; }
};

enum class LoaderPurpose { Training, Evaluation };

struct LoaderOptions {
  int64_t batch_size = 128;
  bool shuffle = true;
  bool drop_last = false;  // drop the last batch when it has fewer than batch_size samples
  AugmentOptions augment;
  Normalization normalization;
  uint64_t seed = 0;  // drives the shuffle and the augmentation
  LoaderPurpose purpose = LoaderPurpose::Training;
  int shard_rank = 0;   // this rank's shard of every epoch (data parallel) ...
  int shard_count = 1;  // ... out of this many

  static LoaderOptions for_training(int64_t batch_size, Normalization normalization,
                                    AugmentOptions augment = {}, uint64_t seed = 0,
                                    bool drop_last = false);
  // In order, every sample once, never augmented. A loader built for evaluation rejects
  // augmentation and drop_last.
  static LoaderOptions for_evaluation(int64_t batch_size, Normalization normalization);
};

struct Batch {
  Tensor images;   // f32 [b, C, H, W] on the loader's device (undefined when b is 0)
  Tensor labels;   // i32 [b]
  Tensor indices;  // i32 [b]: the dataset index of each row
  int64_t size = 0;   // b: batch_size, or fewer for the last batch of an epoch (0: see above)
  int64_t index = 0;  // the batch's number within its epoch
};

class BatchLoader {
 public:
  // Throws kestrel::Error naming the bad option or dataset property.
  BatchLoader(const ImageDataset& dataset, const Context& ctx, LoaderOptions options);

  // Resets to the first batch of `epoch` (>= 0): its order and augmentation are a pure
  // function of (seed, epoch), so any epoch can be replayed or resumed.
  void start_epoch(int64_t epoch);
  // Assembles the next batch of the current epoch into `out`; false when the epoch is over.
  bool next(Batch& out);

  // Training: the global batch count, the same on every rank. Evaluation: this rank's.
  int64_t batches_per_epoch() const;
  // The rows of global batch `index` over all ranks (training): batch_size x shard_count, or
  // fewer for the last batch of an epoch. The divisor of a data-parallel step's mean.
  int64_t global_batch_rows(int64_t index) const;
  int64_t size() const { return samples_; }
  int64_t epoch() const { return epoch_; }
  const LoaderOptions& options() const { return options_; }
  const Context& context() const { return ctx_; }

 private:
  Context ctx_;
  LoaderOptions options_;
  int64_t samples_ = 0;
  int64_t shard_samples_ = 0;  // this rank's share of every epoch
  int64_t epoch_ = -1;
  int64_t cursor_ = 0;  // position of the next batch's first sample in the epoch's order
  int64_t batch_index_ = 0;

  // On the context's device.
  Tensor images_;     // u8 [N, C, H, W]
  Tensor labels_;     // i32 [N]
  Tensor order_;      // i32 [N]: this epoch's dataset indices in visiting order (its shard)
  Tensor crop_flip_;  // i32 [N, 3]: this epoch's (dy, dx, flip) per dataset index, if augmenting
  Tensor batch_images_;  // f32 [rows, C, H, W], rows = min(batch_size, N)
  Tensor batch_labels_;  // i32 [rows]
};

}  // namespace kestrel::data
