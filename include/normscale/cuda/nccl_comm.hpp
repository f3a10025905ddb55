// NcclComm: the DeviceCommunicator over NCCL. One NCCL communicator per object, created collectively
// over a host Communicator that carries the NCCL unique id (MPI_Bcast for an MpiComm) and says which rank
// is which on its node, destroyed with it; movable, not copyable. Reduces go on the caller's stream;
// begin_group/end_group are ncclGroupStart/ncclGroupEnd. Built only with the CUDA backend; code outside
// the backend gets one from make_device_communicator (communicator_factory.hpp).
#pragma once

#include "normscale/comm/communicator.hpp"
#include "normscale/comm/device_communicator.hpp"

#include <cstddef>
#include <string>

struct CUstream_st;
struct ncclComm;

namespace normscale {

class NcclComm final : public DeviceCommunicator {
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
  std::string backend() const override { return "nccl"; }

  void allreduce_sum_async(float* device_values, std::size_t count, CUstream_st* stream) override;
  void allreduce_sum_async(double* device_values, std::size_t count, CUstream_st* stream) override;

  void begin_group() override;
  void end_group() override;

 private:
  template <class T>
  void enqueue_sum(T* device_values, std::size_t count, CUstream_st* stream);
  void release() noexcept;
  ncclComm* usable(const char* operation) const;

  ncclComm* comm_ = nullptr;
  int rank_ = 0;
  int size_ = 1;
  int local_rank_ = 0;
  int open_groups_ = 0;  // begin_group() calls not yet ended
};

}  // namespace normscale
