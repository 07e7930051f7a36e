#pragma once
// A CUDA event: ordering between streams (the communication stream waits for the gradients
// the compute stream produced) and GPU-side timing for benchmarks.
#include <driver_types.h>

namespace kestrel::cuda {

class Event {
 public:
  // Timing events record timestamps; ordering-only events are cheaper.
  explicit Event(bool timing = false);
  ~Event();
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  void record(cudaStream_t stream);
  // Makes `stream` wait (on the GPU, not the host) until this event has completed.
  void wait_on(cudaStream_t stream) const;
  void synchronize() const;
  bool done() const;
  // Milliseconds from `start` to this event; both must be timing events and recorded.
  float elapsed_ms_since(const Event& start) const;

  cudaEvent_t get() const { return event_; }

 private:
  cudaEvent_t event_ = nullptr;
};

}  // namespace kestrel::cuda
