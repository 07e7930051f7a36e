#include "engine/nn/tokens.hpp"

#include "engine/ops/tokens.hpp"
#include "kernels/common/error.hpp"

namespace kestrel::nn {

namespace {

void check_tokens(std::string_view layer, const Shape& input, int64_t hidden) {
  KESTREL_CHECK(input.ndim() == 3, "{}: expected tokens [N, T, D], got {}", layer, input.str());
  KESTREL_CHECK(input[2] == hidden, "{}: input {} has {} features, hidden_dim is {}", layer,
                input.str(), input[2], hidden);
}

}  // namespace

// ---- PatchTokens ----

Shape PatchTokens::setup(const Shape& input) {
  KESTREL_CHECK(input.ndim() == 4, "PatchTokens: expected [N, D, h, w], got {}", input.str());
  return Shape{input[0], input[2] * input[3], input[1]};
}

void PatchTokens::forward(const Context& ctx, const Tensor& x, Tensor& y, const StepInfo& step) {
  (void)step;
  ops::patch_tokens_forward(ctx, x, y);
}

void PatchTokens::backward(const Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy,
                           Tensor* dx, const StepInfo& step) {
  (void)x;
  (void)y;
  (void)step;
  if (dx != nullptr) ops::patch_tokens_backward(ctx, dy, *dx);
}

// ---- ClassToken ----

ClassToken::ClassToken(std::string name, int64_t hidden_dim)
    : UnaryLayer(std::move(name)), hidden_(hidden_dim) {
  KESTREL_CHECK(hidden_dim >= 1, "ClassToken '{}': hidden_dim must be at least 1, got {}",
                this->name(), hidden_dim);
}

Shape ClassToken::setup(const Shape& input) {
  check_tokens("ClassToken", input, hidden_);
  return Shape{input[0], input[1] + 1, hidden_};
}

std::vector<ParamSpec> ClassToken::params() const {
  // torchvision: nn.Parameter(torch.zeros(1, 1, hidden_dim)).
  return {{"class_token", Shape{1, 1, hidden_}, ParamKind::Weight, ParamInit::Zeros}};
}

void ClassToken::bind_params(std::span<const Tensor> params, std::span<const Tensor> grads) {
  token_ = params[0];
  dtoken_ = grads[0];
}

void ClassToken::forward(const Context& ctx, const Tensor& x, Tensor& y, const StepInfo& step) {
  (void)step;
  ops::class_token_forward(ctx, x, token_, y);
}

void ClassToken::backward(const Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy,
                          Tensor* dx, const StepInfo& step) {
  (void)x;
  (void)y;
  (void)step;
  ops::class_token_backward(ctx, dy, dx, dtoken_.defined() ? &dtoken_ : nullptr);
}

// ---- PositionEmbedding ----

PositionEmbedding::PositionEmbedding(std::string name, int64_t seq_length, int64_t hidden_dim,
                                     float std)
    : UnaryLayer(std::move(name)), tokens_(seq_length), hidden_(hidden_dim), std_(std) {
  KESTREL_CHECK(seq_length >= 1 && hidden_dim >= 1,
                "PositionEmbedding '{}': seq_length {} and hidden_dim {} must be at least 1",
                this->name(), seq_length, hidden_dim);
  KESTREL_CHECK(std >= 0.0f, "PositionEmbedding '{}': std must not be negative, got {}",
                this->name(), std);
}

Shape PositionEmbedding::setup(const Shape& input) {
  check_tokens("PositionEmbedding", input, hidden_);
  KESTREL_CHECK(input[1] == tokens_, "PositionEmbedding: input {} has {} tokens, seq_length is {}",
                input.str(), input[1], tokens_);
  return input;
}

std::vector<ParamSpec> PositionEmbedding::params() const {
  // torchvision: nn.Parameter(torch.empty(1, seq_length, hidden_dim).normal_(std=0.02)).
  return {
      {"pos_embedding", Shape{1, tokens_, hidden_}, ParamKind::Weight, ParamInit::Normal, std_}};
}

void PositionEmbedding::bind_params(std::span<const Tensor> params, std::span<const Tensor> grads) {
  pos_ = params[0];
  dpos_ = grads[0];
}

void PositionEmbedding::forward(const Context& ctx, const Tensor& x, Tensor& y,
                                const StepInfo& step) {
  (void)step;
  ops::position_embedding_forward(ctx, x, pos_, y);
}

void PositionEmbedding::backward(const Context& ctx, const Tensor& x, const Tensor& y,
                                 const Tensor& dy, Tensor* dx, const StepInfo& step) {
  (void)x;
  (void)y;
  (void)step;
  ops::position_embedding_backward(ctx, dy, dx, dpos_.defined() ? &dpos_ : nullptr);
}

// ---- SelectToken ----

SelectToken::SelectToken(std::string name, int64_t index)
    : UnaryLayer(std::move(name)), index_(index) {
  KESTREL_CHECK(index >= 0, "SelectToken '{}': index must not be negative, got {}", this->name(),
                index);
}

Shape SelectToken::setup(const Shape& input) {
  KESTREL_CHECK(input.ndim() == 3, "SelectToken: expected tokens [N, T, D], got {}", input.str());
  KESTREL_CHECK(index_ < input[1], "SelectToken: token {} out of range for input {}", index_,
                input.str());
  return Shape{input[0], input[2]};
}

void SelectToken::forward(const Context& ctx, const Tensor& x, Tensor& y, const StepInfo& step) {
  (void)step;
  ops::select_token_forward(ctx, x, index_, y);
}

void SelectToken::backward(const Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy,
                           Tensor* dx, const StepInfo& step) {
  (void)x;
  (void)y;
  (void)step;
  if (dx != nullptr) ops::select_token_backward(ctx, dy, index_, *dx);
}

}  // namespace kestrel::nn
