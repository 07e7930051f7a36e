#include "models/conv_norm_activation.hpp"

#include "engine/nn/activation.hpp"
#include "engine/nn/batch_norm.hpp"
#include "engine/nn/conv2d.hpp"

namespace kestrel::models {

nn::ValueId conv_norm_activation(nn::Graph& g, const std::string& prefix, nn::ValueId x,
                                 int64_t in, int64_t out, int kernel, int stride, int groups,
                                 Activation activation) {
  g.node<nn::Conv2d>({x}, prefix + ".0", in, out, kernel,
                     nn::Conv2dOptions{.stride = stride,
                                       .padding = (kernel - 1) / 2,
                                       .groups = groups,
                                       .bias = false,
                                       .weight_init = nn::ParamInit::KaimingNormalFanOut});
  g.add<nn::BatchNorm2d>(prefix + ".1", out);
  if (activation == Activation::ReLU6) g.add<nn::ReLU6>(prefix + ".2");
  if (activation == Activation::SiLU) g.add<nn::SiLU>(prefix + ".2");
  return g.last_value();
}

}  // namespace kestrel::models
