#pragma once
// airbench94 (Keller Jordan 2024, "94% on CIFAR-10 in 3.29 seconds on a single GPU", after
// tysam-code's hlb-CIFAR10): the small all-convolutional network behind the CIFAR-10 speed
// records, with the module names of airbench94.py's layers under readable paths:
//
//   whiten         Conv2d(C, 2*C*2*2 = 24, 2x2, no padding, bias): patch whitening of the
//                  input (ParamInit::PatchWhitening; the trainer fills it from the training
//                  images), weight frozen; its bias trains (the recipe stops it after 3 epochs)
//   whiten_gelu    GELU
//   blockB (B = 1, 2, 3, widths 64, 256, 256): conv1 (3x3, padding 1, no bias), pool (max 2x2),
//                  norm1 (batch norm), act1 (GELU), conv2 (3x3, padding 1, no bias), norm2, act2
//   pool           MaxPool2d(3): 3x3 -> 1x1 on 32x32 images
//   flatten, head  Linear(256, classes, no bias)
//   scale          Mul(1/9): the logits scaled down, a fixed temperature
//
// Batch norm as airbench's: eps 1e-12, running statistics with PyTorch momentum 0.4 (its
// BatchNorm(momentum=0.6) is torch's 1 - 0.6), weight frozen at 1, bias trained. Convolutions
// start from PyTorch's default draw, then dirac_ on their first min(out, in) filters
// (ParamInit::PartialDirac): conv2 of each block starts as the identity. 1,972,792
// parameters for CIFAR-10, 1,440 of them frozen (whiten.weight 288, the six norm weights
// 1,152); 0.118 G multiply-adds per 32x32 image.
//
// Any C x H x W input from 9x9 up works (the final pooling window shrinks to fit H/8); the
// recipe (engine/train/train_config.cpp) is airbench94's.
#include <memory>

#include "engine/nn/graph.hpp"
#include "models/model_input.hpp"

namespace kestrel::models {

std::unique_ptr<nn::Graph> airbench94(const ModelInput& in);

}  // namespace kestrel::models
