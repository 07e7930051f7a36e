#pragma once
// The models kestrel trains, by name:
//   lenet5            the lab's LeNet-5 (ReLU, max pooling), 44,426 parameters on MNIST
//   lenet5-classic    LeCun et al. 1998 in spirit (tanh, average pooling, 32x32 field)
//   alexnet           the lab's AlexNet for CIFAR-10, 57,023,306 parameters there
//   alexnet-imagenet  Krizhevsky et al. 2012 on 224x224 images, single tower with LRN,
//                     62,378,344 parameters for 1000 classes
//   resnet18          torchvision's ResNet-18, 11,689,512 parameters on 224x224 and 1000
//                     classes; a CIFAR form (3x3 stem, no max pool) for images up to 32x32
//   resnet20          He et al. 2016's CIFAR-10 ResNet-20, 269,722 parameters there
//   googlenet         torchvision's GoogLeNet without auxiliary classifiers, 6,624,904
//                     parameters on 224x224 and 1000 classes; a CIFAR form (3x3 stem, no
//                     maxpool1/maxpool2) for images up to 32x32
//   densenet121       torchvision's DenseNet-121, 7,978,856 parameters on 224x224 and 1000
//                     classes; a CIFAR form (3x3 stem, no pool0) for images up to 32x32
//   mobilenet_v2      torchvision's MobileNetV2, 3,504,872 parameters on 224x224 and 1000
//                     classes; a CIFAR form (stride 1 in the stem and the 24-channel stage)
//   efficientnet_b0   torchvision's EfficientNet-B0, 5,288,548 parameters on 224x224 and 1000
//                     classes; a CIFAR form as MobileNetV2's
//   vit               torchvision's vit_b_16, 86,567,656 parameters on 224x224 and 1000
//                     classes; a small ViT (patch 4, 6 blocks, width 192) for images up to
//                     32x32, 1,806,538 parameters on CIFAR-10
//   airbench94        the CIFAR-10 speed-record network of Keller Jordan's airbench94:
//                     frozen patch-whitening first layer, three conv groups with batch norm
//                     and GELU, 1,972,778 parameters on CIFAR-10
// See lenet5.hpp, alexnet.hpp, resnet.hpp, googlenet.hpp, densenet.hpp, mobilenet_v2.hpp,
// efficientnet.hpp, vit.hpp and airbench.hpp for the exact layers.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/nn/graph.hpp"
#include "models/model_input.hpp"

namespace kestrel::models {

// The graph of model `name` for `in`, planned for batch 1 (so shapes are checked and
// summary() works) but not yet built: call build(ctx, batch) on it. Throws kestrel::Error for
// an unknown name (listing the known ones) or an input the model cannot take.
std::unique_ptr<nn::Graph> build_model(std::string_view name, const ModelInput& in);

std::vector<std::string> model_names();

}  // namespace kestrel::models
