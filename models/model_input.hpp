#pragma once
// What a model builder adapts to: the images' shape and the number of classes.
#include <cstdint>

#include "engine/core/shape.hpp"

namespace kestrel::models {

struct ModelInput {
  int64_t channels = 1, height = 28, width = 28;
  int64_t classes = 10;

  // [C, H, W], the graph's input without the batch.
  Shape shape() const { return Shape{channels, height, width}; }
};

}  // namespace kestrel::models
