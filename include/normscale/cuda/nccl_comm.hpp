// NcclComm: the Communicator over NCCL on device buffers (every span passed to it points to GPU
// memory). One NCCL communicator per object, created collectively from a bootstrap Communicator that
// carries the NCCL unique id (MPI_Bcast for an MpiComm), destroyed with it; movable, not copyable.
// Besides the blocking collectives of the interface it offers an asynchronous float allreduce on a
// caller's stream, for reducing gradient buckets while the backward pass goes on.
#pragma once

#include "normscale/comm/communicator.hpp"

#include <cstddef>
#include <span>
#include <string>

struct CUstream_st;
struct ncclComm;

namespace normscale {

class NcclComm final : public Communicator {
 public:
  // Collective over `bootstrap`: every rank must construct its NcclComm at the same point, with its
  // own device current (select_cuda_device).
  explicit NcclComm(Communicator& bootstrap);
  ~NcclComm() override;
  NcclComm(NcclComm&& other) noexcept;
  NcclComm& operator=(NcclComm&& other) noexcept;
  NcclComm(const NcclComm&) = delete;
  NcclComm& operator=(const NcclComm&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_rank() const override { return local_rank_; }
  int local_size() const override { return local_size_; }
  std::string backend() const override { return "nccl"; }

  // Blocking (they return when the result is in device memory); spans are device memory.
  void allreduce_sum(std::span<float> device_values) override;
  void allreduce_sum(std::span<double> device_values) override;
  void allreduce_max(std::span<double> device_values) override;
  void broadcast(std::span<std::byte> device_bytes, int root) override;
  void barrier() override;

  // Enqueues an in-place sum of `count` floats at `device_values` on `stream` and returns at once.
  void allreduce_sum_async(float* device_values, std::size_t count, CUstream_st* stream);
  // The same for doubles (batch norm's statistics under sync-bn).
  void allreduce_sum_async(double* device_values, std::size_t count, CUstream_st* stream);

 private:
  void release() noexcept;
  ncclComm* usable(const char* operation) const;

  ncclComm* comm_ = nullptr;
  CUstream_st* stream_ = nullptr;  // for the blocking collectives
  int rank_ = 0;
  int size_ = 1;
  int local_rank_ = 0;
  int local_size_ = 1;
};

}  // namespace normscale
