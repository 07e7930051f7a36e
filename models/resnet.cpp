#include "models/resnet.hpp"

#include <initializer_list>
#include <string>

#include "engine/nn/activation.hpp"
#include "engine/nn/add.hpp"
#include "engine/nn/batch_norm.hpp"
#include "engine/nn/conv2d.hpp"
#include "engine/nn/flatten.hpp"
#include "engine/nn/linear.hpp"
#include "engine/nn/pooling.hpp"
#include "engine/nn/zero_pad_shortcut.hpp"

namespace kestrel::models {

namespace {

using nn::ValueId;

// A convolution without bias, as every convolution of these networks (batch norm follows).
nn::Conv2dOptions conv_options(int stride, int padding) {
  return nn::Conv2dOptions{.stride = stride,
                           .padding = padding,
                           .bias = false,
                           .weight_init = nn::ParamInit::KaimingNormalFanOut};
}

enum class Shortcut { Projection, ZeroPad };  // torchvision's downsample, or option A

// One BasicBlock named `prefix` ("layer2.0") reading x with `in` channels; returns its output.
ValueId basic_block(nn::Graph& g, const std::string& prefix, ValueId x, int64_t in, int64_t planes,
                    int stride, Shortcut kind) {
  g.node<nn::Conv2d>({x}, prefix + ".conv1", in, planes, 3, conv_options(stride, 1));
  g.add<nn::BatchNorm2d>(prefix + ".bn1", planes);
  g.add<nn::ReLU>(prefix + ".relu1");
  g.add<nn::Conv2d>(prefix + ".conv2", planes, planes, 3, conv_options(1, 1));
  g.add<nn::BatchNorm2d>(prefix + ".bn2", planes);
  const ValueId out = g.last_value();
  ValueId identity = x;
  if (stride != 1 || in != planes) {
    if (kind == Shortcut::Projection) {
      g.node<nn::Conv2d>({x}, prefix + ".downsample.0", in, planes, 1, conv_options(stride, 0));
      g.add<nn::BatchNorm2d>(prefix + ".downsample.1", planes);
    } else {
      g.node<nn::ZeroPadShortcut>({x}, prefix + ".shortcut", stride, planes);
    }
    identity = g.last_value();
  }
  g.node<nn::Add>({out, identity}, prefix + ".add");
  g.add<nn::ReLU>(prefix + ".relu2");
  return g.last_value();
}

// Stages of `blocks` blocks at `widths` channels, the first stage at stride 1 and every later
// one starting at stride 2; then avgpool, flatten and fc.
void stages_and_head(nn::Graph& g, int64_t in, std::initializer_list<int64_t> widths, int blocks,
                     Shortcut kind, int64_t classes) {
  ValueId x = g.last_value();
  int stage = 1;
  for (int64_t planes : widths) {
    for (int b = 0; b < blocks; ++b) {
      const int stride = (stage > 1 && b == 0) ? 2 : 1;
      x = basic_block(g, "layer" + std::to_string(stage) + "." + std::to_string(b), x, in, planes,
                      stride, kind);
      in = planes;
    }
    ++stage;
  }
  g.add<nn::AdaptiveAvgPool2d>("avgpool", 1, 1);
  g.add<nn::Flatten>("flatten");
  g.add<nn::Linear>("fc", in, classes);
}

}  // namespace

std::unique_ptr<nn::Graph> resnet18(const ModelInput& in) {
  auto g = std::make_unique<nn::Graph>();
  const bool small_images = in.height <= 32 && in.width <= 32;
  if (small_images) {
    g->add<nn::Conv2d>("conv1", in.channels, 64, 3, conv_options(1, 1));
  } else {
    g->add<nn::Conv2d>("conv1", in.channels, 64, 7, conv_options(2, 3));
  }
  g->add<nn::BatchNorm2d>("bn1", 64);
  g->add<nn::ReLU>("relu");
  if (!small_images)
    g->add<nn::MaxPool2d>("maxpool", 3, nn::PoolOptions{.stride = 2, .padding = 1});
  stages_and_head(*g, 64, {64, 128, 256, 512}, 2, Shortcut::Projection, in.classes);
  return g;
}

std::unique_ptr<nn::Graph> resnet20(const ModelInput& in) {
  auto g = std::make_unique<nn::Graph>();
  g->add<nn::Conv2d>("conv1", in.channels, 16, 3, conv_options(1, 1));
  g->add<nn::BatchNorm2d>("bn1", 16);
  g->add<nn::ReLU>("relu");
  stages_and_head(*g, 16, {16, 32, 64}, 3, Shortcut::ZeroPad, in.classes);
  return g;
}

}  // namespace kestrel::models
