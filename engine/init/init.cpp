#include "engine/init/init.hpp"

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <string>

#include "engine/ops/checks.hpp"
#include "engine/ops/dispatch.hpp"
#include "kernels/common/init.hpp"

namespace kestrel::init {

namespace {

// The gain in double: torch computes bounds and stds in Python floats and rounds once, when
// the value reaches the fill.
double gain_of(std::string_view nonlinearity, std::optional<double> param) {
  static constexpr std::string_view kLinear[] = {
      "linear",           "conv1d",           "conv2d",           "conv3d",
      "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "sigmoid"};
  for (std::string_view name : kLinear)
    if (nonlinearity == name) return 1.0;
  if (nonlinearity == "tanh") return 5.0 / 3.0;
  if (nonlinearity == "relu") return std::sqrt(2.0);
  if (nonlinearity == "leaky_relu") {
    const double slope = param.value_or(0.01);
    KESTREL_CHECK(std::isfinite(slope), "calculate_gain: negative_slope {} is not a valid number",
                  slope);
    return std::sqrt(2.0 / (1.0 + slope * slope));
  }
  if (nonlinearity == "selu") return 3.0 / 4.0;
  KESTREL_FAIL(
      "calculate_gain: unsupported nonlinearity '{}' (expected linear, conv1d, conv2d, "
      "conv3d, conv_transpose1d, conv_transpose2d, conv_transpose3d, sigmoid, tanh, "
      "relu, leaky_relu or selu)",
      nonlinearity);
}

int64_t fan_by_mode(std::string_view op, const Shape& shape, std::string_view mode) {
  KESTREL_CHECK(mode == "fan_in" || mode == "fan_out",
                "{}: mode '{}' not supported, please use one of fan_in, fan_out", op, mode);
  const Fans fans = compute_fans(shape);
  return mode == "fan_in" ? fans.fan_in : fans.fan_out;
}

void check_fill_target(std::string_view op, const Context& ctx, const Tensor& t) {
  ops::detail::check_tensor(op, "tensor", t, ctx, -1);
}

void fill_uniform(const Context& ctx, Tensor& t, float lo, float hi, uint64_t seed,
                  uint64_t stream) {
  ops::detail::launch_elementwise(ctx, t.numel(),
                                  kernels::UniformFill{t.data<float>(), lo, hi, seed, stream});
}

void fill_normal(const Context& ctx, Tensor& t, float mean, float stddev, uint64_t seed,
                 uint64_t stream) {
  ops::detail::launch_elementwise(ctx, t.numel(),
                                  kernels::NormalFill{t.data<float>(), mean, stddev, seed, stream});
}

// Kaiming's std in double, as torch has it: gain / sqrt(fan).
double kaiming_std(std::string_view op, const Shape& shape, double a, std::string_view mode,
                   std::string_view nonlinearity) {
  const int64_t fan = fan_by_mode(op, shape, mode);
  return gain_of(nonlinearity, a) / std::sqrt(static_cast<double>(fan));
}

void kaiming_uniform_impl(std::string_view op, const Context& ctx, Tensor& w, double a,
                          std::string_view mode, std::string_view nonlinearity, uint64_t seed,
                          uint64_t stream) {
  check_fill_target(op, ctx, w);
  const double stddev = kaiming_std(op, w.shape(), a, mode, nonlinearity);
  if (w.numel() == 0) return;  // torch warns and does nothing for zero-element tensors
  const float bound = static_cast<float>(std::sqrt(3.0) * stddev);
  fill_uniform(ctx, w, -bound, bound, seed, stream);
}

void check_bias(std::string_view op, const Tensor& w, const Tensor* bias, const Context& ctx) {
  if (bias == nullptr) return;
  ops::detail::check_tensor(op, "bias", *bias, ctx, -1);
  KESTREL_CHECK(w.ndim() >= 1 && bias->numel() == w.dim(0),
                "{}: bias has shape {}, expected [{}] for weight {}", op, bias->shape().str(),
                w.ndim() >= 1 ? w.dim(0) : 0, w.str());
}

}  // namespace

Fans compute_fans(const Shape& weight) {
  KESTREL_CHECK(weight.ndim() >= 2,
                "compute_fans: fan in and fan out can not be computed for a tensor with fewer "
                "than 2 dimensions (shape {})",
                weight.str());
  int64_t receptive_field = 1;
  for (int d = 2; d < weight.ndim(); ++d) receptive_field *= weight[d];
  return Fans{weight[1] * receptive_field, weight[0] * receptive_field};
}

float calculate_gain(std::string_view nonlinearity, std::optional<float> param) {
  std::optional<double> p;
  if (param) p = static_cast<double>(*param);
  return static_cast<float>(gain_of(nonlinearity, p));
}

void uniform(const Context& ctx, Tensor& t, float lo, float hi, uint64_t seed, uint64_t stream) {
  check_fill_target("uniform", ctx, t);
  KESTREL_CHECK(std::isfinite(lo) && std::isfinite(hi) && lo <= hi,
                "uniform: invalid range [{}, {}] (need finite lo <= hi)", lo, hi);
  fill_uniform(ctx, t, lo, hi, seed, stream);
}

void normal(const Context& ctx, Tensor& t, float mean, float stddev, uint64_t seed,
            uint64_t stream) {
  check_fill_target("normal", ctx, t);
  KESTREL_CHECK(std::isfinite(mean) && std::isfinite(stddev) && stddev >= 0.0f,
                "normal: invalid mean {} or std {} (need finite values, std >= 0)", mean, stddev);
  fill_normal(ctx, t, mean, stddev, seed, stream);
}

void constant(const Context& ctx, Tensor& t, float value) {
  check_fill_target("constant", ctx, t);
  t.fill(value);
}

void partial_dirac(const Context& ctx, Tensor& w) {
  check_fill_target("partial_dirac", ctx, w);
  KESTREL_CHECK(w.ndim() == 4, "partial_dirac: expected a convolution weight [out, in, kh, kw], got {}",
                w.shape().str());
  const int64_t rows = std::min(w.dim(0), w.dim(1));
  ops::detail::launch_elementwise(
      ctx, w.numel(), kernels::DiracRows{w.data<float>(), rows, w.dim(1), w.dim(2), w.dim(3)});
}

void kaiming_uniform(const Context& ctx, Tensor& w, float a, std::string_view mode,
                     std::string_view nonlinearity, uint64_t seed, uint64_t stream) {
  kaiming_uniform_impl("kaiming_uniform", ctx, w, a, mode, nonlinearity, seed, stream);
}

void kaiming_normal(const Context& ctx, Tensor& w, float a, std::string_view mode,
                    std::string_view nonlinearity, uint64_t seed, uint64_t stream) {
  check_fill_target("kaiming_normal", ctx, w);
  const double stddev = kaiming_std("kaiming_normal", w.shape(), a, mode, nonlinearity);
  if (w.numel() == 0) return;
  fill_normal(ctx, w, 0.0f, static_cast<float>(stddev), seed, stream);
}

void xavier_uniform(const Context& ctx, Tensor& w, float gain, uint64_t seed, uint64_t stream) {
  check_fill_target("xavier_uniform", ctx, w);
  const Fans fans = compute_fans(w.shape());
  if (w.numel() == 0) return;
  const double stddev =
      static_cast<double>(gain) * std::sqrt(2.0 / static_cast<double>(fans.fan_in + fans.fan_out));
  const float bound = static_cast<float>(std::sqrt(3.0) * stddev);
  fill_uniform(ctx, w, -bound, bound, seed, stream);
}

void xavier_normal(const Context& ctx, Tensor& w, float gain, uint64_t seed, uint64_t stream) {
  check_fill_target("xavier_normal", ctx, w);
  const Fans fans = compute_fans(w.shape());
  if (w.numel() == 0) return;
  const double stddev =
      static_cast<double>(gain) * std::sqrt(2.0 / static_cast<double>(fans.fan_in + fans.fan_out));
  fill_normal(ctx, w, 0.0f, static_cast<float>(stddev), seed, stream);
}

void pytorch_default_weight_and_bias(const Context& ctx, Tensor& w, Tensor* bias, uint64_t seed,
                                     uint64_t stream) {
  constexpr std::string_view op = "pytorch_default_weight_and_bias";
  check_fill_target(op, ctx, w);
  check_bias(op, w, bias, ctx);
  kaiming_uniform_impl(op, ctx, w, std::sqrt(5.0), "fan_in", "leaky_relu", seed, stream);
  if (bias == nullptr) return;
  const int64_t fan_in = compute_fans(w.shape()).fan_in;
  const float bound =
      fan_in > 0 ? static_cast<float>(1.0 / std::sqrt(static_cast<double>(fan_in))) : 0.0f;
  fill_uniform(ctx, *bias, -bound, bound, seed, bias_stream(stream));
}

namespace {
struct SchemeName {
  InitScheme scheme;
  std::string_view name;
};
constexpr SchemeName kSchemes[] = {{InitScheme::PyTorchDefault, "pytorch"},
                                   {InitScheme::XavierUniform, "xavier-uniform"},
                                   {InitScheme::XavierNormal, "xavier-normal"},
                                   {InitScheme::KaimingUniform, "kaiming-uniform"},
                                   {InitScheme::KaimingNormal, "kaiming-normal"}};
}  // namespace

InitScheme parse_init_scheme(std::string_view name) {
  for (const SchemeName& s : kSchemes)
    if (s.name == name) return s.scheme;
  KESTREL_FAIL(
      "unknown init scheme '{}' (expected pytorch, xavier-uniform, xavier-normal, "
      "kaiming-uniform or kaiming-normal)",
      name);
}

std::string_view init_scheme_name(InitScheme scheme) {
  for (const SchemeName& s : kSchemes)
    if (s.scheme == scheme) return s.name;
  return "?";
}

std::string_view gain_name(std::string_view nonlinearity) {
  for (std::string_view name : {"silu", "gelu", "hardswish", "relu6"})
    if (nonlinearity == name) return "relu";
  return nonlinearity;
}

void initialize(const Context& ctx, InitScheme scheme, Tensor& w, Tensor* bias, uint64_t seed,
                uint64_t stream, std::string_view nonlinearity) {
  nonlinearity = gain_name(nonlinearity);
  check_bias("initialize", w, bias, ctx);
  switch (scheme) {
    case InitScheme::PyTorchDefault:
      pytorch_default_weight_and_bias(ctx, w, bias, seed, stream);
      return;
    case InitScheme::XavierUniform:
      xavier_uniform(ctx, w, 1.0f, seed, stream);
      break;
    case InitScheme::XavierNormal:
      xavier_normal(ctx, w, 1.0f, seed, stream);
      break;
    case InitScheme::KaimingUniform:
      kaiming_uniform(ctx, w, 0.0f, "fan_in", nonlinearity, seed, stream);
      break;
    case InitScheme::KaimingNormal:
      kaiming_normal(ctx, w, 0.0f, "fan_in", nonlinearity, seed, stream);
      break;
  }
  if (bias != nullptr) constant(ctx, *bias, 0.0f);
}

}  // namespace kestrel::init
