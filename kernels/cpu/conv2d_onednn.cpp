#include "kernels/cpu/conv2d_onednn.hpp"

#if defined(KESTREL_HAVE_ONEDNN)

#include <fmt/format.h>

#include <oneapi/dnnl/dnnl.hpp>

#include <array>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "kernels/common/error.hpp"

namespace kestrel::cpu::onednn {

namespace {

using dnnl::memory;
using kernels::Conv2dGeometry;
using Tag = memory::format_tag;

dnnl::engine& cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

// One in-order stream per thread (oneDNN runs a primitive on the calling thread's OpenMP team).
dnnl::stream& cpu_stream() {
  thread_local dnnl::stream stream(cpu_engine());
  return stream;
}

// oneDNN's right padding is whatever makes its output size kestrel's (the floor in
// conv2d_output_extent can leave less than pad_h at the bottom and right).
int64_t right_pad(int64_t in, int64_t out, int64_t kernel, int stride, int pad, int dilation) {
  return (out - 1) * stride + static_cast<int64_t>(dilation) * (kernel - 1) + 1 - in - pad;
}

// The problem in oneDNN's terms, and the user's (kestrel's) plain layouts.
struct Problem {
  memory::dims src, weights, bias, dst, strides, dilates, pad_l, pad_r;
  memory::desc user_src, user_weights, user_bias, user_dst;
};

Problem describe_problem(const Conv2dGeometry& g) {
  Problem p;
  p.src = {g.n, g.c, g.h, g.w};
  p.dst = {g.n, g.k, g.oh, g.ow};
  p.bias = {g.k};
  const bool grouped = g.groups > 1;
  p.weights = grouped ? memory::dims{g.groups, g.out_channels_per_group(), g.channels_per_group(),
                                     g.r, g.s}
                      : memory::dims{g.k, g.c, g.r, g.s};
  p.strides = {g.stride_h, g.stride_w};
  p.dilates = {g.dilation_h - 1, g.dilation_w - 1};  // oneDNN counts the gaps
  p.pad_l = {g.pad_h, g.pad_w};
  p.pad_r = {right_pad(g.h, g.oh, g.r, g.stride_h, g.pad_h, g.dilation_h),
             right_pad(g.w, g.ow, g.s, g.stride_w, g.pad_w, g.dilation_w)};
  const auto f32 = memory::data_type::f32;
  p.user_src = memory::desc(p.src, f32, Tag::nchw);
  p.user_dst = memory::desc(p.dst, f32, Tag::nchw);
  p.user_bias = memory::desc(p.bias, f32, Tag::x);
  p.user_weights = memory::desc(p.weights, f32, grouped ? Tag::goihw : Tag::oihw);
  return p;
}

// Layout left to the primitive.
memory::desc any(const memory::dims& dims) {
  return memory::desc(dims, memory::data_type::f32, Tag::any);
}

// One operand of a primitive: the user's buffer used as it is, or reordered into the
// primitive's layout in scratch at `offset` (before the primitive for an input, after it for an
// output).
class Operand {
 public:
  Operand(const memory::desc& user, const memory::desc& inner, bool output, size_t& scratch_bytes)
      : user_(user), inner_(inner), reordered_(user != inner) {
    if (!reordered_) return;
    offset_ = scratch_bytes;
    scratch_bytes += (inner_.get_size() + 63) / 64 * 64;
    dnnl::engine& e = cpu_engine();
    reorder_.emplace(output ? dnnl::reorder::primitive_desc(e, inner_, e, user_)
                            : dnnl::reorder::primitive_desc(e, user_, e, inner_));
  }

  // The primitive's view of an input's `data`, reordered now when needed.
  memory input(const void* data, void* scratch) const {
    memory user(user_, cpu_engine(), const_cast<void*>(data));
    if (!reordered_) return user;
    memory inner(inner_, cpu_engine(), static_cast<char*>(scratch) + offset_);
    reorder_->execute(cpu_stream(), user, inner);
    return inner;
  }
  // The primitive's view of an output's `data`; write_back() moves it there when reordered.
  memory output(void* data, void* scratch) const {
    return reordered_ ? memory(inner_, cpu_engine(), static_cast<char*>(scratch) + offset_)
                      : memory(user_, cpu_engine(), data);
  }
  void write_back(memory inner, void* data) const {
    if (!reordered_) return;
    memory user(user_, cpu_engine(), data);
    reorder_->execute(cpu_stream(), inner, user);
  }

