#pragma once
// DenseNet-BC (Huang, Liu, van der Maaten & Weinberger 2017) as torchvision 0.14 builds it, with
// the PyTorch module paths as layer names, so that parameters and buffers carry the state_dict
// names of torchvision.models.densenet121(weights=None):
//
//   Dense layer P = features.denseblockB.denselayerL (L from 1), reading the concatenation of
//   the block's input and the outputs of denselayer1..L-1: P.cat (torch.cat inside torchvision's
//   bn_function; no parameters, and absent for L = 1, which reads the block input directly),
//   P.norm1, P.relu1, P.conv1 (1x1, 4 * 32 = 128 channels, no bias), P.norm2, P.relu2, P.conv2
//   (3x3, padding 1, 32 channels: the growth rate, no bias). The block's output,
//   features.denseblockB.cat, concatenates its input and all its layers' outputs.
//   Transition T = features.transitionB (after blocks 1..3): T.norm, T.relu, T.conv (1x1,
//   half the channels, no bias), T.pool (AvgPool2d 2x2, stride 2).
//
// densenet121: 7,978,856 parameters for 3x224x224 and 1000 classes (and 363 batch norm
//   buffers, 121 of each running_mean, running_var, num_batches_tracked):
//   features.conv0 (7x7, stride 2, padding 3, 64, no bias), features.norm0, features.relu0,
//   features.pool0 (MaxPool2d 3x3, stride 2, padding 1) -> 56x56,
//   denseblock1 (6 layers, 64 -> 256 channels), transition1 (-> 128, 28x28),
//   denseblock2 (12 layers, -> 512), transition2 (-> 256, 14x14),
//   denseblock3 (24 layers, -> 1024), transition3 (-> 512, 7x7),
//   denseblock4 (16 layers, -> 1024), features.norm5; then what torchvision's forward applies
//   functionally: relu, avgpool (adaptive to 1x1), flatten; and classifier (1024 -> classes).
//   2.83 G multiply-adds per image.
//   Its CIFAR form, used for images of at most 32x32 (CIFAR-10, MNIST): features.conv0 is 3x3
//   with stride 1 and padding 1 (64 channels) and there is no features.pool0, so denseblock1
//   runs at 32x32 and the transitions take it to 16x16, 8x8 and 4x4 (torchvision's densenet121
//   with model.features.conv0 replaced and model.features.pool0 = nn.Identity()); names are
//   unchanged. 6,956,426 parameters and 0.89 G multiply-adds per image on CIFAR-10.
//
// Starts as torchvision's, whatever the graph's scheme: batch norm weight 1, bias 0; every
// convolution weight kaiming_normal_ (fan_in, gain sqrt(2)); the classifier's weight
// nn.Linear's default and its bias 0.
#include <memory>

#include "engine/nn/graph.hpp"
#include "models/model_input.hpp"

namespace kestrel::models {

std::unique_ptr<nn::Graph> densenet121(const ModelInput& in);

}  // namespace kestrel::models
