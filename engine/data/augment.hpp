#pragma once
// The random crop's padding: zeros (torchvision RandomCrop's default fill) or the image mirrored
// about its edge pixels (RandomCrop(padding_mode='reflect'), airbench's CIFAR-10 pipeline).
// train --crop-padding-mode and config.json's crop_padding_mode name it.
#include <string>
#include <string_view>

namespace kestrel::data {

enum class PaddingMode { Zero, Reflect };

// "zero" or "reflect"; anything else throws kestrel::Error naming the choices.
PaddingMode parse_padding_mode(std::string_view name);
std::string padding_mode_name(PaddingMode mode);

}  // namespace kestrel::data
