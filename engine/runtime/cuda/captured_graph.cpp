#include "engine/runtime/cuda/captured_graph.hpp"

#include <cuda_runtime_api.h>

#include "kernels/cuda/check.hpp"

namespace kestrel::cuda {

CapturedGraph::CapturedGraph(cudaStream_t stream, const std::function<void()>& queue) {
  // Relaxed: the pool may still reserve memory (cudaMalloc) while the step is captured.
  KESTREL_CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeRelaxed));
  try {
    queue();
  } catch (...) {
    cudaGraph_t partial = nullptr;
    cudaStreamEndCapture(stream, &partial);
    if (partial != nullptr) cudaGraphDestroy(partial);
    (void)cudaGetLastError();  // the capture's error is not the next call's
    throw;
  }
  const cudaError_t ended = cudaStreamEndCapture(stream, &graph_);
  if (ended != cudaSuccess) {
    if (graph_ != nullptr) cudaGraphDestroy(graph_);
    graph_ = nullptr;
    (void)cudaGetLastError();
    KESTREL_CUDA_CHECK(ended);
  }
  const cudaError_t made = cudaGraphInstantiate(&exec_, graph_, 0);
  if (made != cudaSuccess) {
    cudaGraphDestroy(graph_);
    graph_ = nullptr;
    (void)cudaGetLastError();
    KESTREL_CUDA_CHECK(made);
  }
  const cudaError_t counted = cudaGraphGetNodes(graph_, nullptr, &nodes_);
  if (counted != cudaSuccess) {  // the destructor will not run: free what was made
    cudaGraphExecDestroy(exec_);
    cudaGraphDestroy(graph_);
    exec_ = nullptr;
    graph_ = nullptr;
    KESTREL_CUDA_CHECK(counted);
  }
}

CapturedGraph::~CapturedGraph() {
  if (exec_ != nullptr) cudaGraphExecDestroy(exec_);
  if (graph_ != nullptr) cudaGraphDestroy(graph_);
}

void CapturedGraph::launch(cudaStream_t stream) const {
  KESTREL_CUDA_CHECK(cudaGraphLaunch(exec_, stream));
}

}  // namespace kestrel::cuda
