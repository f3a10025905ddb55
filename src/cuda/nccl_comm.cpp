// NcclComm: NCCL collectives on device memory; the unique id travels over the bootstrap communicator.
#include "normscale/cuda/nccl_comm.hpp"

#include "cuda/check.hpp"

#include <cstring>

namespace normscale {

NcclComm::NcclComm(Communicator& bootstrap)
    : rank_(bootstrap.rank()), size_(bootstrap.size()), local_rank_(bootstrap.local_rank()),
      local_size_(bootstrap.local_size()) {
  ncclUniqueId id;
  std::memset(&id, 0, sizeof(id));
  if (bootstrap.is_root()) NS_NCCL_CHECK(ncclGetUniqueId(&id));
  bootstrap.broadcast(std::span<std::byte>(reinterpret_cast<std::byte*>(&id), sizeof(id)), 0);
  NS_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  ncclComm_t comm = nullptr;
  NS_NCCL_CHECK(ncclCommInitRank(&comm, size_, id, rank_));
  comm_ = comm;
}

NcclComm::~NcclComm() { release(); }

void NcclComm::release() noexcept {
  if (comm_ != nullptr) {
    ncclCommFinalize(comm_);
    ncclCommDestroy(comm_);
    comm_ = nullptr;
  }
  if (stream_ != nullptr) {
    cudaStreamDestroy(stream_);
    stream_ = nullptr;
  }
}

NcclComm::NcclComm(NcclComm&& other) noexcept
    : comm_(other.comm_), stream_(other.stream_), rank_(other.rank_), size_(other.size_),
      local_rank_(other.local_rank_), local_size_(other.local_size_) {
  other.comm_ = nullptr;
  other.stream_ = nullptr;
}

NcclComm& NcclComm::operator=(NcclComm&& other) noexcept {
  if (this != &other) {
    release();
    comm_ = other.comm_;
    stream_ = other.stream_;
    rank_ = other.rank_;
    size_ = other.size_;
    local_rank_ = other.local_rank_;
    local_size_ = other.local_size_;
    other.comm_ = nullptr;
    other.stream_ = nullptr;
  }
  return *this;
}

ncclComm* NcclComm::usable(const char* operation) const {
  NS_CHECK(comm_ != nullptr, "NcclComm::{} on a moved-from communicator", operation);
  return comm_;
}

void NcclComm::allreduce_sum(std::span<float> device_values) {
  if (device_values.empty()) return;
  NS_NCCL_CHECK(ncclAllReduce(device_values.data(), device_values.data(), device_values.size(), ncclFloat, ncclSum,
                              usable("allreduce_sum"), stream_));
  NS_CUDA_CHECK(cudaStreamSynchronize(stream_));
}

void NcclComm::allreduce_sum(std::span<double> device_values) {
  if (device_values.empty()) return;
  NS_NCCL_CHECK(ncclAllReduce(device_values.data(), device_values.data(), device_values.size(), ncclDouble,
                              ncclSum, usable("allreduce_sum"), stream_));
  NS_CUDA_CHECK(cudaStreamSynchronize(stream_));
}

void NcclComm::allreduce_max(std::span<double> device_values) {
  if (device_values.empty()) return;
  NS_NCCL_CHECK(ncclAllReduce(device_values.data(), device_values.data(), device_values.size(), ncclDouble,
                              ncclMax, usable("allreduce_max"), stream_));
  NS_CUDA_CHECK(cudaStreamSynchronize(stream_));
}

void NcclComm::broadcast(std::span<std::byte> device_bytes, int root) {
  if (device_bytes.empty()) return;
  NS_CHECK(root >= 0 && root < size_, "NcclComm::broadcast: root {} is not a rank of {}", root, size_);
  NS_NCCL_CHECK(ncclBroadcast(device_bytes.data(), device_bytes.data(), device_bytes.size(), ncclUint8, root,
                              usable("broadcast"), stream_));
  NS_CUDA_CHECK(cudaStreamSynchronize(stream_));
}

void NcclComm::barrier() {
  // A one-element allreduce: returns on every rank only once all have joined.
  float* token = nullptr;
  NS_CUDA_CHECK(cudaMallocAsync(reinterpret_cast<void**>(&token), sizeof(float), stream_));
  NS_CUDA_CHECK(cudaMemsetAsync(token, 0, sizeof(float), stream_));
  NS_NCCL_CHECK(ncclAllReduce(token, token, 1, ncclFloat, ncclSum, usable("barrier"), stream_));
  NS_CUDA_CHECK(cudaFreeAsync(token, stream_));
  NS_CUDA_CHECK(cudaStreamSynchronize(stream_));
}

void NcclComm::allreduce_sum_async(float* device_values, std::size_t count, CUstream_st* stream) {
  if (count == 0) return;
  NS_NCCL_CHECK(ncclAllReduce(device_values, device_values, count, ncclFloat, ncclSum, usable("allreduce_sum_async"),
                              stream));
}

void NcclComm::allreduce_sum_async(double* device_values, std::size_t count, CUstream_st* stream) {
  if (count == 0) return;
  NS_NCCL_CHECK(ncclAllReduce(device_values, device_values, count, ncclDouble, ncclSum,
                              usable("allreduce_sum_async"), stream));
}

}  // namespace normscale
