#include "models/googlenet.hpp"

#include <cmath>
#include <string>

#include "engine/nn/activation.hpp"
#include "engine/nn/batch_norm.hpp"
#include "engine/nn/concat.hpp"
#include "engine/nn/conv2d.hpp"
#include "engine/nn/dropout.hpp"
#include "engine/nn/flatten.hpp"
#include "engine/nn/linear.hpp"
#include "engine/nn/pooling.hpp"

namespace kestrel::models {

namespace {

using nn::ValueId;

// torchvision's BasicConv2d named `prefix` reading x: convolution without bias, batch norm with
// eps 0.001, ReLU. Returns its output.
ValueId basic_conv(nn::Graph& g, const std::string& prefix, ValueId x, int64_t in, int64_t out,
                   int kernel, int stride = 1, int padding = 0) {
  g.node<nn::Conv2d>({x}, prefix + ".conv", in, out, kernel,
                     nn::Conv2dOptions{.stride = stride,
                                       .padding = padding,
                                       .bias = false,
                                       .weight_init = nn::ParamInit::Normal,
                                       .weight_scale = 0.01f});
  g.add<nn::BatchNorm2d>(prefix + ".bn", out, nn::BatchNormOptions{.eps = 1e-3});
  g.add<nn::ReLU>(prefix + ".relu");
  return g.last_value();
}

struct InceptionWidths {
  int64_t c1, r3, c3, r5, c5, pool_proj;
  int64_t out() const { return c1 + c3 + c5 + pool_proj; }
};

// An Inception module named `name` reading x with `in` channels; returns its output.
ValueId inception(nn::Graph& g, const std::string& name, ValueId x, int64_t in,
                  const InceptionWidths& w) {
  const ValueId b1 = basic_conv(g, name + ".branch1", x, in, w.c1, 1);
  ValueId b2 = basic_conv(g, name + ".branch2.0", x, in, w.r3, 1);
  b2 = basic_conv(g, name + ".branch2.1", b2, w.r3, w.c3, 3, 1, 1);
  ValueId b3 = basic_conv(g, name + ".branch3.0", x, in, w.r5, 1);
  b3 = basic_conv(g, name + ".branch3.1", b3, w.r5, w.c5, 3, 1, 1);  // torchvision's "5x5"
  const ValueId pooled = g.node<nn::MaxPool2d>(
      {x}, name + ".branch4.0", 3, nn::PoolOptions{.stride = 1, .padding = 1, .ceil_mode = true});
  const ValueId b4 = basic_conv(g, name + ".branch4.1", pooled, in, w.pool_proj, 1);
  return g.node<nn::Concat>({b1, b2, b3, b4}, name + ".cat");
}

void max_pool(nn::Graph& g, const std::string& name, int kernel) {
  g.add<nn::MaxPool2d>(name, kernel, nn::PoolOptions{.stride = 2, .ceil_mode = true});
}

}  // namespace

std::unique_ptr<nn::Graph> googlenet(const ModelInput& in) {
  auto g = std::make_unique<nn::Graph>();
  const bool small_images = in.height <= 32 && in.width <= 32;
  ValueId x = nn::Graph::kInput;
  if (small_images) {
    x = basic_conv(*g, "conv1", x, in.channels, 64, 3, 1, 1);
  } else {
    x = basic_conv(*g, "conv1", x, in.channels, 64, 7, 2, 3);
    max_pool(*g, "maxpool1", 3);
    x = g->last_value();
  }
  x = basic_conv(*g, "conv2", x, 64, 64, 1);
  x = basic_conv(*g, "conv3", x, 64, 192, 3, 1, 1);
  if (!small_images) {
    max_pool(*g, "maxpool2", 3);
    x = g->last_value();
  }

  struct Module {
    const char* name;
    InceptionWidths widths;
    const char* pool_after;  // the max pool that follows, or null
    int pool_kernel;
  };
  const Module modules[] = {{"inception3a", {64, 96, 128, 16, 32, 32}, nullptr, 0},
                            {"inception3b", {128, 128, 192, 32, 96, 64}, "maxpool3", 3},
                            {"inception4a", {192, 96, 208, 16, 48, 64}, nullptr, 0},
                            {"inception4b", {160, 112, 224, 24, 64, 64}, nullptr, 0},
                            {"inception4c", {128, 128, 256, 24, 64, 64}, nullptr, 0},
                            {"inception4d", {112, 144, 288, 32, 64, 64}, nullptr, 0},
                            {"inception4e", {256, 160, 320, 32, 128, 128}, "maxpool4", 2},
                            {"inception5a", {256, 160, 320, 32, 128, 128}, nullptr, 0},
                            {"inception5b", {384, 192, 384, 48, 128, 128}, nullptr, 0}};
  int64_t channels = 192;
  for (const Module& m : modules) {
    x = inception(*g, m.name, x, channels, m.widths);
    channels = m.widths.out();
    if (m.pool_after != nullptr) {
      max_pool(*g, m.pool_after, m.pool_kernel);
      x = g->last_value();
    }
  }
  g->add<nn::AdaptiveAvgPool2d>("avgpool", 1, 1);
  g->add<nn::Flatten>("flatten");
  g->add<nn::Dropout>("dropout", 0.2f);
  g->add<nn::Linear>(
      "fc", channels, in.classes,
      nn::LinearOptions{.weight_init = nn::ParamInit::Normal,
                        .weight_scale = 0.01f,
                        .bias_init = nn::ParamInit::Uniform,
                        .bias_scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(channels)))});
  return g;
}

}  // namespace kestrel::models
