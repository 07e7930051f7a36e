#pragma once
// AlexNet in two variants, laid out as PyTorch modules with `features`, `avgpool` and
// `classifier` (torchvision's AlexNet), so parameters are named features.0.weight, ...,
// classifier.6.bias. Dropout is torch's default p = 0.5.
//
// alexnet (the lab's CIFAR-10 variant):
//   features = [0] Conv2d(C, 64, 3, stride 1, padding 1), [1] ReLU, [2] MaxPool2d(3, 2),
//              [3] Conv2d(64, 192, 5, padding 2), [4] ReLU, [5] MaxPool2d(3, 2),
//              [6] Conv2d(192, 384, 3, padding 1), [7] ReLU, [8] Conv2d(384, 256, 3, padding 1),
//              [9] ReLU, [10] Conv2d(256, 256, 3, padding 1), [11] ReLU, [12] MaxPool2d(3, 2)
//   avgpool  = AdaptiveAvgPool2d(6, 6), then flatten
//   classifier = [0] Dropout, [1] Linear(9216, 4096), [2] ReLU, [3] Dropout,
//                [4] Linear(4096, 4096), [5] ReLU, [6] Linear(4096, classes)
//   57,023,306 parameters on CIFAR-10 (32 -> 15 -> 7 -> 3, pooled up to 6x6); on MNIST
//   (1x28x28: 28 -> 13 -> 6 -> 2) 57,022,154.
//
// alexnet-imagenet (Krizhevsky, Sutskever & Hinton 2012 on 3x224x224): one tower with the
//   paper's channel counts (the two-GPU split and its grouped convolutions merged, as in
//   torchvision) and the paper's local response normalisation:
//   features = [0] Conv2d(3, 96, 11, stride 4, padding 2), [1] ReLU,
//              [2] LocalResponseNorm(5, alpha 1e-4, beta 0.75, k 2), [3] MaxPool2d(3, 2),
//              [4] Conv2d(96, 256, 5, padding 2), [5] ReLU, [6] LocalResponseNorm(5, ...),
//              [7] MaxPool2d(3, 2), [8] Conv2d(256, 384, 3, padding 1), [9] ReLU,
//              [10] Conv2d(384, 384, 3, padding 1), [11] ReLU,
//              [12] Conv2d(384, 256, 3, padding 1), [13] ReLU, [14] MaxPool2d(3, 2)
//   avgpool  = AdaptiveAvgPool2d(6, 6) (the identity on 224x224: 55 -> 27 -> 13 -> 6)
//   classifier as above with Linear(4096, classes) last.
//   62,378,344 parameters for 1000 classes (torchvision's AlexNet, with 64/192 channels in
//   the first layers and no LRN, has 61,100,840).
#include <memory>

#include "engine/nn/graph.hpp"
#include "models/model_input.hpp"

namespace kestrel::models {

std::unique_ptr<nn::Graph> alexnet_cifar(const ModelInput& in);
std::unique_ptr<nn::Graph> alexnet_imagenet(const ModelInput& in);

}  // namespace kestrel::models
