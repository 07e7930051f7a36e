#pragma once
// A small network with both kinds of branch, for the tests that need a whole model with
// branches (data-parallel ranks, MPI, GPU against CPU): a ResNet basic block (two 3x3
// convolutions and a residual add, as torchvision's BasicBlock without its batch norms) and an
// Inception-style block (a 1x1, a 3x3 and a pooled 1x1 branch concatenated, as GoogLeNet's
// Inception without its 5x5 branch), on images of any size [C, H, W] with H, W >= 4.
#include <memory>

#include "engine/nn/activation.hpp"
#include "engine/nn/add.hpp"
#include "engine/nn/concat.hpp"
#include "engine/nn/conv2d.hpp"
#include "engine/nn/flatten.hpp"
#include "engine/nn/graph.hpp"
#include "engine/nn/linear.hpp"
#include "engine/nn/pooling.hpp"

namespace kestrel::test {

inline std::unique_ptr<nn::Graph> branching_net(int64_t channels, int64_t classes) {
  using nn::Conv2dOptions;
  auto g = std::make_unique<nn::Graph>();
  g->add<nn::Conv2d>("stem", channels, 8, 3, Conv2dOptions{.padding = 1});
  const nn::ValueId stem = g->node<nn::ReLU>({g->last_value()}, "stem_relu");
  // Basic block: relu(conv2(relu(conv1(x))) + x).
  g->node<nn::Conv2d>({stem}, "block.conv1", 8, 8, 3, Conv2dOptions{.padding = 1});
  g->add<nn::ReLU>("block.relu1");
  g->add<nn::Conv2d>("block.conv2", 8, 8, 3, Conv2dOptions{.padding = 1});
  g->node<nn::Add>({g->last_value(), stem}, "block.add");
  const nn::ValueId block = g->node<nn::ReLU>({g->last_value()}, "block.relu2");
  // Inception-style block: cat(1x1, 3x3, maxpool 3x3 stride 1 + 1x1).
  const nn::ValueId b1 = g->node<nn::Conv2d>({block}, "inception.branch1", 8, 4, 1);
  const nn::ValueId b2 =
      g->node<nn::Conv2d>({block}, "inception.branch2", 8, 6, 3, Conv2dOptions{.padding = 1});
  g->node<nn::MaxPool2d>({block}, "inception.branch3.0", 3,
                         nn::PoolOptions{.stride = 1, .padding = 1});
  const nn::ValueId b3 = g->node<nn::Conv2d>({g->last_value()}, "inception.branch3.1", 8, 2, 1);
  g->node<nn::Concat>({b1, b2, b3}, "inception.cat");
  g->add<nn::ReLU>("inception.relu");
  g->add<nn::AdaptiveAvgPool2d>("avgpool", 2, 2);
  g->add<nn::Flatten>("flatten");
  g->add<nn::Linear>("fc", 48, classes);
  return g;
}

}  // namespace kestrel::test
