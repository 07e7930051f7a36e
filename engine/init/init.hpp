#pragma once
// Weight initialisation, after torch.nn.init: fans, gains, uniform/normal fills and the
// Xavier/Kaiming schemes, plus the default that nn.Linear and nn.Conv2d apply in
// reset_parameters. Every fill draws from Philox under (seed, stream): element i of the tensor
// uses counter i (uniform) or counters 2i and 2i+1 (normal, Box-Muller; kernels/common/init.hpp),
// so the values depend on neither the thread count nor the backend. Give each tensor its own
// stream.
#include <cstdint>
#include <optional>
#include <string_view>

#include "engine/runtime/context.hpp"
#include "engine/tensor/tensor.hpp"

namespace kestrel::init {

struct Fans {
  int64_t fan_in;
  int64_t fan_out;
};

// torch.nn.init._calculate_fan_in_and_fan_out: for a weight [out, in, *kernel] the receptive
// field is the product of the kernel dims, fan_in = in * field and fan_out = out * field
// (conv [K, C, R, S]: C*R*S and K*R*S; linear [out, in]: in and out). Throws kestrel::Error
// for fewer than 2 dimensions.
Fans compute_fans(const Shape& weight);

// torch.nn.init.calculate_gain: linear, conv1d/2d/3d, conv_transpose1d/2d/3d and sigmoid 1;
// tanh 5/3; relu sqrt(2); leaky_relu sqrt(2 / (1 + slope^2)) with slope `param` (0.01 when
// absent, as torch); selu 3/4. Throws kestrel::Error for any other name.
float calculate_gain(std::string_view nonlinearity, std::optional<float> param = std::nullopt);

// Fills with U(lo, hi); values lie in [lo, hi]. Requires lo <= hi.
void uniform(const Context& ctx, Tensor& t, float lo, float hi, uint64_t seed, uint64_t stream);
// Fills with N(mean, stddev^2). Requires stddev >= 0.
void normal(const Context& ctx, Tensor& t, float mean, float stddev, uint64_t seed, uint64_t stream);
// Fills with `value` (torch.nn.init.constant_; zeros_ is constant(ctx, t, 0)).
void constant(const Context& ctx, Tensor& t, float value);

// torch.nn.init.dirac_ applied to w[:min(out, in)] of a convolution weight [out, in, kh, kw]
// (airbench's Conv.reset_parameters, after the default draw): the first min(out, in) output
// channels start as copies of the input channels they share an index with, the others keep
// their values. Throws kestrel::Error for a weight that is not 4-D.
void partial_dirac(const Context& ctx, Tensor& w);

// He et al.: gain = calculate_gain(nonlinearity, a), fan = fan_in or fan_out by `mode`
// ("fan_in" | "fan_out"); kaiming_uniform draws U(-b, b) with b = gain * sqrt(3 / fan),
// kaiming_normal N(0, std^2) with std = gain / sqrt(fan). torch's defaults: a = 0,
// mode "fan_in", nonlinearity "leaky_relu".
void kaiming_uniform(const Context& ctx, Tensor& w, float a, std::string_view mode,
                     std::string_view nonlinearity, uint64_t seed, uint64_t stream);
void kaiming_normal(const Context& ctx, Tensor& w, float a, std::string_view mode,
                    std::string_view nonlinearity, uint64_t seed, uint64_t stream);

// Glorot & Bengio: xavier_uniform draws U(-b, b) with b = gain * sqrt(6 / (fan_in + fan_out)),
// xavier_normal N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out)).
void xavier_uniform(const Context& ctx, Tensor& w, float gain, uint64_t seed, uint64_t stream);
void xavier_normal(const Context& ctx, Tensor& w, float gain, uint64_t seed, uint64_t stream);

// The stream a layer's bias draws from when its weight draws from `weight_stream`: the top bit
// set, so that consecutive layer streams (0, 1, 2, ...) never collide with bias streams. Layer
// streams must therefore stay below 2^63.
constexpr uint64_t bias_stream(uint64_t weight_stream) { return weight_stream ^ (1ull << 63); }

// What nn.Linear and nn.Conv2d do in reset_parameters: the weight gets
// kaiming_uniform(a = sqrt(5), "fan_in", "leaky_relu"), which is U(-1/sqrt(fan_in),
// 1/sqrt(fan_in)); the bias, if given, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) from
// bias_stream(stream). The bias must have w.dim(0) elements.
void pytorch_default_weight_and_bias(const Context& ctx, Tensor& w, Tensor* bias, uint64_t seed,
                                     uint64_t stream);

enum class InitScheme { PyTorchDefault, XavierUniform, XavierNormal, KaimingUniform, KaimingNormal };

// "pytorch", "xavier-uniform", "xavier-normal", "kaiming-uniform", "kaiming-normal"; throws
// kestrel::Error naming the accepted spellings for anything else.
InitScheme parse_init_scheme(std::string_view name);
std::string_view init_scheme_name(InitScheme scheme);

// The calculate_gain name for an activation's nonlinearity() (nn::Layer), as initialize uses
// it: torch's own names unchanged; "silu", "gelu", "hardswish" and "relu6", which
// torch.nn.init.calculate_gain rejects, become "relu" (gain sqrt(2)). PyTorch has no gain for
// them; torchvision initialises the convolutions of the networks built on them (EfficientNet:
// SiLU, MobileNetV2: ReLU6, MobileNetV3: Hardswish) with kaiming_normal_(w, mode="fan_out"),
// whose default nonlinearity leaky_relu with a = 0 is sqrt(2), relu's gain. GELU networks
// (ConvNeXt, ViT) draw a truncated normal with std 0.02 instead, no gain at all; the Kaiming
// schemes give them relu's gain too (GELU is ReLU away from 0). Any other name is returned as it
// is (calculate_gain then refuses it).
std::string_view gain_name(std::string_view nonlinearity);

// Initialises a layer's weight (and bias, if given) by `scheme`. PyTorchDefault is
// pytorch_default_weight_and_bias; the Xavier schemes use gain 1 and the Kaiming schemes
// a = 0, "fan_in" and the gain of gain_name(nonlinearity) (relu by default, the networks
// kestrel trains); those four zero the bias, the common choice with them.
void initialize(const Context& ctx, InitScheme scheme, Tensor& w, Tensor* bias, uint64_t seed,
                uint64_t stream, std::string_view nonlinearity = "relu");

}  // namespace kestrel::init