 private:
  memory::desc user_, inner_;
  bool reordered_;
  size_t offset_ = 0;
  std::optional<dnnl::reorder> reorder_;
};

std::atomic<ConvAlgorithm>& algorithm_setting() {
  static std::atomic<ConvAlgorithm> setting = [] {
    const char* choice = std::getenv("KESTREL_ONEDNN_CONV");
    if (choice == nullptr || *choice == '\0' || std::strcmp(choice, "auto") == 0)
      return ConvAlgorithm::Auto;
    if (std::strcmp(choice, "direct") == 0) return ConvAlgorithm::Direct;
    fmt::print(stderr, "kestrel: warning: KESTREL_ONEDNN_CONV={} is neither auto nor direct; "
               "using auto\n", choice);
    return ConvAlgorithm::Auto;
  }();
  return setting;
}

dnnl::algorithm dnnl_algorithm(ConvAlgorithm a) {
  return a == ConvAlgorithm::Direct ? dnnl::algorithm::convolution_direct
                                    : dnnl::algorithm::convolution_auto;
}

dnnl::convolution_forward::primitive_desc forward_pd(const Problem& p, bool bias, ConvAlgorithm a) {
  const auto kind = dnnl::prop_kind::forward_training;
  const auto algo = dnnl_algorithm(a);
  if (bias)
    return {{kind, algo, any(p.src), any(p.weights), any(p.bias), any(p.dst), p.strides, p.dilates,
             p.pad_l, p.pad_r},
            cpu_engine()};
  return {{kind, algo, any(p.src), any(p.weights), any(p.dst), p.strides, p.dilates, p.pad_l,
           p.pad_r},
          cpu_engine()};
}

struct ForwardPass {
  ForwardPass(const Problem& p, ConvAlgorithm a, bool with_bias)
      : pd(forward_pd(p, with_bias, a)), conv(pd) {
    src.emplace(p.user_src, pd.src_desc(), false, scratch_bytes);
    weights.emplace(p.user_weights, pd.weights_desc(), false, scratch_bytes);
    if (with_bias) bias.emplace(p.user_bias, pd.bias_desc(), false, scratch_bytes);
    dst.emplace(p.user_dst, pd.dst_desc(), true, scratch_bytes);
  }
  dnnl::convolution_forward::primitive_desc pd;
  dnnl::convolution_forward conv;
  size_t scratch_bytes = 0;
  std::optional<Operand> src, weights, bias, dst;
};

struct BackwardDataPass {
  BackwardDataPass(const Problem& p, ConvAlgorithm a)
      : pd({dnnl_algorithm(a), any(p.src), any(p.weights), any(p.dst), p.strides, p.dilates,
            p.pad_l, p.pad_r},
           cpu_engine(), forward_pd(p, false, a)),
        conv(pd) {
    diff_dst.emplace(p.user_dst, pd.diff_dst_desc(), false, scratch_bytes);
    weights.emplace(p.user_weights, pd.weights_desc(), false, scratch_bytes);
    diff_src.emplace(p.user_src, pd.diff_src_desc(), true, scratch_bytes);
  }
  dnnl::convolution_backward_data::primitive_desc pd;
  dnnl::convolution_backward_data conv;
  size_t scratch_bytes = 0;
  std::optional<Operand> diff_dst, weights, diff_src;
};

struct BackwardWeightPass {
  BackwardWeightPass(const Problem& p, ConvAlgorithm a)
      : pd({dnnl_algorithm(a), any(p.src), any(p.weights), any(p.dst), p.strides, p.dilates,
            p.pad_l, p.pad_r},
           cpu_engine(), forward_pd(p, false, a)),
        conv(pd) {
    src.emplace(p.user_src, pd.src_desc(), false, scratch_bytes);
    diff_dst.emplace(p.user_dst, pd.diff_dst_desc(), false, scratch_bytes);
    diff_weights.emplace(p.user_weights, pd.diff_weights_desc(), true, scratch_bytes);
  }
  dnnl::convolution_backward_weights::primitive_desc pd;
  dnnl::convolution_backward_weights conv;
  size_t scratch_bytes = 0;
  std::optional<Operand> src, diff_dst, diff_weights;
};

using Key = std::array<int64_t, 18>;

Key key_of(const Conv2dGeometry& g, int64_t variant, ConvAlgorithm a) {
  return {g.n,        g.c,        g.h,        g.w,          g.k,          g.r,
          g.s,        g.oh,       g.ow,       g.stride_h,   g.stride_w,   g.pad_h,
          g.pad_w,    g.dilation_h, g.dilation_w, g.groups, variant, static_cast<int64_t>(a)};
}

// The pass for this geometry, built on first use (primitive creation costs milliseconds) and
// kept for the process; the map owns each pass, so a reference stays valid.
template <class Pass, class... Args>
const Pass& cached(const Conv2dGeometry& g, int64_t variant, Args... args) {
  static std::mutex mutex;
  static std::map<Key, std::unique_ptr<Pass>> passes;
  const ConvAlgorithm algorithm = conv_algorithm();
  const Key key = key_of(g, variant, algorithm);
  std::lock_guard<std::mutex> lock(mutex);
  auto it = passes.find(key);
  if (it != passes.end()) return *it->second;
  KESTREL_CHECK(supports(g), "oneDNN conv2d: geometry outside its domain (check supports())");
  try {
    auto pass = std::make_unique<Pass>(describe_problem(g), algorithm, args...);
    return *passes.emplace(key, std::move(pass)).first->second;
  } catch (const dnnl::error& e) {
    KESTREL_FAIL("oneDNN conv2d: no primitive for input [{}, {}, {}, {}], {} filters {}x{} "
                 "(stride {}, pad {}, dilation {}, groups {}): {}",
                 g.n, g.c, g.h, g.w, g.k, g.r, g.s, g.stride_h, g.pad_h, g.dilation_h, g.groups,
                 e.what());
  }
}

const ForwardPass& forward(const Conv2dGeometry& g, bool bias) {
  return cached<ForwardPass>(g, bias ? 1 : 0, bias);
}
const BackwardDataPass& backward_data(const Conv2dGeometry& g) {
  return cached<BackwardDataPass>(g, 2);
}
const BackwardWeightPass& backward_weight(const Conv2dGeometry& g) {
  return cached<BackwardWeightPass>(g, 3);
}

// A primitive's failure at execution, as one kestrel line.
template <class Body>
void run(const char* what, const Body& body) {
  try {
    body();
    cpu_stream().wait();
  } catch (const dnnl::error& e) {
    KESTREL_FAIL("oneDNN conv2d {}: {}", what, e.what());
  }
}

}  // namespace

bool built() { return true; }

ConvAlgorithm conv_algorithm() { return algorithm_setting().load(); }
void set_conv_algorithm(ConvAlgorithm a) { algorithm_setting().store(a); }

std::string implementation(const Conv2dGeometry& g, ConvPass pass) {
  switch (pass) {
    case ConvPass::Forward: return forward(g, false).pd.impl_info_str();
    case ConvPass::BackwardData: return backward_data(g).pd.impl_info_str();
    case ConvPass::BackwardWeight: return backward_weight(g).pd.impl_info_str();
  }
  return "";
}

std::string describe() {
  const dnnl_version_t* v = dnnl::version();
  const char* isa = "";
  switch (dnnl::get_effective_cpu_isa()) {
    case dnnl::cpu_isa::avx2: isa = "avx2"; break;
    case dnnl::cpu_isa::avx512_core: isa = "avx512_core"; break;
    case dnnl::cpu_isa::avx512_core_vnni: isa = "avx512_core_vnni"; break;
    case dnnl::cpu_isa::avx512_core_bf16: isa = "avx512_core_bf16"; break;
    case dnnl::cpu_isa::avx512_core_amx: isa = "avx512_core_amx"; break;
    default: isa = "other ISA"; break;
  }
  return fmt::format("oneDNN {}.{}.{} ({})", v->major, v->minor, v->patch, isa);
}

bool supports(const Conv2dGeometry& g) {
  return g.n > 0 &&
         right_pad(g.h, g.oh, g.r, g.stride_h, g.pad_h, g.dilation_h) >= 0 &&
         right_pad(g.w, g.ow, g.s, g.stride_w, g.pad_w, g.dilation_w) >= 0;
}

size_t forward_workspace_bytes(const Conv2dGeometry& g, bool bias) {
  return forward(g, bias).scratch_bytes;
}
size_t backward_data_workspace_bytes(const Conv2dGeometry& g) {
  return backward_data(g).scratch_bytes;
}
size_t backward_weight_workspace_bytes(const Conv2dGeometry& g) {
  return backward_weight(g).scratch_bytes;
}

void conv2d_forward(const Conv2dGeometry& g, const float* x, const float* w, const float* bias,
                    float* y, void* workspace) {
  const ForwardPass& f = forward(g, bias != nullptr);
  run("forward", [&] {
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, f.src->input(x, workspace)},
                                         {DNNL_ARG_WEIGHTS, f.weights->input(w, workspace)},
                                         {DNNL_ARG_DST, f.dst->output(y, workspace)}};
    if (bias) args.emplace(DNNL_ARG_BIAS, f.bias->input(bias, workspace));
    f.conv.execute(cpu_stream(), args);
    f.dst->write_back(args.at(DNNL_ARG_DST), y);
  });
}

