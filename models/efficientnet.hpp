#pragma once
// EfficientNet-B0 (Tan & Le 2019): torchvision.models.efficientnet_b0, with its module paths
// as layer names, so that parameters and buffers carry its state_dict names. 5,288,548
// parameters for 3x224x224 and 1000 classes; 386 M multiply-adds per image.
//
//   features.0      Conv2dNormActivation(3 -> 32, 3x3, stride 2, SiLU)  (conv_norm_activation.hpp)
//   features.1..7   stages of MBConv blocks (expansion t, kernel k, stride s of the first block,
//                   output channels, blocks): (1,3,1,16,1) (6,3,2,24,2) (6,5,2,40,2)
//                   (6,3,2,80,3) (6,5,1,112,3) (6,5,2,192,4) (6,3,1,320,1). Block
//                   features.S.B.block is, numbering its units from 0:
//                     expand 1x1 Conv2dNormActivation (SiLU), absent when t = 1,
//                     depthwise k x k Conv2dNormActivation (groups = its channels, stride, SiLU),
//                     squeeze-and-excitation: avgpool (global), fc1 (1x1 conv with bias to
//                       max(1, block input channels / 4)), activation (SiLU), fc2 (1x1 conv
//                       with bias back), scale_activation (sigmoid), scale (the features times
//                       the excitation per channel, ScaleChannels),
//                     project 1x1 Conv2dNormActivation without activation;
//                   a block of stride 1 whose input and output widths agree adds its input
//                   after features.S.B.stochastic_depth (drop path, "row" mode) at probability
//                   0.2 * (block index) / 16 over the network's 16 blocks; features.S.B.add.
//   features.8      Conv2dNormActivation(320 -> 1280, 1x1, SiLU)
//   avgpool, flatten, classifier.0 Dropout(0.2), classifier.1 Linear(1280 -> classes)
// Starts as torchvision's: convolutions kaiming_normal_(mode="fan_out") with bias 0 (the
// squeeze-and-excitation ones have a bias), batch norm 1 and 0, the classifier's weight
// U(-r, r) with r = 1 / sqrt(classes) and bias 0, whatever the graph's scheme.
//
// Its CIFAR form, for images of at most 32x32: features.0 has stride 1 and so has the first
// block of the 24-channel stage (features.2.0), so the stages run at 32, 32, 16, 8, 8, 4 and 4
// pixels; names and parameters are unchanged (4,020,358 on CIFAR-10; 116 M multiply-adds). That is torchvision's
// model with features[0][0].stride and features[2][0].block[1][0].stride set to 1.
#include <memory>

#include "engine/nn/graph.hpp"
#include "models/model_input.hpp"

namespace kestrel::models {

std::unique_ptr<nn::Graph> efficientnet_b0(const ModelInput& in);

}  // namespace kestrel::models
