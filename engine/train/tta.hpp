#pragma once
// Test-time augmentation: a model's evaluation logits averaged over views of each test image
// (train --tta, eval --tta). The views and weights are airbench94's (Keller Jordan's CIFAR-10
// speed record's evaluation):
//   flip:            x and its mirror image, 1/2 each;
//   flip-translate:  those two at 1/4 each, and x translated by one pixel along both axes each
//                    way (reflecting at the borders), each with its mirror image, 1/8 each.
// The loss, accuracy and confusion matrix are then those of the averaged logits.
#include <string>
#include <string_view>
#include <vector>

namespace kestrel::train {

enum class Tta { None, Flip, FlipTranslate };

// One view: the image shifted by (dy, dx) pixels, then mirrored when `flip`; `weight` of the
// average (a view's weights sum to 1).
struct TtaView {
  int dy = 0, dx = 0;
  bool flip = false;
  float weight = 1.0f;
};

// "none", "flip" or "flip-translate"; anything else throws kestrel::Error naming the choices.
Tta parse_tta(std::string_view name);
std::string tta_name(Tta tta);
std::vector<TtaView> tta_views(Tta tta);

}  // namespace kestrel::train
