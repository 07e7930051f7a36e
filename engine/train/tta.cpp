#include "engine/train/tta.hpp"

#include "kernels/common/error.hpp"

namespace kestrel::train {

Tta parse_tta(std::string_view name) {
  if (name == "none") return Tta::None;
  if (name == "flip") return Tta::Flip;
  if (name == "flip-translate") return Tta::FlipTranslate;
  KESTREL_FAIL("test-time augmentation '{}' is not one of none, flip, flip-translate", name);
}

std::string tta_name(Tta tta) {
  switch (tta) {
    case Tta::None: return "none";
    case Tta::Flip: return "flip";
    case Tta::FlipTranslate: return "flip-translate";
  }
  return "none";
}

std::vector<TtaView> tta_views(Tta tta) {
  switch (tta) {
    case Tta::None: return {{0, 0, false, 1.0f}};
    case Tta::Flip: return {{0, 0, false, 0.5f}, {0, 0, true, 0.5f}};
    case Tta::FlipTranslate:
      return {{0, 0, false, 0.25f},   {0, 0, true, 0.25f},  {-1, -1, false, 0.125f},
              {-1, -1, true, 0.125f}, {1, 1, false, 0.125f}, {1, 1, true, 0.125f}};
  }
  return {{0, 0, false, 1.0f}};
}

}  // namespace kestrel::train
