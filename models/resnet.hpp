#pragma once
// Residual networks (He, Zhang, Ren & Sun 2016) built from BasicBlocks, with the PyTorch
// module paths as layer names, so that parameters and buffers carry the state_dict names of
// the PyTorch models they mirror:
//
//   block(x) = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))
//   layerS.B.conv1 (3x3, stride s, no bias), layerS.B.bn1, layerS.B.relu1, layerS.B.conv2 (3x3,
//   no bias), layerS.B.bn2, the shortcut, layerS.B.add, layerS.B.relu2. The shortcut is x
//   itself, except in the first block of a stage that changes the shape. torchvision applies
//   one `relu` module twice per block; kestrel's layers need distinct names, so the two ReLUs
//   and the sum are relu1, relu2 and add (parameter-free, absent from any state_dict).
//
// resnet18: torchvision.models.resnet18, 11,689,512 parameters for 3x224x224 and 1000 classes:
//   conv1 (7x7, stride 2, padding 3, no bias), bn1, relu, maxpool (3x3, stride 2, padding 1),
//   layer1..layer4 of 2 blocks at 64/128/256/512 channels (stride 2 from layer2 on, with
//   downsample.0 = 1x1 convolution of stride 2 without bias and downsample.1 = batch norm),
//   avgpool (adaptive to 1x1), flatten, fc (512 -> classes).
//   Its CIFAR form, used for images of at most 32x32 (CIFAR-10, MNIST): conv1 is 3x3 with
//   stride 1 and padding 1 and there is no maxpool, the usual adaptation for small images
//   (torchvision's resnet18 with model.conv1 replaced and model.maxpool = nn.Identity());
//   names are unchanged. 11,173,962 parameters on CIFAR-10.
//
// resnet20: the CIFAR-10 ResNet of the paper's section 4.2: conv1 (3x3, 16, no bias), bn1,
//   relu, layer1..layer3 of 3 blocks at 16/32/64 channels (stride 2 in layer2 and layer3),
//   option-A shortcuts (layerS.0.shortcut: nn::ZeroPadShortcut, no parameters), avgpool,
//   flatten, fc (64 -> classes). 269,722 parameters on CIFAR-10. There is no torchvision
//   model; bench/pytorch/resnet_cifar.py is the PyTorch module with these names.
//
// Initialisation as torchvision's ResNet: every convolution weight starts from
// kaiming_normal_(mode="fan_out", nonlinearity="relu") and batch norm from weight 1, bias 0,
// whatever the graph's scheme; fc follows the scheme (the trainer's is nn.Linear's default,
// as torchvision's).
#include <memory>

#include "engine/nn/graph.hpp"
#include "models/model_input.hpp"

namespace kestrel::models {

std::unique_ptr<nn::Graph> resnet18(const ModelInput& in);
std::unique_ptr<nn::Graph> resnet20(const ModelInput& in);

}  // namespace kestrel::models
