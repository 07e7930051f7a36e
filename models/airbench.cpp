#include "models/airbench.hpp"

#include <algorithm>
#include <string>

#include "engine/nn/activation.hpp"
#include "engine/nn/batch_norm.hpp"
#include "engine/nn/conv2d.hpp"
#include "engine/nn/flatten.hpp"
#include "engine/nn/linear.hpp"
#include "engine/nn/pooling.hpp"
#include "engine/nn/scale.hpp"
#include "kernels/common/error.hpp"

namespace kestrel::models {

namespace {

constexpr int64_t kWidths[] = {64, 256, 256};
constexpr double kNormEps = 1e-12;
constexpr double kNormMomentum = 0.4;  // torch's convention: airbench's BatchNorm(momentum=0.6)
constexpr float kLogitScale = 1.0f / 9.0f;

nn::Conv2dOptions conv3x3() {
  return nn::Conv2dOptions{.padding = 1, .bias = false, .weight_init = nn::ParamInit::PartialDirac};
}

// airbench's ConvGroup: conv, pool, norm, GELU, conv, norm, GELU; each norm's weight frozen.
void conv_group(nn::Graph& g, const std::string& prefix, int64_t in, int64_t out) {
  const nn::BatchNormOptions norm{.eps = kNormEps, .momentum = kNormMomentum};
  g.add<nn::Conv2d>(prefix + ".conv1", in, out, 3, conv3x3());
  g.add<nn::MaxPool2d>(prefix + ".pool", 2);
  g.add<nn::BatchNorm2d>(prefix + ".norm1", out, norm);
  g.add<nn::GELU>(prefix + ".act1");
  g.add<nn::Conv2d>(prefix + ".conv2", out, out, 3, conv3x3());
  g.add<nn::BatchNorm2d>(prefix + ".norm2", out, norm);
  g.add<nn::GELU>(prefix + ".act2");
  g.freeze(prefix + ".norm1.weight");
  g.freeze(prefix + ".norm2.weight");
}

}  // namespace

std::unique_ptr<nn::Graph> airbench94(const ModelInput& in) {
  // 2x2 whitening, then three 2x poolings; the last pooling covers what is left.
  const int64_t side = std::min(in.height, in.width);
  KESTREL_CHECK(side >= 9, "airbench94 needs images of at least 9x9, got {}x{}", in.height,
                in.width);
  const int64_t whiten_width = 2 * in.channels * 2 * 2;
  auto g = std::make_unique<nn::Graph>();
  g->add<nn::Conv2d>("whiten", in.channels, whiten_width, 2,
                     nn::Conv2dOptions{.padding = 0,
                                       .bias = true,
                                       .weight_init = nn::ParamInit::PatchWhitening,
                                       .bias_init = nn::ParamInit::Zeros});
  g->freeze("whiten.weight");
  g->add<nn::GELU>("whiten_gelu");
  int64_t channels = whiten_width;
  for (int b = 0; b < 3; ++b) {
    conv_group(*g, "block" + std::to_string(b + 1), channels, kWidths[b]);
    channels = kWidths[b];
  }
  const int64_t left = (((side - 1) / 2) / 2) / 2;  // after whitening and three 2x poolings
  g->add<nn::MaxPool2d>("pool", static_cast<int>(left));
  g->add<nn::Flatten>("flatten");
  g->add<nn::Linear>("head", channels, in.classes, /*bias=*/false);
  g->add<nn::Scale>("scale", kLogitScale);
  return g;
}

}  // namespace kestrel::models
