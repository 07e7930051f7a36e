#include "models/alexnet.hpp"

#include "engine/nn/activation.hpp"
#include "engine/nn/conv2d.hpp"
#include "engine/nn/dropout.hpp"
#include "engine/nn/flatten.hpp"
#include "engine/nn/linear.hpp"
#include "engine/nn/lrn.hpp"
#include "engine/nn/pooling.hpp"

namespace kestrel::models {

namespace {

const nn::PoolOptions kOverlappingPool{.stride = 2};  // MaxPool2d(kernel_size=3, stride=2)

// avgpool, flatten and the classifier, shared by both variants.
void add_classifier(nn::Graph& g, int64_t classes) {
  g.add<nn::AdaptiveAvgPool2d>("avgpool", 6, 6);
  g.add<nn::Flatten>("flatten");
  g.add<nn::Dropout>("classifier.0");
  g.add<nn::Linear>("classifier.1", 256 * 6 * 6, 4096);
  g.add<nn::ReLU>("classifier.2");
  g.add<nn::Dropout>("classifier.3");
  g.add<nn::Linear>("classifier.4", 4096, 4096);
  g.add<nn::ReLU>("classifier.5");
  g.add<nn::Linear>("classifier.6", 4096, classes);
}

}  // namespace

std::unique_ptr<nn::Graph> alexnet_cifar(const ModelInput& in) {
  auto g = std::make_unique<nn::Graph>();
  g->add<nn::Conv2d>("features.0", in.channels, 64, 3, nn::Conv2dOptions{.padding = 1});
  g->add<nn::ReLU>("features.1");
  g->add<nn::MaxPool2d>("features.2", 3, kOverlappingPool);
  g->add<nn::Conv2d>("features.3", 64, 192, 5, nn::Conv2dOptions{.padding = 2});
  g->add<nn::ReLU>("features.4");
  g->add<nn::MaxPool2d>("features.5", 3, kOverlappingPool);
  g->add<nn::Conv2d>("features.6", 192, 384, 3, nn::Conv2dOptions{.padding = 1});
  g->add<nn::ReLU>("features.7");
  g->add<nn::Conv2d>("features.8", 384, 256, 3, nn::Conv2dOptions{.padding = 1});
  g->add<nn::ReLU>("features.9");
  g->add<nn::Conv2d>("features.10", 256, 256, 3, nn::Conv2dOptions{.padding = 1});
  g->add<nn::ReLU>("features.11");
  g->add<nn::MaxPool2d>("features.12", 3, kOverlappingPool);
  add_classifier(*g, in.classes);
  return g;
}

std::unique_ptr<nn::Graph> alexnet_imagenet(const ModelInput& in) {
  // Krizhevsky et al.'s LRN: k = 2, n = 5, alpha = 1e-4, beta = 0.75.
  constexpr int kLrnSize = 5;
  constexpr float kLrnAlpha = 1e-4f, kLrnBeta = 0.75f, kLrnK = 2.0f;
  auto g = std::make_unique<nn::Graph>();
  g->add<nn::Conv2d>("features.0", in.channels, 96, 11,
                     nn::Conv2dOptions{.stride = 4, .padding = 2});
  g->add<nn::ReLU>("features.1");
  g->add<nn::LocalResponseNorm>("features.2", kLrnSize, kLrnAlpha, kLrnBeta, kLrnK);
  g->add<nn::MaxPool2d>("features.3", 3, kOverlappingPool);
  g->add<nn::Conv2d>("features.4", 96, 256, 5, nn::Conv2dOptions{.padding = 2});
  g->add<nn::ReLU>("features.5");
  g->add<nn::LocalResponseNorm>("features.6", kLrnSize, kLrnAlpha, kLrnBeta, kLrnK);
  g->add<nn::MaxPool2d>("features.7", 3, kOverlappingPool);
  g->add<nn::Conv2d>("features.8", 256, 384, 3, nn::Conv2dOptions{.padding = 1});
  g->add<nn::ReLU>("features.9");
  g->add<nn::Conv2d>("features.10", 384, 384, 3, nn::Conv2dOptions{.padding = 1});
  g->add<nn::ReLU>("features.11");
  g->add<nn::Conv2d>("features.12", 384, 256, 3, nn::Conv2dOptions{.padding = 1});
  g->add<nn::ReLU>("features.13");
  g->add<nn::MaxPool2d>("features.14", 3, kOverlappingPool);
  add_classifier(*g, in.classes);
  return g;
}

}  // namespace kestrel::models
