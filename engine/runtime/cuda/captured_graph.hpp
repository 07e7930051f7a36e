#pragma once
// CapturedGraph: the work some code queues on a stream, recorded once by stream capture
// (cudaStreamBeginCapture ... cudaStreamEndCapture), instantiated, and then replayed with one
// cudaGraphLaunch: the GPU runs the same kernels with the same arguments, without the host's
// per-launch cost. The code must queue no host synchronisation (a capture fails on one) and
// every argument that changes between replays must live in device memory.
#include <driver_types.h>

#include <cstddef>
#include <functional>

namespace kestrel::cuda {

class CapturedGraph {
 public:
  // Runs `queue` with `stream` in (relaxed) capture mode and instantiates what it queued;
  // nothing runs on the GPU yet. Throws kestrel::Error naming CUDA's error when the capture or
  // the instantiation fails (the stream is out of capture mode again), and rethrows what
  // `queue` throws, after ending the capture.
  CapturedGraph(cudaStream_t stream, const std::function<void()>& queue);
  ~CapturedGraph();
  CapturedGraph(const CapturedGraph&) = delete;
  CapturedGraph& operator=(const CapturedGraph&) = delete;

  // Queues one replay on `stream`.
  void launch(cudaStream_t stream) const;
  // Kernels, copies and other nodes in the graph.
  size_t nodes() const { return nodes_; }

 private:
  cudaGraph_t graph_ = nullptr;
  cudaGraphExec_t exec_ = nullptr;
  size_t nodes_ = 0;
};

}  // namespace kestrel::cuda
