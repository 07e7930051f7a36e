#include "models/vit.hpp"

#include <cmath>
#include <string>

#include "engine/nn/activation.hpp"
#include "engine/nn/add.hpp"
#include "engine/nn/conv2d.hpp"
#include "engine/nn/layer_norm.hpp"
#include "engine/nn/linear.hpp"
#include "engine/nn/multihead_attention.hpp"
#include "engine/nn/tokens.hpp"
#include "kernels/common/error.hpp"

namespace kestrel::models {

namespace {

using nn::ValueId;

// torchvision.models.VisionTransformer's sizes.
struct VitConfig {
  int patch;
  int layers;
  int64_t heads, hidden, mlp;
};

constexpr VitConfig kVitB16{16, 12, 12, 768, 3072};
constexpr VitConfig kVitCifar{4, 6, 3, 192, 384};
constexpr double kLayerNormEps = 1e-6;  // torchvision's norm_layer: LayerNorm(eps=1e-6)

// EncoderBlock `prefix` ("encoder.layers.encoder_layer_3") reading tokens x; returns its output.
ValueId encoder_block(nn::Graph& g, const std::string& prefix, ValueId x, const VitConfig& c) {
  g.node<nn::LayerNorm>({x}, prefix + ".ln_1", c.hidden, kLayerNormEps);
  g.add<nn::MultiheadAttention>(prefix + ".self_attention", c.hidden, c.heads);
  const ValueId x1 = g.node<nn::Add>({g.last_value(), x}, prefix + ".add_1");
  g.add<nn::LayerNorm>(prefix + ".ln_2", c.hidden, kLayerNormEps);
  const nn::LinearOptions mlp{.weight_init = nn::ParamInit::XavierUniform,
                              .bias_init = nn::ParamInit::Normal,
                              .bias_scale = 1e-6f};
  g.add<nn::Linear>(prefix + ".mlp.0", c.hidden, c.mlp, mlp);
  g.add<nn::GELU>(prefix + ".mlp.1");
  g.add<nn::Linear>(prefix + ".mlp.3", c.mlp, c.hidden, mlp);
  return g.node<nn::Add>({g.last_value(), x1}, prefix + ".add_2");
}

}  // namespace

std::unique_ptr<nn::Graph> vit(const ModelInput& in) {
  const VitConfig& c = (in.height <= 32 && in.width <= 32) ? kVitCifar : kVitB16;
  KESTREL_CHECK(in.height % c.patch == 0 && in.width % c.patch == 0,
                "vit: patch {} does not divide the {}x{} image", c.patch, in.height, in.width);
  const int64_t tokens = (in.height / c.patch) * (in.width / c.patch) + 1;  // + class token

  auto g = std::make_unique<nn::Graph>();
  const double fan_in = static_cast<double>(in.channels * c.patch * c.patch);
  g->add<nn::Conv2d>("conv_proj", in.channels, c.hidden, c.patch,
                     nn::Conv2dOptions{.stride = c.patch,
                                       .weight_init = nn::ParamInit::Normal,
                                       .weight_scale = static_cast<float>(std::sqrt(1.0 / fan_in)),
                                       .bias_init = nn::ParamInit::Zeros});
  g->add<nn::PatchTokens>("patch_tokens");
  g->add<nn::ClassToken>("class_token", c.hidden);
  g->add<nn::PositionEmbedding>("encoder", tokens, c.hidden);
  ValueId x = g->last_value();
  for (int i = 0; i < c.layers; ++i) {
    std::string prefix = "encoder.layers.encoder_layer_";
    prefix += std::to_string(i);
    x = encoder_block(*g, prefix, x, c);
  }
  g->add<nn::LayerNorm>("encoder.ln", c.hidden, kLayerNormEps);
  g->add<nn::SelectToken>("class_token_out", 0);
  g->add<nn::Linear>("heads.head", c.hidden, in.classes,
                     nn::LinearOptions{.weight_init = nn::ParamInit::Zeros,
                                       .bias_init = nn::ParamInit::Zeros});
  return g;
}

}  // namespace kestrel::models
