#include "models/lenet5.hpp"

#include <algorithm>

#include "engine/nn/activation.hpp"
#include "engine/nn/conv2d.hpp"
#include "engine/nn/flatten.hpp"
#include "engine/nn/linear.hpp"
#include "engine/nn/pooling.hpp"

namespace kestrel::models {

std::unique_ptr<nn::Graph> lenet5(const ModelInput& in) {
  auto g = std::make_unique<nn::Graph>();
  g->add<nn::Conv2d>("conv1", in.channels, 6, 5);
  g->add<nn::ReLU>("relu1");
  g->add<nn::MaxPool2d>("pool1", 2);
  g->add<nn::Conv2d>("conv2", 6, 16, 5);
  g->add<nn::ReLU>("relu2");
  g->add<nn::MaxPool2d>("pool2", 2);
  g->add<nn::Flatten>("flatten");
  g->add<nn::Linear>("fc1", 0, 120);  // 16 * 4 * 4 on 28x28, inferred
  g->add<nn::ReLU>("relu3");
  g->add<nn::Linear>("fc2", 120, 84);
  g->add<nn::ReLU>("relu4");
  g->add<nn::Linear>("fc3", 84, in.classes);
  return g;
}

std::unique_ptr<nn::Graph> lenet5_classic(const ModelInput& in) {
  // Pad up to LeCun's 32x32 input field.
  const int padding =
      static_cast<int>(std::max<int64_t>(0, (32 - std::min(in.height, in.width)) / 2));
  auto g = std::make_unique<nn::Graph>();
  g->add<nn::Conv2d>("conv1", in.channels, 6, 5, nn::Conv2dOptions{.padding = padding});
  g->add<nn::Tanh>("tanh1");
  g->add<nn::AvgPool2d>("pool1", 2);
  g->add<nn::Conv2d>("conv2", 6, 16, 5);
  g->add<nn::Tanh>("tanh2");
  g->add<nn::AvgPool2d>("pool2", 2);
  g->add<nn::Flatten>("flatten");
  g->add<nn::Linear>("fc1", 0, 120);  // 16 * 5 * 5 on a 32x32 field, inferred
  g->add<nn::Tanh>("tanh3");
  g->add<nn::Linear>("fc2", 120, 84);
  g->add<nn::Tanh>("tanh4");
  g->add<nn::Linear>("fc3", 84, in.classes);
  return g;
}

}  // namespace kestrel::models
