#pragma once
// The image shapes and class counts of the data sets kestrel knows, as model inputs, and the
// data set each model trains on by default.
#include <string>
#include <string_view>
#include <vector>

#include "models/model_input.hpp"

namespace kestrel::models {

// mnist, fashion-mnist: 1x28x28, 10 classes; cifar10: 3x32x32, 10; imagenet: 3x224x224, 1000.
// Throws kestrel::Error listing the known names.
ModelInput dataset_input(std::string_view dataset);
std::vector<std::string> dataset_names();

// lenet5, lenet5-classic: mnist; alexnet-imagenet: imagenet; every other model (alexnet, the
// ResNets, GoogLeNet, DenseNet, MobileNetV2, EfficientNet, ViT, airbench94): cifar10. Throws kestrel::Error for an unknown model.
std::string_view default_dataset(std::string_view model);

}  // namespace kestrel::models
