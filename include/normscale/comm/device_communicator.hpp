// The device surface through which GPU ranks sum buffers that live in GPU memory: every pointer it takes
// is device memory of the rank's current GPU, and every reduce is enqueued on the caller's stream and
// returns at once, so gradient buckets are summed while the backward pass goes on. Host memory (per-step
// scalars, agreement checks, the bootstrap) goes over the host Communicator; communicator_factory.hpp
// chooses both. Host-only header: the stream type is forward-declared, no CUDA header is needed.
#pragma once

#include <cstddef>
#include <string>

struct CUstream_st;  // cudaStream_t

namespace normscale {

class DeviceCommunicator {
 public:
  virtual ~DeviceCommunicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // This rank's index among the ranks on its node (its GPU is local_rank mod the node's devices).
  virtual int local_rank() const = 0;
  virtual std::string backend() const = 0;

  // Enqueues an in-place elementwise sum over all ranks of `count` values at `device_values` on
  // `stream` and returns; the sum is there once `stream` reaches it. Every rank must enqueue the same
  // reduces (type and count) in the same order. Throws when `device_values` is not device memory.
  virtual void allreduce_sum_async(float* device_values, std::size_t count, CUstream_st* stream) = 0;
  // The same for doubles (batch norm's statistics under sync-bn).
  virtual void allreduce_sum_async(double* device_values, std::size_t count, CUstream_st* stream) = 0;

  // The reduces enqueued between begin_group() and the matching end_group() go as one grouped launch
  // (several buckets, one launch). Groups nest; only the outermost end_group() launches.
  virtual void begin_group() = 0;
  virtual void end_group() = 0;

  bool is_root() const { return rank() == 0; }
};

}  // namespace normscale
