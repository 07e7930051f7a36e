// Confusion heatmap: colour scales from light to dark, the text colour rule (always the more
// contrasting of dark ink and white, never below WCAG's 4.5:1), and the SVG (counts, names).
#include "engine/report/heatmap.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kernels/common/error.hpp"
#include "tests/support/text.hpp"

namespace kestrel::report {
namespace {

using test::count_occurrences;

TEST(ReportHeatmap, ContrastFormulaMatchesWcag) {
  EXPECT_NEAR(relative_luminance({0, 0, 0}), 0.0, 1e-12);
  EXPECT_NEAR(relative_luminance({255, 255, 255}), 1.0, 1e-12);
  EXPECT_NEAR(contrast_ratio({0, 0, 0}, {255, 255, 255}), 21.0, 1e-9);
  EXPECT_NEAR(contrast_ratio({255, 255, 255}, {255, 255, 255}), 1.0, 1e-12);
  // #767676 on white is the classic 4.54:1.
  EXPECT_NEAR(contrast_ratio({118, 118, 118}, {255, 255, 255}), 4.54, 0.01);
}

TEST(ReportHeatmap, ScalesRunFromLightToDark) {
  for (auto scale : {diagonal_colour, mistake_colour}) {
    double previous = 2.0;
    for (int i = 0; i <= 20; ++i) {
      const double l = relative_luminance(scale(i / 20.0));
      EXPECT_LT(l, previous) << i;  // strictly darker as t grows
      previous = l;
    }
    EXPECT_GT(relative_luminance(scale(0.0)), 0.85);
    EXPECT_LT(relative_luminance(scale(1.0)), 0.08);
    // Out-of-range t is clamped.
    EXPECT_EQ(scale(-1.0).hex(), scale(0.0).hex());
    EXPECT_EQ(scale(7.0).hex(), scale(1.0).hex());
  }
  EXPECT_EQ(diagonal_colour(1.0).hex(), "#08306b");
  EXPECT_EQ(mistake_colour(0.0).hex(), "#fff5eb");
}

TEST(ReportHeatmap, TextColourSwitchesForContrast) {
  EXPECT_EQ(text_colour_on(diagonal_colour(1.0)).hex(), kWhite.hex());
  EXPECT_EQ(text_colour_on(diagonal_colour(0.0)).hex(), kDarkInk.hex());
  EXPECT_EQ(text_colour_on(mistake_colour(1.0)).hex(), kWhite.hex());
  EXPECT_EQ(text_colour_on(mistake_colour(0.1)).hex(), kDarkInk.hex());
  // Wherever the switch happens, the chosen text stays readable.
  for (auto scale : {diagonal_colour, mistake_colour}) {
    bool switched = false;
    for (int i = 0; i <= 100; ++i) {
      const Rgb background = scale(i / 100.0);
      const Rgb text = text_colour_on(background);
      EXPECT_GE(contrast_ratio(background, text), 4.5) << background.hex();
      // The rule picks the better of the two.
      const Rgb other = text.hex() == kWhite.hex() ? kDarkInk : kWhite;
      EXPECT_GE(contrast_ratio(background, text), contrast_ratio(background, other));
      if (text.hex() == kWhite.hex()) switched = true;
      // Once white, white for every darker shade.
      if (switched) {
        EXPECT_EQ(text.hex(), kWhite.hex()) << background.hex();
      }
    }
    EXPECT_TRUE(switched);
  }
}

TEST(ReportHeatmap, CellsHoldCountsAndNames) {
  const std::vector<std::vector<int64_t>> counts = {{50, 3, 0}, {7, 40, 1}, {0, 0, 61}};
  const std::vector<std::string> names = {"T-shirt/top", "<script>", "Bag"};
  const std::string svg = render_confusion_heatmap(counts, names, "run-1-confusion", "Confusion");
  EXPECT_NE(svg.find("<svg id=\"run-1-confusion\""), std::string::npos);
  EXPECT_EQ(count_occurrences(svg, "<rect x="), 9u + 1u + 10u);  // cells, frame, legend swatches
  for (const char* cell :
       {">50</text>", ">3</text>", ">7</text>", ">40</text>", ">1</text>", ">61</text>"})
    EXPECT_NE(svg.find(cell), std::string::npos) << cell;
  EXPECT_EQ(count_occurrences(svg, ">0</text>"), 3u);
  EXPECT_EQ(svg.find("<script>"), std::string::npos);
  EXPECT_NE(svg.find("&lt;script&gt;"), std::string::npos);
  EXPECT_NE(svg.find(">T-shirt/top</text>"), std::string::npos);
  EXPECT_NE(svg.find("true T-shirt/top, predicted &lt;script&gt;: 3 (5.7% of the T-shirt/top)"),
            std::string::npos);
  // The largest mistake (7) gets the darkest orange, the diagonal is blue.
  EXPECT_NE(svg.find(mistake_colour(1.0).hex()), std::string::npos);
  EXPECT_NE(svg.find("max 7"), std::string::npos);
  EXPECT_NE(svg.find(">predicted class</text>"), std::string::npos);
  EXPECT_NE(svg.find(">true class</text>"), std::string::npos);
}

TEST(ReportHeatmap, RejectsARaggedMatrix) {
  EXPECT_THROW(render_confusion_heatmap({{1, 2}, {3}}, {"a", "b"}, "x", "t"), Error);
  EXPECT_THROW(render_confusion_heatmap({}, {}, "x", "t"), Error);
}

}  // namespace
}  // namespace kestrel::report
