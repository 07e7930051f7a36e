#include "engine/data/loader.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "engine/data/sampler.hpp"
#include "engine/ops/dispatch.hpp"
#include "engine/runtime/nvtx.hpp"
#include "kernels/common/batch_assembly.hpp"
#include "kernels/common/data_streams.hpp"
#include "kernels/cpu/batch_assembly.hpp"

namespace kestrel::data {

LoaderOptions LoaderOptions::for_training(int64_t batch_size, Normalization normalization,
                                          AugmentOptions augment, uint64_t seed, bool drop_last) {
  LoaderOptions o;
  o.batch_size = batch_size;
  o.shuffle = true;
  o.drop_last = drop_last;
  o.augment = augment;
  o.normalization = std::move(normalization);
  o.seed = seed;
  o.purpose = LoaderPurpose::Training;
  return o;
}

LoaderOptions LoaderOptions::for_evaluation(int64_t batch_size, Normalization normalization) {
  LoaderOptions o;
  o.batch_size = batch_size;
  o.shuffle = false;
  o.drop_last = false;
  o.normalization = std::move(normalization);
  o.purpose = LoaderPurpose::Evaluation;
  return o;
}

namespace {

void check_options(const LoaderOptions& o, const Tensor& images) {
  const int64_t channels = images.dim(1);
  KESTREL_CHECK(o.batch_size >= 1, "BatchLoader: batch_size must be >= 1, got {}", o.batch_size);
  KESTREL_CHECK(o.augment.crop_padding >= 0, "BatchLoader: crop_padding must be >= 0, got {}",
                o.augment.crop_padding);
  // Reflection maps padding index -P to P, which must be inside the image (as F.pad requires).
  KESTREL_CHECK(
      o.augment.padding_mode != PaddingMode::Reflect ||
          (o.augment.crop_padding < images.dim(2) && o.augment.crop_padding < images.dim(3)),
      "BatchLoader: reflect padding {} must be smaller than the images ({}x{})",
      o.augment.crop_padding, images.dim(2), images.dim(3));
  KESTREL_CHECK(o.shard_count >= 1 && o.shard_rank >= 0 && o.shard_rank < o.shard_count,
                "BatchLoader: shard {} of {} does not exist (rank must be in [0, count))",
                o.shard_rank, o.shard_count);
  if (o.purpose == LoaderPurpose::Evaluation) {
    KESTREL_CHECK(!o.augment.enabled(),
                  "BatchLoader: an evaluation loader must not augment (crop_padding {}, hflip {})",
                  o.augment.crop_padding, o.augment.hflip);
    KESTREL_CHECK(!o.drop_last, "BatchLoader: an evaluation loader must not drop_last "
                                "(every sample is evaluated)");
  }
  const auto per_channel = [&](const std::vector<float>& v, const char* what) {
    KESTREL_CHECK(v.size() == 1 || static_cast<int64_t>(v.size()) == channels,
                  "BatchLoader: normalization {} has {} values but the images have {} channels",
                  what, v.size(), channels);
  };
  per_channel(o.normalization.mean, "mean");
  per_channel(o.normalization.std, "std");
  for (float s : o.normalization.std)
    KESTREL_CHECK(std::isfinite(s) && s > 0.0f, "BatchLoader: normalization std must be > 0, got {}",
                  s);
  for (float m : o.normalization.mean)
    KESTREL_CHECK(std::isfinite(m), "BatchLoader: normalization mean must be finite, got {}", m);
}

kernels::ChannelNormalization channel_normalization(const Normalization& n, int64_t channels) {
  kernels::ChannelNormalization out;
  for (int64_t c = 0; c < channels; ++c) {
    const auto k = static_cast<size_t>(c);
    out.mean[c] = n.mean.size() == 1 ? n.mean[0] : n.mean[k];
    out.std[c] = n.std.size() == 1 ? n.std[0] : n.std[k];
  }
  return out;
}

kernels::BatchGeometry geometry_of(const Tensor& images, const AugmentOptions& augment) {
  kernels::BatchGeometry g;
  g.channels = static_cast<int32_t>(images.dim(1));
  g.height = static_cast<int32_t>(images.dim(2));
  g.width = static_cast<int32_t>(images.dim(3));
  g.out_height = g.height;
  g.out_width = g.width;
  g.padding = augment.crop_padding;
  g.pad_mode = augment.padding_mode == PaddingMode::Reflect ? kernels::PadMode::Reflect
                                                            : kernels::PadMode::Zero;
  return g;
}

// The dataset's tensor where it already lives on the device (never written), else a copy there.
Tensor on_device(const Tensor& t, Device device) {
  return t.device() == device ? t : t.to(device);
}

}  // namespace

BatchLoader::BatchLoader(const ImageDataset& dataset, const Context& ctx, LoaderOptions options)
    : ctx_(ctx), options_(std::move(options)) {
  const Tensor& images = dataset.images;
  KESTREL_CHECK(images.defined() && images.ndim() == 4 && images.dtype() == DType::U8,
                "BatchLoader: dataset '{}' images must be u8 [N, C, H, W], got {}", dataset.name,
                images.str());
  samples_ = images.dim(0);
  KESTREL_CHECK(samples_ >= 1, "BatchLoader: dataset '{}' is empty", dataset.name);
  KESTREL_CHECK(samples_ <= std::numeric_limits<int32_t>::max(),
                "BatchLoader: dataset '{}' has {} samples, more than 2^31 - 1", dataset.name,
                samples_);
  KESTREL_CHECK(images.dim(1) >= 1 && images.dim(1) <= kernels::kMaxBatchChannels,
                "BatchLoader: dataset '{}' has {} channels, the loader handles 1 to {}",
                dataset.name, images.dim(1), kernels::kMaxBatchChannels);
  KESTREL_CHECK(images.dim(2) >= 1 && images.dim(3) >= 1,
                "BatchLoader: dataset '{}' has empty images ({})", dataset.name, images.str());
  const Tensor& labels = dataset.labels;
  KESTREL_CHECK(labels.defined() && labels.dtype() == DType::I32 && labels.ndim() == 1 &&
                    labels.dim(0) == samples_,
                "BatchLoader: dataset '{}' labels must be i32 [{}], got {}", dataset.name,
                samples_, labels.str());
  check_options(options_, images);
  // Checked once here, so that no op has to read a batch's labels back from the device.
  KESTREL_CHECK(dataset.classes >= 1, "BatchLoader: dataset '{}' has {} classes", dataset.name,
                dataset.classes);
  {
    const std::vector<int32_t> host = labels.to_int_vector();
    for (size_t i = 0; i < host.size(); ++i)
      KESTREL_CHECK(host[i] >= 0 && host[i] < dataset.classes,
                    "BatchLoader: dataset '{}' label {} of sample {} is outside [0, {})",
                    dataset.name, host[i], i, dataset.classes);
  }
  shard_samples_ = shard_size(samples_, options_.shard_rank, options_.shard_count);

  images_ = on_device(images, ctx_.device());
  labels_ = on_device(labels, ctx_.device());
  order_ = Tensor::empty(Shape{samples_}, DType::I32, ctx_.device());
  if (options_.augment.enabled())
    crop_flip_ = Tensor::empty(Shape{samples_, 3}, DType::I32, ctx_.device());
  const int64_t rows = std::min(options_.batch_size, samples_);
  batch_images_ = Tensor::empty(Shape{rows, images.dim(1), images.dim(2), images.dim(3)},
                                DType::F32, ctx_.device());
  batch_labels_ = Tensor::empty(Shape{rows}, DType::I32, ctx_.device());
}

int64_t BatchLoader::batches_per_epoch() const {
  const int64_t b = options_.batch_size;
  if (options_.purpose == LoaderPurpose::Evaluation) return (shard_samples_ + b - 1) / b;
  const int64_t global = b * options_.shard_count;
  return options_.drop_last ? samples_ / global : (samples_ + global - 1) / global;
}

int64_t BatchLoader::global_batch_rows(int64_t index) const {
  KESTREL_CHECK(index >= 0 && index < batches_per_epoch(),
                "BatchLoader: no batch {} in an epoch of {} batches", index, batches_per_epoch());
  const int64_t global = options_.batch_size * options_.shard_count;
  return std::min(global, samples_ - index * global);
}

void BatchLoader::start_epoch(int64_t epoch) {
  KESTREL_CHECK(epoch >= 0, "BatchLoader: epoch must be >= 0, got {}", epoch);
  NvtxRange range("start_epoch");
  std::vector<int32_t> order = epoch_permutation(samples_, options_.seed, epoch, options_.shuffle);
  if (options_.shard_count > 1) order = shard(order, options_.shard_rank, options_.shard_count);
  if (shard_samples_ > 0)
    order_.slice(0, shard_samples_).copy_from(Tensor::from_vector(Shape{shard_samples_}, order));

  if (options_.augment.enabled()) {
    kernels::AugmentSpec spec;
    spec.seed = options_.seed;
    spec.stream = rng::data_stream(rng::DataPurpose::Augment, epoch);
    spec.random_crop = options_.augment.crop_padding > 0;
    spec.hflip = options_.augment.hflip;
    spec.alternate_flip = options_.augment.alternate_flip;
    spec.epoch = epoch;
    ops::detail::launch_elementwise(
        ctx_, samples_,
        kernels::DrawCropFlip{spec, geometry_of(images_, options_.augment),
                              crop_flip_.data<int32_t>()});
  }
  epoch_ = epoch;
  cursor_ = 0;
  batch_index_ = 0;
}

bool BatchLoader::next(Batch& out) {
  KESTREL_CHECK(epoch_ >= 0, "BatchLoader: call start_epoch(epoch) before next()");
  if (batch_index_ >= batches_per_epoch()) return false;
  const int64_t b = std::clamp<int64_t>(shard_samples_ - cursor_, 0, options_.batch_size);
  if (b == 0) {  // a rank whose shard ran out before the epoch's last global batch
    out = Batch{};
    out.index = batch_index_++;
    return true;
  }
  NvtxRange range("assemble_batch");
  const bool full = b == batch_images_.dim(0);
  out.images = full ? batch_images_ : batch_images_.slice(0, b);
  out.labels = full ? batch_labels_ : batch_labels_.slice(0, b);
  out.indices = order_.slice(cursor_, cursor_ + b);
  out.size = b;
  out.index = batch_index_;

  const kernels::BatchGeometry g = geometry_of(images_, options_.augment);
  const int32_t* indices = out.indices.data<int32_t>();
  const kernels::ChannelNormalization norm =
      channel_normalization(options_.normalization, g.channels);
  const int32_t* crop_flip = options_.augment.enabled() ? crop_flip_.data<int32_t>() : nullptr;
  if (ctx_.is_cuda()) {
    ops::detail::launch_elementwise(
        ctx_, out.images.numel(),
        kernels::AssembleBatch{g, norm, images_.data<uint8_t>(), indices, crop_flip,
                               out.images.data<float>()});
  } else {  // row by row through a table of normalised bytes, the functor's bits
    cpu::assemble_batch(g, norm, images_.data<uint8_t>(), indices, crop_flip, b,
                        out.images.data<float>());
  }
  ops::detail::launch_elementwise(
      ctx_, b, kernels::GatherLabels{labels_.data<int32_t>(), indices, out.labels.data<int32_t>()});

  cursor_ += b;
  ++batch_index_;
  return true;
}

}  // namespace kestrel::data
