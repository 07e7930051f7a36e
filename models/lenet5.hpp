#pragma once
// LeNet-5 in two flavours. Parameter names are those of the PyTorch modules with attributes
// conv1, conv2, fc1, fc2, fc3.
//
// lenet5 (the lab's): conv1 C->6 k5, ReLU, max-pool 2, conv2 6->16 k5, ReLU, max-pool 2,
//   flatten, fc1 ->120, ReLU, fc2 120->84, ReLU, fc3 84->classes. fc1's inputs follow from the
//   image size: 16*4*4 = 256 on 28x28 (44,426 parameters on MNIST), 16*5*5 = 400 on 32x32
//   (62,006 on CIFAR-10).
//
// lenet5-classic (LeCun et al. 1998 in spirit): the same stack with tanh and 2x2 average
//   pooling, on a 32x32 field: conv1 pads images smaller than 32 up to it (2 on MNIST's 28x28),
//   so fc1 (C5 of the paper) always sees 16*5*5 = 400 values on 28x28 and 32x32 inputs
//   (61,706 parameters on MNIST, 62,006 on CIFAR-10). Unlike the paper: plain tanh (not
//   1.7159 tanh(2x/3)), parameter-free pooling, full S2-C3 connections and a linear output
//   layer instead of RBF units.
#include <memory>

#include "engine/nn/graph.hpp"
#include "models/model_input.hpp"

namespace kestrel::models {

std::unique_ptr<nn::Graph> lenet5(const ModelInput& in);
std::unique_ptr<nn::Graph> lenet5_classic(const ModelInput& in);

}  // namespace kestrel::models