void conv2d_backward_data(const Conv2dGeometry& g, const float* dy, const float* w, float* dx,
                          void* workspace) {
  const BackwardDataPass& b = backward_data(g);
  run("backward data", [&] {
    const std::unordered_map<int, memory> args{
        {DNNL_ARG_DIFF_DST, b.diff_dst->input(dy, workspace)},
        {DNNL_ARG_WEIGHTS, b.weights->input(w, workspace)},
        {DNNL_ARG_DIFF_SRC, b.diff_src->output(dx, workspace)}};
    b.conv.execute(cpu_stream(), args);
    b.diff_src->write_back(args.at(DNNL_ARG_DIFF_SRC), dx);
  });
}

void conv2d_backward_weight(const Conv2dGeometry& g, const float* x, const float* dy, float* dw,
                            void* workspace) {
  const BackwardWeightPass& b = backward_weight(g);
  run("backward weight", [&] {
    const std::unordered_map<int, memory> args{
        {DNNL_ARG_SRC, b.src->input(x, workspace)},
        {DNNL_ARG_DIFF_DST, b.diff_dst->input(dy, workspace)},
        {DNNL_ARG_DIFF_WEIGHTS, b.diff_weights->output(dw, workspace)}};
    b.conv.execute(cpu_stream(), args);
    b.diff_weights->write_back(args.at(DNNL_ARG_DIFF_WEIGHTS), dw);
  });
}

}  // namespace kestrel::cpu::onednn

