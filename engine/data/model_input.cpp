// to_model_input: colour conversion, resizing and normalisation (see image_file.hpp).
#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/data/image_file.hpp"
#include "kernels/common/error.hpp"

namespace kestrel::data {

namespace {

// One output position's source pixels and weights along one axis (weights sum to 1).
struct Tap {
  int64_t index;
  double weight;
};
using AxisTaps = std::vector<std::vector<Tap>>;

// Bilinear, align_corners=False: source position (o + 0.5) * in / out - 0.5, clamped below at 0,
// between pixels floor(src) and floor(src) + 1 (the last pixel repeats at the far edge).
AxisTaps bilinear_taps(int64_t in, int64_t out) {
  AxisTaps taps(static_cast<size_t>(out));
  const double scale = static_cast<double>(in) / static_cast<double>(out);
  for (int64_t o = 0; o < out; ++o) {
    const double src = std::max(0.0, (static_cast<double>(o) + 0.5) * scale - 0.5);
    const auto i0 = std::min(static_cast<int64_t>(src), in - 1);
    const int64_t i1 = std::min(i0 + 1, in - 1);
    const double frac = src - static_cast<double>(i0);
    taps[static_cast<size_t>(o)] = {{i0, 1.0 - frac}, {i1, frac}};
  }
  return taps;
}

// Area averaging: output o covers source [o * in / out, (o + 1) * in / out); each source pixel
// [i, i + 1) weighs by its overlap with that span, over the span's length.
AxisTaps area_taps(int64_t in, int64_t out) {
  AxisTaps taps(static_cast<size_t>(out));
  const double span = static_cast<double>(in) / static_cast<double>(out);
  for (int64_t o = 0; o < out; ++o) {
    const double begin = static_cast<double>(o * in) / static_cast<double>(out);
    const double end = static_cast<double>((o + 1) * in) / static_cast<double>(out);
    const auto first = static_cast<int64_t>(std::floor(begin));
    const int64_t last = std::min(static_cast<int64_t>(std::ceil(end)), in);  // exclusive
    for (int64_t i = first; i < last; ++i) {
      const double overlap =
          std::min(end, static_cast<double>(i + 1)) - std::max(begin, static_cast<double>(i));
      if (overlap > 0.0) taps[static_cast<size_t>(o)].push_back({i, overlap / span});
    }
  }
  return taps;
}

AxisTaps axis_taps(int64_t in, int64_t out) {
  if (out == in) {
    AxisTaps taps(static_cast<size_t>(out));
    for (int64_t o = 0; o < out; ++o) taps[static_cast<size_t>(o)] = {{o, 1.0}};
    return taps;
  }
  return out > in ? bilinear_taps(in, out) : area_taps(in, out);
}

// Sample (y, x) of the image seen with `channels` channels (luma or replicated gray).
double converted_sample(const Image& image, int64_t y, int64_t x, int64_t c, int64_t channels) {
  if (image.channels == channels) return image.at(y, x, c);
  if (channels == 1)
    return 0.299 * image.at(y, x, 0) + 0.587 * image.at(y, x, 1) + 0.114 * image.at(y, x, 2);
  return image.at(y, x, 0);
}

void check_normalization(const Normalization& norm, int64_t channels) {
  const auto fits = [&](size_t n) { return n == 1 || static_cast<int64_t>(n) == channels; };
  KESTREL_CHECK(fits(norm.mean.size()) && fits(norm.std.size()),
                "to_model_input: normalization has {} means and {} stds; expected 1 or {} each",
                norm.mean.size(), norm.std.size(), channels);
  for (float s : norm.std)
    KESTREL_CHECK(std::isfinite(s) && s > 0.0f,
                  "to_model_input: normalization std must be positive and finite, got {}", s);
  for (float m : norm.mean)
    KESTREL_CHECK(std::isfinite(m), "to_model_input: normalization mean must be finite, got {}", m);
}

}  // namespace

Tensor to_model_input(const Image& image, int64_t channels, int64_t height, int64_t width,
                      const Normalization& norm) {
  KESTREL_CHECK(channels == 1 || channels == 3,
                "to_model_input: the model takes {} channels; expected 1 (gray) or 3 (RGB)",
                channels);
  KESTREL_CHECK(height > 0 && width > 0 && height <= kMaxImageSide && width <= kMaxImageSide,
                "to_model_input: model input {} x {} is not in [1, {}] per side", height, width,
                kMaxImageSide);
  KESTREL_CHECK(
      (image.channels == 1 || image.channels == 3) && image.width > 0 && image.height > 0 &&
          image.pixels.size() == static_cast<size_t>(image.width * image.height * image.channels),
      "to_model_input: malformed image ({} x {} x {} with {} bytes)", image.width, image.height,
      image.channels, image.pixels.size());
  check_normalization(norm, channels);

  const AxisTaps along_x = axis_taps(image.width, width);
  const AxisTaps along_y = axis_taps(image.height, height);
  // Rows first: [C, image.height, width] in float64, then columns.
  std::vector<double> rows(static_cast<size_t>(channels * image.height * width));
  for (int64_t c = 0; c < channels; ++c) {
    for (int64_t y = 0; y < image.height; ++y) {
      double* out = rows.data() + (c * image.height + y) * width;
      for (int64_t x = 0; x < width; ++x) {
        double sum = 0.0;
        for (const Tap& t : along_x[static_cast<size_t>(x)])
          sum += t.weight * converted_sample(image, y, t.index, c, channels);
        out[x] = sum;
      }
    }
  }
  Tensor input = Tensor::empty(Shape{1, channels, height, width});
  float* out = input.data<float>();
  for (int64_t c = 0; c < channels; ++c) {
    const float mean = norm.mean.size() == 1 ? norm.mean[0] : norm.mean[static_cast<size_t>(c)];
    const float std = norm.std.size() == 1 ? norm.std[0] : norm.std[static_cast<size_t>(c)];
    for (int64_t y = 0; y < height; ++y) {
      for (int64_t x = 0; x < width; ++x) {
        double sum = 0.0;
        for (const Tap& t : along_y[static_cast<size_t>(y)])
          sum += t.weight * rows[static_cast<size_t>((c * image.height + t.index) * width + x)];
        // The loader's float order: unit = v / 255, then (unit - mean) / std.
        const float unit = static_cast<float>(sum) / 255.0f;
        out[(c * height + y) * width + x] = (unit - mean) / std;
      }
    }
  }
  return input;
}

}  // namespace kestrel::data
