#pragma once
// Muon (Keller Jordan 2024: "MomentUm Orthogonalized by Newton-Schulz") for a model's weight
// matrices, SGD for everything else, as airbench94_muon and the Muon reference code train:
//
//   for each matrix W (a parameter viewed [rows, cols], rows its first dimension):
//     buf = momentum * buf + g;  u = nesterov ? g + momentum * buf : buf
//     W = W * sqrt(rows) / ||W||_F                    (normalize_weights only)
//     X = u / (||u||_F + 1e-7), on its wide form (transposed when rows > cols)
//     ns_steps times: A = X X^T;  B = b A + c A A;  X = a X + B X
//                     (a, b, c) = (3.4445, -4.7750, 2.0315)
//     W = W - lr_muon * X                              (back in W's layout)
//   every other element: torch.optim.SGD (engine/optim/sgd.hpp), with the parameter groups.
//
// The Newton-Schulz products run on ops::batched_matmul (kestrel's GEMM on the CPU, cuBLAS on
// a GPU) in f32 (the reference runs them in bf16: its iteration only needs singular values
// pushed near 1, not exactly there); norms on ops::sum_squares, kept in device memory. The rate
// follows the schedule: lr_muon = muon lr x (the optimizer's current lr / the SGD lr it was
// built with). Matrices take no weight decay and ignore the parameter groups (their elements
// form one more group whose SGD rate is 0, so the groups of the rest may use at most
// kernels::kMaxParamGroups - 1). State: SGD's momentum_buffer and muon_momentum_buffer, both
// flat like the parameters (the second stays zero outside the matrices; the first also follows
// the matrices' gradients, unused, as torch's SGD state does at rate 0).
#include <cstdint>
#include <vector>

#include "engine/optim/optimizer.hpp"
#include "engine/optim/sgd.hpp"

namespace kestrel::optim {

// A parameter of the flat buffer that Muon updates: `rows` x `cols` elements from `offset`.
struct MuonMatrix {
  int64_t offset = 0;
  int64_t rows = 0;
  int64_t cols = 0;
};

struct MuonOptions {
  SgdOptions sgd;  // for every element outside the matrices; sgd.lr > 0
  float lr = 0.02f;  // the matrices' rate when the optimizer's rate is sgd.lr
  float momentum = 0.95f;
  bool nesterov = true;
  int ns_steps = 5;
  bool normalize_weights = false;  // airbench94_muon's W *= sqrt(rows) / ||W|| before each step
  std::vector<MuonMatrix> matrices;
};

class Muon : public Optimizer {
 public:
  // Throws kestrel::Error for what Sgd refuses, sgd.lr <= 0, a negative lr, momentum outside
  // [0, 1), Nesterov without momentum, ns_steps outside [1, 20], no matrices, an empty matrix,
  // or matrices that overlap.
  explicit Muon(MuonOptions options);

  void prepare_step(const Context& ctx, const Tensor& params, const Tensor& grads) override;
  void apply_step(const Context& ctx, Tensor& params, const Tensor& grads) override;
  // {"momentum_buffer" (SGD's, when its momentum is not 0), "muon_momentum_buffer"} after the
  // first step, else empty.
  NamedState state() const override;
  void load_state(int64_t step_count, const NamedState& state) override;

  const MuonOptions& options() const { return options_; }
  // The matrices' rate for the step prepare_step stores next.
  double muon_lr() const;

 private:
  // SGD's groups: this optimizer's (the rules'), plus one for the matrices at rate 0 and no
  // decay; rebuilt when the groups change.
  void sync_sgd_groups(const Context& ctx, const Tensor& params);
  void allocate_scratch(Device device);
  void orthogonalize(const Context& ctx, const MuonMatrix& m, Tensor& params, const Tensor& grads,
                     const int32_t* skip);

  MuonOptions options_;
  Sgd sgd_;
  Tensor momentum_buffer_;  // muon_momentum_buffer, flat like the parameters
  // Newton-Schulz's operands, sized for the largest matrix: X and its next value (wide form),
  // A and B (square), and two squared norms (the weights', the update's) in double.
  Tensor x_, x_next_, a_, b_, norms_;
  const void* synced_index_ = nullptr;  // the group index sgd_'s groups were built from
  int synced_groups_ = 0;
  bool synced_ = false;
};

}  // namespace kestrel::optim
