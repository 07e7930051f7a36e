#pragma once
// GradientReducer: sums a data-parallel step's gradients over the ranks while backward is still
// running (PyTorch DDP's buckets, on kestrel's flat gradient buffer).
//
// The flat buffer is cut into buckets of whole layers. Backward finishes the layers last to
// first, so the buckets are formed from the last layer down: a bucket closes once it holds at
// least bucket_bytes of gradients, and its all-reduce starts as soon as backward has finished
// its lowest layer (the graph's per-layer hook), while the layers below are still being
// differentiated. finish() waits for all of them (on a GPU: the compute stream waits, the host
// does not). Every rank cuts the same buckets and starts them in the same order, as collectives
// require.
//
// The ranks' gradients are summed, not averaged: each rank's loss gradient is already divided
// by the rows of the whole global batch (CrossEntropySpec::gradient_divisor), so the sum is the
// mean over the combined batch whatever each rank's share of it, short last batches included.
#include <cstdint>
#include <vector>

#include "engine/dist/communicator.hpp"
#include "engine/nn/graph.hpp"

namespace kestrel::train {

struct GradientBucket {
  int64_t begin = 0, end = 0;  // elements [begin, end) of the flat gradient buffer
  int first_layer = 0;         // its lowest layer: once backward has done it, the bucket is ready
  int last_layer = 0;          // its highest layer
};

// The buckets for a parameter layout, in the order they become ready (highest layers first).
// They tile [0, flat_numel) exactly: a bucket runs from its lowest layer's first parameter to
// the next bucket's first element, padding included. bucket_elements >= 1.
std::vector<GradientBucket> plan_gradient_buckets(const std::vector<nn::ParamInfo>& params,
                                                  int64_t flat_numel, int64_t bucket_elements);

class GradientReducer {
 public:
  // For a built graph; bucket_bytes > 0 (kestrel train --dist-bucket-mb).
  GradientReducer(dist::Communicator& comm, nn::Graph& graph, int64_t bucket_bytes);
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  // For graph.backward: starts the buckets that layer `layer` completed.
  const nn::Graph::BackwardHook& hook() const { return hook_; }
  // A rank with no rows in this step (the end of an epoch) contributes zeros to every bucket.
  void start_without_rows();
  // Completes every bucket's sum; throws kestrel::Error if backward did not start them all.
  void finish();

  dist::Communicator& communicator() { return comm_; }
  const std::vector<GradientBucket>& buckets() const { return buckets_; }

 private:
  void after_layer(int layer);

  dist::Communicator& comm_;
  Tensor grads_;
  std::vector<GradientBucket> buckets_;
  size_t next_ = 0;  // the next bucket to start in this step
  nn::Graph::BackwardHook hook_;
};

}  // namespace kestrel::train
