#pragma once
// MobileNetV2 (Sandler et al. 2018): torchvision.models.mobilenet_v2 (width 1.0), with its
// module paths as layer names, so that parameters and buffers carry its state_dict names.
// 3,504,872 parameters for 3x224x224 and 1000 classes; 301 M multiply-adds per image.
//
//   features.0       Conv2dNormActivation(3 -> 32, 3x3, stride 2, ReLU6)  (conv_norm_activation.hpp)
//   features.1..17   inverted residual blocks, stages (t expansion, c channels, n blocks,
//                    s stride of the first): (1,16,1,1) (6,24,2,2) (6,32,3,2) (6,64,4,2)
//                    (6,96,3,1) (6,160,3,2) (6,320,1,1). A block with t > 1 is
//                      conv.0 expand 1x1 (Conv2dNormActivation, ReLU6),
//                      conv.1 depthwise 3x3 (groups = hidden channels, stride s, ReLU6),
//                      conv.2 project 1x1 conv without bias, conv.3 its BatchNorm2d;
//                    with t = 1 there is no expansion: conv.0 depthwise, conv.1 project,
//                    conv.2 batch norm. A block of stride 1 whose input and output widths
//                    agree adds its input (features.N.add, no parameters).
//   features.18      Conv2dNormActivation(320 -> 1280, 1x1, ReLU6)
//   avgpool, flatten (torchvision's functional adaptive_avg_pool2d and flatten)
//   classifier.0     Dropout(0.2), classifier.1 Linear(1280 -> classes)
// Starts as torchvision's: convolutions kaiming_normal_(mode="fan_out"), batch norm 1 and 0,
// the classifier's weight N(0, 0.01^2) and bias 0, whatever the graph's scheme.
//
// Its CIFAR form, for images of at most 32x32: features.0 has stride 1 and so has the first
// block of the 24-channel stage (features.2), so that the stages run at 32, 32, 16, 8, 8, 4 and 4
// pixels instead of dividing a 32x32 image down to 1x1; names and parameters are unchanged
// (2,236,682 on CIFAR-10, a 10-class classifier; 88 M multiply-adds). That is torchvision's model with
// features[0][0].stride and features[2].conv[1][0].stride set to 1.
#include <memory>

#include "engine/nn/graph.hpp"
#include "models/model_input.hpp"

namespace kestrel::models {

std::unique_ptr<nn::Graph> mobilenet_v2(const ModelInput& in);

}  // namespace kestrel::models
