#include "engine/init/patch_whitening.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/init/symmetric_eigen.hpp"
#include "kernels/common/error.hpp"

namespace kestrel::init {

Tensor patch_whitening_filters(const Tensor& images, int64_t kernel_h, int64_t kernel_w,
                               double eps) {
  KESTREL_CHECK(images.defined() && images.dtype() == DType::F32 && images.ndim() == 4 &&
                    !images.device().is_cuda(),
                "patch_whitening: expected host f32 images [N, C, H, W], got {}",
                images.defined() ? images.str() : std::string("nothing"));
  const int64_t n = images.dim(0), c = images.dim(1), h = images.dim(2), w = images.dim(3);
  KESTREL_CHECK(n >= 1 && kernel_h >= 1 && kernel_w >= 1 && kernel_h <= h && kernel_w <= w,
                "patch_whitening: {}x{} patches of {} images of {}x{}", kernel_h, kernel_w, n, h,
                w);
  KESTREL_CHECK(eps > 0.0 && std::isfinite(eps), "patch_whitening: eps must be positive, got {}",
                eps);
  const int64_t d = c * kernel_h * kernel_w;  // a patch, flattened as the weight's [C, kh, kw]
  const int64_t oh = h - kernel_h + 1, ow = w - kernel_w + 1;
  const float* px = images.data<float>();

  // Upper triangle of sum_patches p p^T, in double.
  std::vector<double> cov(static_cast<size_t>(d * d), 0.0);
  std::vector<double> patch(static_cast<size_t>(d));
  for (int64_t img = 0; img < n; ++img)
    for (int64_t y = 0; y < oh; ++y)
      for (int64_t xw = 0; xw < ow; ++xw) {
        int64_t k = 0;
        for (int64_t ch = 0; ch < c; ++ch)
          for (int64_t i = 0; i < kernel_h; ++i)
            for (int64_t j = 0; j < kernel_w; ++j)
              patch[static_cast<size_t>(k++)] =
                  px[((img * c + ch) * h + y + i) * w + xw + j];
        for (int64_t a = 0; a < d; ++a) {
          const double pa = patch[static_cast<size_t>(a)];
          double* row = cov.data() + a * d;
          for (int64_t b = a; b < d; ++b) row[b] += pa * patch[static_cast<size_t>(b)];
        }
      }
  const double count = static_cast<double>(n * oh * ow);
  for (double& v : cov) v /= count;
  const SymmetricEigen eig = symmetric_eigen(cov, d);

  Tensor out = Tensor::empty(Shape{2 * d, c, kernel_h, kernel_w}, DType::F32, Device::cpu());
  float* po = out.data<float>();
  for (int64_t k = 0; k < d; ++k) {
    const int64_t j = d - 1 - k;  // decreasing eigenvalue
    const double lambda = eig.values[static_cast<size_t>(j)];
    KESTREL_CHECK(std::isfinite(lambda), "patch_whitening: the images hold non-finite values");
    const double scale = 1.0 / std::sqrt(std::max(lambda, 0.0) + eps);
    for (int64_t e = 0; e < d; ++e) {
      const double v = eig.vectors[static_cast<size_t>(e * d + j)] * scale;
      po[k * d + e] = static_cast<float>(v);
      po[(d + k) * d + e] = static_cast<float>(-v);
    }
  }
  return out;
}

void patch_whitening(const Context& ctx, Tensor& w, const Tensor& images, double eps) {
  KESTREL_CHECK(w.defined() && w.dtype() == DType::F32 && w.ndim() == 4 &&
                    w.device() == ctx.device(),
                "patch_whitening: expected an f32 convolution weight on {}, got {}",
                ctx.device().str(), w.defined() ? w.str() : std::string("nothing"));
  const int64_t c = w.dim(1), kh = w.dim(2), kw = w.dim(3);
  KESTREL_CHECK(w.dim(0) == 2 * c * kh * kw && images.ndim() == 4 && images.dim(1) == c,
                "patch_whitening: a weight {} whitens {}-channel {}x{} patches into {} filters "
                "(2 x C x kh x kw), and the images {} must have C channels",
                w.str(), c, kh, kw, 2 * c * kh * kw, images.str());
  const Tensor filters = patch_whitening_filters(images, kh, kw, eps);
  w.copy_from(filters.to(w.device()));
}

}  // namespace kestrel::init
