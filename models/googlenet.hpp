#pragma once
// GoogLeNet (Szegedy et al. 2015, Inception v1) as torchvision 0.14 builds it, with the PyTorch
// module paths as layer names, so that parameters and buffers carry the state_dict names of
// torchvision.models.googlenet(weights=None, aux_logits=False, init_weights=True):
//
//   BasicConv2d P: P.conv (no bias), P.bn (BatchNorm2d with eps 0.001), P.relu. torchvision
//   applies the ReLU functionally (F.relu); P.relu is kestrel's name for it (no parameters).
//   Inception I(in, c1, r3, c3, r5, c5, pp): four branches concatenated along channels, I.cat
//   (torch.cat, no parameters), c1 + c3 + c5 + pp channels:
//     I.branch1    BasicConv2d 1x1 -> c1
//     I.branch2.0  BasicConv2d 1x1 -> r3, I.branch2.1 BasicConv2d 3x3 (padding 1) -> c3
//     I.branch3.0  BasicConv2d 1x1 -> r5, I.branch3.1 BasicConv2d 3x3 (padding 1) -> c5: the
//                  paper's 5x5 is a 3x3 in torchvision (pytorch/vision#906, kept for the
//                  weights' sake); kestrel replicates it
//     I.branch4.0  MaxPool2d 3x3 (stride 1, padding 1, ceil_mode), I.branch4.1 BasicConv2d
//                  1x1 -> pp
//
// googlenet: 6,624,904 parameters for 3x224x224 and 1000 classes (and 171 batch norm buffers,
//   57 of each running_mean, running_var, num_batches_tracked):
//   conv1 (7x7, stride 2, padding 3, 64), maxpool1 (3x3, stride 2, ceil_mode) -> 56x56,
//   conv2 (1x1, 64), conv3 (3x3, padding 1, 192), maxpool2 (3x3, stride 2, ceil_mode) -> 28x28,
//   inception3a (192, 64, 96, 128, 16, 32, 32), inception3b (256, 128, 128, 192, 32, 96, 64),
//   maxpool3 (3x3, stride 2, ceil_mode) -> 14x14,
//   inception4a (480, 192, 96, 208, 16, 48, 64), inception4b (512, 160, 112, 224, 24, 64, 64),
//   inception4c (512, 128, 128, 256, 24, 64, 64), inception4d (512, 112, 144, 288, 32, 64, 64),
//   inception4e (528, 256, 160, 320, 32, 128, 128), maxpool4 (2x2, stride 2, ceil_mode) -> 7x7,
//   inception5a (832, 256, 160, 320, 32, 128, 128), inception5b (832, 384, 192, 384, 48, 128,
//   128) -> 1024 channels, avgpool (adaptive to 1x1), flatten, dropout (p 0.2), fc (1024 ->
//   classes). 1.50 G multiply-adds per image. No auxiliary classifiers (aux_logits=False: aux1
//   and aux2 are absent from the state_dict) and no transform_input.
//   Its CIFAR form, used for images of at most 32x32 (CIFAR-10, MNIST): conv1 is 3x3 with
//   stride 1 and padding 1 (64 channels) and there is neither maxpool1 nor maxpool2, so conv2,
//   conv3, inception3a and inception3b run at 32x32, maxpool3 takes them to 16x16 and maxpool4
//   to 8x8 (torchvision's googlenet with model.conv1 = BasicConv2d(3, 64, kernel_size=3,
//   padding=1) and model.maxpool1 = model.maxpool2 = nn.Identity()); names are unchanged.
//   5,602,474 parameters and 1.45 G multiply-adds per image on CIFAR-10.
//
// Starts as torchvision's, whatever the graph's scheme: batch norm weight 1, bias 0; every
// convolution and fc weight N(0, 0.01^2) (torchvision's trunc_normal_(std 0.01, a -2, b 2)
// cuts at 200 standard deviations: the same draw); fc's bias nn.Linear's default,
// U(-1/sqrt(1024), 1/sqrt(1024)).
#include <memory>

#include "engine/nn/graph.hpp"
#include "models/model_input.hpp"

namespace kestrel::models {

std::unique_ptr<nn::Graph> googlenet(const ModelInput& in);

}  // namespace kestrel::models
