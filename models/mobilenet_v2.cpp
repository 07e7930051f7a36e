#include "models/mobilenet_v2.hpp"

#include <cmath>
#include <string>

#include "engine/nn/add.hpp"
#include "engine/nn/batch_norm.hpp"
#include "engine/nn/conv2d.hpp"
#include "engine/nn/dropout.hpp"
#include "engine/nn/flatten.hpp"
#include "engine/nn/linear.hpp"
#include "engine/nn/pooling.hpp"
#include "models/conv_norm_activation.hpp"

namespace kestrel::models {

namespace {

using nn::ValueId;

struct Stage {
  int expand;  // t
  int64_t channels;
  int blocks;
  int stride;
};

constexpr Stage kStages[] = {{1, 16, 1, 1},  {6, 24, 2, 2},  {6, 32, 3, 2}, {6, 64, 4, 2},
                             {6, 96, 3, 1},  {6, 160, 3, 2}, {6, 320, 1, 1}};

// torchvision's InvertedResidual named `prefix` ("features.5") reading x; returns its output.
ValueId inverted_residual(nn::Graph& g, const std::string& prefix, ValueId x, int64_t in,
                          int64_t out, int stride, int expand) {
  const int64_t hidden = static_cast<int64_t>(std::lround(static_cast<double>(in) * expand));
  ValueId h = x;
  int unit = 0;
  if (expand != 1) {
    h = conv_norm_activation(g, prefix + ".conv.0", h, in, hidden, 1, 1, 1, Activation::ReLU6);
    unit = 1;
  }
  h = conv_norm_activation(g, prefix + ".conv." + std::to_string(unit), h, hidden, hidden, 3,
                           stride, static_cast<int>(hidden), Activation::ReLU6);
  g.node<nn::Conv2d>({h}, prefix + ".conv." + std::to_string(unit + 1), hidden, out, 1,
                     nn::Conv2dOptions{.bias = false,
                                       .weight_init = nn::ParamInit::KaimingNormalFanOut});
  g.add<nn::BatchNorm2d>(prefix + ".conv." + std::to_string(unit + 2), out);
  if (stride == 1 && in == out) g.node<nn::Add>({g.last_value(), x}, prefix + ".add");
  return g.last_value();
}

}  // namespace

std::unique_ptr<nn::Graph> mobilenet_v2(const ModelInput& in) {
  auto g = std::make_unique<nn::Graph>();
  const bool small_images = in.height <= 32 && in.width <= 32;
  ValueId x = conv_norm_activation(*g, "features.0", nn::Graph::kInput, in.channels, 32, 3,
                                   small_images ? 1 : 2, 1, Activation::ReLU6);
  int64_t width = 32;
  int index = 1;
  for (const Stage& s : kStages) {
    for (int b = 0; b < s.blocks; ++b) {
      int stride = b == 0 ? s.stride : 1;
      if (small_images && s.channels == 24) stride = 1;
      x = inverted_residual(*g, "features." + std::to_string(index++), x, width, s.channels,
                            stride, s.expand);
      width = s.channels;
    }
  }
  conv_norm_activation(*g, "features." + std::to_string(index), x, width, 1280, 1, 1, 1,
                       Activation::ReLU6);
  g->add<nn::AdaptiveAvgPool2d>("avgpool", 1, 1);
  g->add<nn::Flatten>("flatten");
  g->add<nn::Dropout>("classifier.0", 0.2f);
  g->add<nn::Linear>("classifier.1", 1280, in.classes,
                     nn::LinearOptions{.weight_init = nn::ParamInit::Normal,
                                       .weight_scale = 0.01f,
                                       .bias_init = nn::ParamInit::Zeros});
  return g;
}

}  // namespace kestrel::models
