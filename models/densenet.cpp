#include "models/densenet.hpp"

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/nn/activation.hpp"
#include "engine/nn/batch_norm.hpp"
#include "engine/nn/concat.hpp"
#include "engine/nn/conv2d.hpp"
#include "engine/nn/flatten.hpp"
#include "engine/nn/linear.hpp"
#include "engine/nn/pooling.hpp"

namespace kestrel::models {

namespace {

using nn::ValueId;

constexpr int64_t kGrowth = 32;      // growth_rate
constexpr int64_t kBottleneck = 4;   // bn_size: the 1x1 convolution gives 4 * 32 channels
constexpr int64_t kInitFeatures = 64;

nn::Conv2dOptions conv_options(int stride, int padding) {
  return nn::Conv2dOptions{.stride = stride,
                           .padding = padding,
                           .bias = false,
                           .weight_init = nn::ParamInit::KaimingNormalFanIn};
}

ValueId concat(nn::Graph& g, const std::string& name, const std::vector<ValueId>& values) {
  return g.add(std::make_unique<nn::Concat>(name), std::span<const ValueId>(values));
}

// features.denseblock<b> of `layers` dense layers reading x with `in` channels; returns the
// block's output (in + layers * growth channels).
ValueId dense_block(nn::Graph& g, int b, ValueId x, int64_t in, int layers) {
  std::string block = "features.denseblock";
  block += std::to_string(b);
  std::vector<ValueId> features{x};
  for (int l = 1; l <= layers; ++l) {
    std::string prefix = block;
    prefix += ".denselayer";
    prefix += std::to_string(l);
    // Every layer reads all the block's features so far; the first the block input itself.
    const ValueId input = l == 1 ? x : concat(g, prefix + ".cat", features);
    const int64_t channels = in + (l - 1) * kGrowth;
    g.node<nn::BatchNorm2d>({input}, prefix + ".norm1", channels);
    g.add<nn::ReLU>(prefix + ".relu1");
    g.add<nn::Conv2d>(prefix + ".conv1", channels, kBottleneck * kGrowth, 1, conv_options(1, 0));
    g.add<nn::BatchNorm2d>(prefix + ".norm2", kBottleneck * kGrowth);
    g.add<nn::ReLU>(prefix + ".relu2");
    g.add<nn::Conv2d>(prefix + ".conv2", kBottleneck * kGrowth, kGrowth, 3, conv_options(1, 1));
    features.push_back(g.last_value());
  }
  return concat(g, block + ".cat", features);
}

// features.transition<b>: batch norm, ReLU, 1x1 convolution to `out` channels, 2x2 average pool.
void transition(nn::Graph& g, int b, int64_t in, int64_t out) {
  std::string prefix = "features.transition";
  prefix += std::to_string(b);
  g.add<nn::BatchNorm2d>(prefix + ".norm", in);
  g.add<nn::ReLU>(prefix + ".relu");
  g.add<nn::Conv2d>(prefix + ".conv", in, out, 1, conv_options(1, 0));
  g.add<nn::AvgPool2d>(prefix + ".pool", 2, nn::PoolOptions{.stride = 2});
}

}  // namespace

std::unique_ptr<nn::Graph> densenet121(const ModelInput& in) {
  auto g = std::make_unique<nn::Graph>();
  const bool small_images = in.height <= 32 && in.width <= 32;
  if (small_images) {
    g->add<nn::Conv2d>("features.conv0", in.channels, kInitFeatures, 3, conv_options(1, 1));
  } else {
    g->add<nn::Conv2d>("features.conv0", in.channels, kInitFeatures, 7, conv_options(2, 3));
  }
  g->add<nn::BatchNorm2d>("features.norm0", kInitFeatures);
  g->add<nn::ReLU>("features.relu0");
  if (!small_images)
    g->add<nn::MaxPool2d>("features.pool0", 3, nn::PoolOptions{.stride = 2, .padding = 1});

  const int block_layers[] = {6, 12, 24, 16};
  int64_t channels = kInitFeatures;
  for (int b = 1; b <= 4; ++b) {
    dense_block(*g, b, g->last_value(), channels, block_layers[b - 1]);
    channels += block_layers[b - 1] * kGrowth;
    if (b < 4) {
      transition(*g, b, channels, channels / 2);
      channels /= 2;
    }
  }
  g->add<nn::BatchNorm2d>("features.norm5", channels);
  // torchvision's forward: F.relu, F.adaptive_avg_pool2d, torch.flatten, then the classifier.
  g->add<nn::ReLU>("relu");
  g->add<nn::AdaptiveAvgPool2d>("avgpool", 1, 1);
  g->add<nn::Flatten>("flatten");
  g->add<nn::Linear>("classifier", channels, in.classes,
                     nn::LinearOptions{.weight_init = nn::ParamInit::LinearDefault,
                                       .bias_init = nn::ParamInit::Zeros});
  return g;
}

}  // namespace kestrel::models
