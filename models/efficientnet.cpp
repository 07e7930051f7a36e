#include "models/efficientnet.hpp"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <string>

#include "engine/nn/activation.hpp"
#include "engine/nn/add.hpp"
#include "engine/nn/conv2d.hpp"
#include "engine/nn/drop_path.hpp"
#include "engine/nn/dropout.hpp"
#include "engine/nn/flatten.hpp"
#include "engine/nn/linear.hpp"
#include "engine/nn/pooling.hpp"
#include "engine/nn/scale_channels.hpp"
#include "models/conv_norm_activation.hpp"

namespace kestrel::models {

namespace {

using nn::ValueId;

struct Stage {
  int expand;  // t
  int kernel;
  int stride;
  int64_t channels;
  int blocks;
};

constexpr Stage kStages[] = {{1, 3, 1, 16, 1},  {6, 3, 2, 24, 2},  {6, 5, 2, 40, 2},
                             {6, 3, 2, 80, 3},  {6, 5, 1, 112, 3}, {6, 5, 2, 192, 4},
                             {6, 3, 1, 320, 1}};
constexpr int kBlocks = 16;
constexpr float kStochasticDepth = 0.2f;

// torchvision's SqueezeExcitation named `prefix` on `features` (channels wide); returns the
// rescaled features.
ValueId squeeze_excitation(nn::Graph& g, const std::string& prefix, ValueId features,
                           int64_t channels, int64_t squeeze) {
  const nn::Conv2dOptions conv{.bias = true,
                               .weight_init = nn::ParamInit::KaimingNormalFanOut,
                               .bias_init = nn::ParamInit::Zeros};
  g.node<nn::AdaptiveAvgPool2d>({features}, prefix + ".avgpool", 1, 1);
  g.add<nn::Conv2d>(prefix + ".fc1", channels, squeeze, 1, conv);
  g.add<nn::SiLU>(prefix + ".activation");
  g.add<nn::Conv2d>(prefix + ".fc2", squeeze, channels, 1, conv);
  const ValueId scale = g.node<nn::Sigmoid>({g.last_value()}, prefix + ".scale_activation");
  return g.node<nn::ScaleChannels>({features, scale}, prefix + ".scale");
}

// One MBConv block named `prefix` ("features.3.1") reading x; returns its output.
ValueId mbconv(nn::Graph& g, const std::string& prefix, ValueId x, int64_t in, int64_t out,
               int kernel, int stride, int expand, float drop_path) {
  const int64_t hidden = in * expand;
  const std::string block = prefix + ".block.";
  int unit = 0;
  ValueId h = x;
  if (hidden != in)
    h = conv_norm_activation(g, block + std::to_string(unit++), h, in, hidden, 1, 1, 1,
                             Activation::SiLU);
  h = conv_norm_activation(g, block + std::to_string(unit++), h, hidden, hidden, kernel, stride,
                           static_cast<int>(hidden), Activation::SiLU);
  h = squeeze_excitation(g, block + std::to_string(unit++), h, hidden, std::max<int64_t>(1, in / 4));
  h = conv_norm_activation(g, block + std::to_string(unit), h, hidden, out, 1, 1, 1,
                           Activation::None);
  if (stride != 1 || in != out) return h;
  g.add<nn::DropPath>(prefix + ".stochastic_depth", drop_path);
  return g.node<nn::Add>({g.last_value(), x}, prefix + ".add");
}

}  // namespace

std::unique_ptr<nn::Graph> efficientnet_b0(const ModelInput& in) {
  auto g = std::make_unique<nn::Graph>();
  const bool small_images = in.height <= 32 && in.width <= 32;
  ValueId x = conv_norm_activation(*g, "features.0", nn::Graph::kInput, in.channels, 32, 3,
                                   small_images ? 1 : 2, 1, Activation::SiLU);
  int64_t width = 32;
  int block_index = 0;
  for (int s = 0; s < static_cast<int>(std::size(kStages)); ++s) {
    const Stage& stage = kStages[s];
    for (int b = 0; b < stage.blocks; ++b) {
      int stride = b == 0 ? stage.stride : 1;
      if (small_images && stage.channels == 24) stride = 1;
      const float drop_path =
          kStochasticDepth * static_cast<float>(block_index++) / static_cast<float>(kBlocks);
      x = mbconv(*g, "features." + std::to_string(s + 1) + "." + std::to_string(b), x, width,
                 stage.channels, stage.kernel, stride, stage.expand, drop_path);
      width = stage.channels;
    }
  }
  conv_norm_activation(*g, "features.8", x, width, 1280, 1, 1, 1, Activation::SiLU);
  g->add<nn::AdaptiveAvgPool2d>("avgpool", 1, 1);
  g->add<nn::Flatten>("flatten");
  g->add<nn::Dropout>("classifier.0", 0.2f);
  // torchvision computes 1 / sqrt(classes) in double and torch rounds it to float once; in
  // float arithmetic the bound comes out one ulp wider (0.03162278 against 0.031622775).
  const float range = static_cast<float>(1.0 / std::sqrt(static_cast<double>(in.classes)));
  g->add<nn::Linear>("classifier.1", 1280, in.classes,
                     nn::LinearOptions{.weight_init = nn::ParamInit::Uniform,
                                       .weight_scale = range,
                                       .bias_init = nn::ParamInit::Zeros});
  return g;
}

}  // namespace kestrel::models