#else  // without oneDNN: the path does not exist; callers ask built() first.

#include "kernels/common/error.hpp"

namespace kestrel::cpu::onednn {

namespace {
[[noreturn]] void absent() { KESTREL_FAIL("this kestrel was built without oneDNN (libdnnl-dev)"); }
}  // namespace

bool built() { return false; }
ConvAlgorithm conv_algorithm() { return ConvAlgorithm::Direct; }
void set_conv_algorithm(ConvAlgorithm) {}
std::string implementation(const kernels::Conv2dGeometry&, ConvPass) { absent(); }
std::string describe() { return "not built in (libdnnl-dev not found, or -DKESTREL_ONEDNN=OFF)"; }
bool supports(const kernels::Conv2dGeometry&) { return false; }
size_t forward_workspace_bytes(const kernels::Conv2dGeometry&, bool) { absent(); }
size_t backward_data_workspace_bytes(const kernels::Conv2dGeometry&) { absent(); }
size_t backward_weight_workspace_bytes(const kernels::Conv2dGeometry&) { absent(); }
void conv2d_forward(const kernels::Conv2dGeometry&, const float*, const float*, const float*,
                    float*, void*) {
  absent();
}
void conv2d_backward_data(const kernels::Conv2dGeometry&, const float*, const float*, float*,
                          void*) {
  absent();
}
void conv2d_backward_weight(const kernels::Conv2dGeometry&, const float*, const float*, float*,
                            void*) {
  absent();
}

}  // namespace kestrel::cpu::onednn

#endif
