#pragma once
// The confusion matrix as an SVG heatmap: true classes down the side, predictions across the
// top, the count in every cell. Correct predictions (the diagonal) are shaded blue by the
// class's recall; mistakes are shaded orange by their count relative to the largest mistake,
// so that a few dozen 4-as-9 errors stand out beside a thousand correct 1s instead of fading
// into white on one shared scale. Cell text switches between dark and white for contrast.
#include <cstdint>
#include <string>
#include <vector>

namespace kestrel::report {

struct Rgb {
  int r = 0, g = 0, b = 0;  // 0..255
  std::string hex() const;  // "#rrggbb"
};

// The blue scale of correct predictions and the orange scale of mistakes, for t in [0, 1]
// (clamped): near white at 0, dark at 1.
Rgb diagonal_colour(double t);
Rgb mistake_colour(double t);

// WCAG 2 relative luminance (0 black .. 1 white) and contrast ratio (1 .. 21).
double relative_luminance(Rgb c);
double contrast_ratio(Rgb a, Rgb b);

// The text colour for a cell: whichever of black or white contrasts more with it. With pure
// black, every background reaches at least 4.58:1 (WCAG AA asks 4.5:1); a softer dark grey
// would fall below that on mid-tones such as #3686c0.
Rgb text_colour_on(Rgb background);
inline constexpr Rgb kDarkInk{0, 0, 0};
inline constexpr Rgb kWhite{255, 255, 255};

// counts[true][predicted], square, one name per class. The <svg> gets `id`.
std::string render_confusion_heatmap(const std::vector<std::vector<int64_t>>& counts,
                                     const std::vector<std::string>& class_names,
                                     const std::string& id, const std::string& title);

}  // namespace kestrel::report
