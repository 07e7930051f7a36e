#pragma once
// Which of a model's parameters `train --optimizer muon` hands to Muon (optim::Muon): the
// trainable weights with at least two dimensions (convolution filters, linear and attention
// projections: names ending in "weight"), each viewed [first dimension, the rest], except the
// last of them, the classifier, which stays on SGD with everything else (biases, normalisation
// parameters, class tokens and position embeddings), as the Muon reference code advises.
#include <vector>

#include "engine/nn/graph.hpp"
#include "engine/optim/muon.hpp"

namespace kestrel::train {

// Throws kestrel::Error when the model has no such matrix besides its classifier.
std::vector<optim::MuonMatrix> muon_matrices(const nn::Graph& graph);

}  // namespace kestrel::train
