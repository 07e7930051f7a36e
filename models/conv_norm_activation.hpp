#pragma once
// torchvision.ops.Conv2dNormActivation, the unit MobileNetV2 and EfficientNet are made of:
//   <prefix>.0  Conv2d (kernel k, padding (k - 1) / 2, the given stride and groups, no bias,
//               weight from kaiming_normal_(mode="fan_out"), as both models start it)
//   <prefix>.1  BatchNorm2d (eps 1e-5, momentum 0.1)
//   <prefix>.2  the activation, absent for Activation::None (a projection)
#include <cstdint>
#include <string>

#include "engine/nn/graph.hpp"

namespace kestrel::models {

enum class Activation { None, ReLU6, SiLU };

// Reads x (in channels) and returns the unit's output value (out channels).
nn::ValueId conv_norm_activation(nn::Graph& g, const std::string& prefix, nn::ValueId x,
                                 int64_t in, int64_t out, int kernel, int stride, int groups,
                                 Activation activation);

}  // namespace kestrel::models
